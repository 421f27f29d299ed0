/**
 * Cluster benchmarks (issue 14): ping-pong through jim-server nodes on NATS and PostgreSQL,
 * with both users of each pair on one node, then with the two users on different nodes, and,
 * as the baseline, one standalone node (no --cluster) on the same PostgreSQL. The whole
 * cluster (nodes, nats-server, PostgreSQL) is pinned to core 0 and the C load generator to
 * core 1 (taskset); CPU time comes from /proc (schedstat, every thread) summed over every
 * process: each node, nats-server and, reported apart, PostgreSQL's postmaster and backends.
 *
 * Capacity is cores / cluster CPU per message (nodes + nats-server), projected to 8 and 16
 * cores and set beside InspIRCd's 11.3 µs per message on one core (the core issue's run).
 *
 * Not part of `deno task test`; run it by hand:
 *
 *     deno run --allow-all tasks/bench_cluster.ts [--pairs 20] [--seconds 5] [--warmup 1]
 *         [--rounds 1] [--generator c|deno] [--profile] [--json FILE]
 */
import { parseArgs } from "node:util";
import { legacyStoredHash } from "../protocol/mod.ts";
import { deriveCredentials } from "../server/accounts.ts";
import { openStorage } from "../server/storage/open_storage.ts";
import { startNats, startPostgres } from "../tests/_services.ts";
import { findGenerator, GeneratorRun } from "./bench/generator.ts";
import { detectPinning } from "./bench/pinning.ts";
import { loadAverage } from "./bench/proc.ts";
import { formatProfileTable, readNewestProfile, summarizeProfile } from "./bench/profile.ts";
import { cpuNs, treeNs } from "./bench/sched.ts";
import { runtimeFlags, startTarget, type Target } from "./bench/target.ts";
import { ROOT } from "./_programs.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "20" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    rounds: { type: "string", default: "1" },
    generator: { type: "string" },
    profile: { type: "boolean", default: false },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const USAGE = "Usage: deno run --allow-all tasks/bench_cluster.ts [--pairs 20] [--seconds 5]\n" +
  "         [--warmup 1] [--rounds 1] [--generator c|deno] [--profile] [--json FILE]";
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function count(name: "pairs" | "seconds" | "warmup" | "rounds", min: number): number {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min) {
    console.error(`bench_cluster: --${name} must be a number ≥ ${min}\n${USAGE}`);
    Deno.exit(2);
  }
  return value;
}
const PAIRS = Math.trunc(count("pairs", 1));
const SECONDS = count("seconds", 0.1);
const WARMUP = count("warmup", 0);
const ROUNDS = Math.trunc(count("rounds", 1));
if (flags.generator !== undefined && flags.generator !== "c" && flags.generator !== "deno") {
  console.error(`bench_cluster: --generator must be c or deno\n${USAGE}`);
  Deno.exit(2);
}
/** The core issue's InspIRCd run: CPU per routed message on one core. */
const INSPIRCD_US = 11.3;
const CORES = navigator.hardwareConcurrency;
const PASSWORD = "bench-password";

type Scenario = "standalone" | "one node" | "two nodes";
const SCENARIOS: readonly Scenario[] = ["standalone", "one node", "two nodes"];

interface Row {
  scenario: Scenario;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per received message, µs: the nodes (summed), nats-server, PostgreSQL. */
  nodesUs: number;
  natsUs: number;
  pgUs: number;
  generatorUs: number;
  errors: number;
}

const pinning = await detectPinning();
const clusterCpus = pinning.server.length > 0 ? pinning.server.at(-1) : undefined;
const generator = await findGenerator({
  prefer: flags.generator as "c" | "deno" | undefined,
  denoFlags: runtimeFlags(),
});
console.error(`bench_cluster: ${pinning.description} (the whole cluster on the server's core)`);
console.error(`bench_cluster: ${generator.description}`);
const loadBefore = loadAverage();

await using pg = await startPostgres({ cpus: clusterCpus });
await using nats = await startNats({ cpus: clusterCpus });
const postmaster = pg.pid!;
const dbUrl = `postgres://${pg.user}@${pg.host}:${pg.port}/${pg.database}`;
const logins = Array.from({ length: PAIRS * 2 }, (_, i) => `p${i}`);
{
  await using storage = await openStorage(pg.url);
  const credentials = await deriveCredentials(PASSWORD, { iterations: 4096, legacy: true });
  for (const login of logins) await storage.users.add(login, credentials);
}
const stored = await legacyStoredHash(PASSWORD);

const profileDir = flags.profile
  ? await Deno.makeTempDir({ prefix: "jim-bench-cluster-profile-" })
  : undefined;

async function startNodes(scenario: Scenario, profiled: boolean): Promise<Target[]> {
  const names = scenario === "standalone" ? ["a"] : ["a", "b"];
  return await Promise.all(names.map((name) =>
    startTarget({
      kind: "jim-server",
      dbPath: dbUrl,
      pinning,
      connectionLimit: PAIRS * 2 + 100,
      serveArgs: scenario === "standalone" ? [] : ["--cluster", nats.url, "--node-name", name],
      runtimeFlags: ["--unstable-net"],
      env: { PGPASSWORD: pg.password },
      ...(profiled && profileDir ? { profileDir: `${profileDir}/${scenario}/${name}` } : {}),
    })
  ));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(scenario: Scenario, profiled: boolean): Promise<Row> {
  const nodes = await startNodes(scenario, profiled);
  try {
    const [a, b] = nodes as [Target, Target | undefined];
    await using load = GeneratorRun.start(generator, pinning, {
      mode: "pingpong",
      port: a.port,
      ...(scenario === "two nodes" ? { port2: b!.port } : {}),
      prefix: "p",
      count: PAIRS * 2,
      stored,
    });
    await load.ready();
    await load.go();
    await sleep(WARMUP * 1000);
    const nodeCpu = () => nodes.reduce((sum, n) => sum + cpuNs(n.pid), 0);
    const before = {
      nodes: nodeCpu(),
      nats: cpuNs(nats.pid!),
      pg: treeNs(postmaster),
      generator: cpuNs(load.pid),
    };
    await load.mark();
    await sleep(SECONDS * 1000);
    const after = {
      nodes: nodeCpu(),
      nats: cpuNs(nats.pid!),
      pg: treeNs(postmaster),
      generator: cpuNs(load.pid),
    };
    const result = await load.stop();
    const per = (key: keyof typeof before) =>
      (after[key] - before[key]) / 1000 / Math.max(1, result.messages);
    return {
      scenario,
      rate: result.messages / result.seconds,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      nodesUs: per("nodes"),
      natsUs: per("nats"),
      pgUs: per("pg"),
      generatorUs: per("generator"),
      errors: result.errors,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

const measured = new Map<Scenario, Row[]>(SCENARIOS.map((s) => [s, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternating within each round: a change in the machine's load hits every scenario alike.
  for (const scenario of SCENARIOS) {
    const profiled = flags.profile === true && round === 0 && scenario !== "standalone";
    console.error(
      `bench_cluster: ping-pong, ${scenario}${ROUNDS > 1 ? `, round ${round + 1}` : ""}…`,
    );
    measured.get(scenario)!.push(await run(scenario, profiled));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const rows: Row[] = SCENARIOS.map((scenario) => {
  const all = measured.get(scenario)!;
  const pick = (key: keyof Omit<Row, "scenario">) => median(all.map((r) => r[key] as number));
  return {
    scenario,
    rate: pick("rate"),
    p50Ms: pick("p50Ms"),
    p99Ms: pick("p99Ms"),
    nodesUs: pick("nodesUs"),
    natsUs: pick("natsUs"),
    pgUs: pick("pgUs"),
    generatorUs: pick("generatorUs"),
    errors: pick("errors"),
  };
});
const loadAfter = loadAverage();

const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const clusterUs = (r: Row) => r.nodesUs + r.natsUs;
console.log(
  `Load average (1 min) ${loadBefore.toFixed(2)} at the start, ${
    loadAfter.toFixed(2)
  } at the end; ${PAIRS} pairs, 1 in flight each, ${SECONDS} s window, ${ROUNDS} round(s); ` +
    `${CORES} cores.`,
);
console.log(
  "| scenario | msg/s | p50 ms | p99 ms | nodes µs/msg | nats µs/msg | cluster µs/msg | " +
    "PostgreSQL µs/msg | capacity msg/s (cores / cluster µs) | 8 cores | 16 cores |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const perCore = 1e6 / clusterUs(r);
  console.log(
    `| ${r.scenario} | ${fmt(r.rate, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ` +
      `${fmt(r.nodesUs)} | ${fmt(r.natsUs)} | ${fmt(clusterUs(r))} | ${fmt(r.pgUs)} | ` +
      `${fmt(perCore * CORES, 0)} | ${fmt(perCore * 8, 0)} | ${fmt(perCore * 16, 0)} |` +
      (r.errors ? ` ${r.errors} errors` : ""),
  );
}
const one = rows.find((r) => r.scenario === "one node")!;
const two = rows.find((r) => r.scenario === "two nodes")!;
const standalone = rows.find((r) => r.scenario === "standalone")!;
const ratio = clusterUs(two) / clusterUs(one);
console.log(
  `\nCross-node / one-node cluster CPU per message: ${ratio.toFixed(2)}x ` +
    `(${fmt(clusterUs(two))} / ${fmt(clusterUs(one))} µs; target at most 2x: ${
      ratio <= 2 ? "met" : "NOT met"
    }).`,
);
console.log(
  `One-node cluster / standalone node: ${(clusterUs(one) / clusterUs(standalone)).toFixed(2)}x.`,
);
console.log(
  `InspIRCd, one core: ${INSPIRCD_US} µs per message, ${fmt(1e6 / INSPIRCD_US, 0)} msg/s; ` +
    `jim cross-node on 16 cores: ${fmt(16e6 / clusterUs(two), 0)} msg/s ` +
    `(${(16e6 / clusterUs(two) / (1e6 / INSPIRCD_US)).toFixed(2)}x InspIRCd's one core).`,
);
if (ROUNDS > 1) {
  const each = SCENARIOS.map((s) =>
    `${s}: ${measured.get(s)!.map((r) => fmt(clusterUs(r))).join(" ")}`
  );
  console.log(`Cluster µs/msg, each round: ${each.join("; ")}`);
}

const profiles = [];
if (profileDir) {
  for (const scenario of ["one node", "two nodes"] as const) {
    for (const name of ["a", "b"]) {
      const dir = `${profileDir}/${scenario}/${name}`;
      try {
        const summary = summarizeProfile(await readNewestProfile(dir), { limit: 15, root: ROOT });
        profiles.push({ scenario, node: name, dir, ...summary });
        console.log(
          `\nTop self time, ${scenario}, node ${name} (whole process life, ` +
            `${summary.busySamples} busy samples; ${dir}):`,
        );
        console.log(formatProfileTable(summary).join("\n"));
      } catch (error) {
        console.error(
          `bench_cluster: no profile of ${scenario} ${name}: ${(error as Error).message}`,
        );
      }
    }
  }
}
if (flags.json) {
  await Deno.writeTextFile(
    flags.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        deno: Deno.version.deno,
        pinning: pinning.description,
        generator: generator.kind,
        cores: CORES,
        loadAverage: { before: loadBefore, after: loadAfter },
        rows,
        ratio,
        profiles,
      },
      null,
      2,
    ),
  );
}
