/**
 * The server benchmark (not named bench.ts, which `deno bench` would pick up). It registers
 * its users in a temporary database, then for each workload starts a fresh jim-server
 * (`--legacy-auth`, rate limits off) pinned to core 0 and drives it from the compiled load
 * generator pinned to core 1; with `--baseline` the minimal relay runs each workload right
 * after it, under the same load, so that ratios are read from one run. Server CPU per message
 * and RSS come from /proc. The parts live in tasks/bench/ (docs/benchmarks.md explains them).
 *
 *     deno task bench [--only startup,pingpong,flood,idle,storm,presence] [--baseline] [--profile]
 *                     [--pairs 20] [--window 32] [--seconds 5] [--warmup 1] [--idle 10000]
 *                     [--storm 1000] [--presence-users 1000] [--presence-contacts 50]
 *                     [--generator c|deno] [--profile-dir DIR] [--top 15]
 *                     [--json FILE]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { findGenerator } from "./bench/generator.ts";
import { detectPinning } from "./bench/pinning.ts";
import { clockTicksPerSecond, loadAverage } from "./bench/proc.ts";
import { formatProfileTable, readNewestProfile, summarizeProfile } from "./bench/profile.ts";
import { type BenchRow, formatTable, medianRow, ratios } from "./bench/report.ts";
import { runStorm } from "./bench/storm.ts";
import { addRingContacts, runPresence } from "./bench/presence.ts";
import { runtimeFlags, type TargetKind } from "./bench/target.ts";
import { registerUsers } from "./bench/users.ts";
import { type BenchContext, runIdle, runMessaging, runStartup } from "./bench/workloads.ts";
import { ROOT } from "./_programs.ts";

const WORKLOADS = ["startup", "pingpong", "flood", "idle", "storm", "presence"] as const;
const USAGE = `Usage: deno task bench [options]
  --only LIST        workloads, comma-separated (default: ${WORKLOADS.join(",")})
  --baseline         also run each workload against the minimal relay (tasks/bench/relay.ts),
                     and idle against the idle floor (tasks/bench/idle_floor.ts)
  --profile          CPU-profile the servers during ping-pong (--cpu-prof) and print top functions
  --profile-dir DIR  where the .cpuprofile files go (default: a new temporary directory)
  --top N            functions to print per profile (default: 15)
  --pairs N          ping-pong pairs, flood senders (default: 20)
  --window W         flood: messages in flight per sender (default: 32)
  --seconds S        measured window (default: 5)
  --rounds N         ping-pong and flood: N rounds, jim-server and relay alternating; medians
                     are reported, with each round's jim/relay ratio (default: 1)
  --warmup S         traffic before the window opens (default: 1)
  --idle N           idle sessions (default: 10000)
  --storm N          logins in the storm (default: 1000)
  --presence-users N presence: users logging in at once, with and without the presence
                     capability (default: 1000)
  --presence-contacts N  presence: contacts of each user (default: 50)
  --generator KIND   c or deno (default: c when cc exists, else deno)
  --json FILE        also write the results as JSON
Environment: BENCH_V8_FLAGS replaces the servers' V8 flags (empty: V8 defaults).`;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string", default: WORKLOADS.join(",") },
    baseline: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "profile-dir": { type: "string" },
    top: { type: "string", default: "15" },
    pairs: { type: "string", default: "20" },
    window: { type: "string", default: "32" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    warmup: { type: "string", default: "1" },
    idle: { type: "string", default: "10000" },
    storm: { type: "string", default: "1000" },
    "presence-users": { type: "string", default: "1000" },
    "presence-contacts": { type: "string", default: "50" },
    generator: { type: "string" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(2);
}
const count = (name: keyof typeof flags, min: number): number => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min) fail(`--${name} must be a number ≥ ${min}`);
  return value;
};
const only = new Set(flags.only!.split(",").filter(Boolean));
for (const name of only) {
  if (!(WORKLOADS as readonly string[]).includes(name)) fail(`unknown workload: ${name}`);
}
if (flags.generator !== undefined && flags.generator !== "c" && flags.generator !== "deno") {
  fail("--generator must be c or deno");
}
const PASSWORD = "bench-password";
// Logins on the server cost HMACs only; the iteration count matters to registration and to
// the storm's clients, which cache their salted password as RFC 5802 allows.
const ITERATIONS = 4096;
const pairs = Math.trunc(count("pairs", 1));
const idle = Math.trunc(count("idle", 1));
const stormSize = Math.trunc(count("storm", 1));
const presenceUsers = Math.trunc(count("presence-users", 2));
const presenceContacts = Math.trunc(count("presence-contacts", 1));
const top = Math.trunc(count("top", 1));
const rounds = Math.trunc(count("rounds", 1));

const pinning = await detectPinning();
const generator = await findGenerator({
  prefer: flags.generator as "c" | "deno" | undefined,
  denoFlags: runtimeFlags(),
});
console.error(`bench: ${pinning.description}`);
console.error(`bench: ${generator.description}`);
console.error(`bench: server runtime flags: ${runtimeFlags().join(" ") || "(V8 defaults)"}`);

const loadBefore = loadAverage();
const dir = await Deno.makeTempDir({ prefix: "jim-bench-" });
const profileDir = flags.profile
  ? flags["profile-dir"] ?? await Deno.makeTempDir({ prefix: "jim-bench-profile-" })
  : undefined;
const rows: BenchRow[] = [];
const profiles: { server: TargetKind; dir: string }[] = [];
const roundRatios: { workload: string; ratio: number }[] = [];
const roundLabel = (round: number) => rounds > 1 ? `, round ${round + 1} of ${rounds}` : "";
try {
  const logins = [
    ...Array.from({ length: pairs * 2 }, (_, i) => `p${i}`),
    ...(only.has("idle") ? Array.from({ length: idle }, (_, i) => `i${i}`) : []),
    // The storm and presence share the users s0, s1, …
    ...Array.from({
      length: Math.max(only.has("storm") ? stormSize : 0, only.has("presence") ? presenceUsers : 0),
    }, (_, i) => `s${i}`),
  ];
  const dbPath = join(dir, "bench.db");
  console.error(`bench: registering ${logins.length} users…`);
  const users = await registerUsers(dbPath, logins, PASSWORD, ITERATIONS);
  if (only.has("presence")) addRingContacts(dbPath, presenceUsers, presenceContacts);
  const ctx: BenchContext = {
    pinning,
    generator,
    ticksPerSecond: await clockTicksPerSecond(),
    dbPath,
    legacyStored: users.legacyStored,
    connectionLimit: Math.max(idle, stormSize, presenceUsers, pairs * 2) + 1000,
    pairs,
    window: Math.trunc(count("window", 1)),
    warmup: count("warmup", 0),
    seconds: count("seconds", 0.1),
    idle,
  };
  const servers: TargetKind[] = flags.baseline ? ["jim-server", "relay"] : ["jim-server"];
  for (const workload of WORKLOADS) {
    if (!only.has(workload)) continue;
    if (workload === "pingpong" || workload === "flood") {
      // Alternating rounds: a change in the machine's load hits both servers alike.
      const measured = new Map<TargetKind, BenchRow[]>(servers.map((server) => [server, []]));
      for (let round = 0; round < rounds; round++) {
        const perRound: Partial<Record<TargetKind, BenchRow>> = {};
        for (const server of servers) {
          console.error(`bench: ${workload} against ${server}${roundLabel(round)}…`);
          const profiled = workload === "pingpong" && profileDir && round === 0
            ? join(profileDir, server)
            : undefined;
          const row = await runMessaging(ctx, server, workload, { profileDir: profiled });
          if (profiled) profiles.push({ server, dir: profiled });
          measured.get(server)!.push(row);
          perRound[server] = row;
        }
        const { "jim-server": jim, relay } = perRound;
        if (jim?.cpuMicrosPerMessage && relay?.cpuMicrosPerMessage) {
          roundRatios.push({
            workload: jim.workload,
            ratio: jim.cpuMicrosPerMessage / relay.cpuMicrosPerMessage,
          });
        }
      }
      for (const server of servers) rows.push(medianRow(measured.get(server)!));
      continue;
    }
    if (workload === "presence") {
      // The baseline is the same logins without the capability; both alternate per round.
      for (let round = 0; round < rounds; round++) {
        for (const presence of [false, true]) {
          console.error(
            `bench: presence ${presence ? "with" : "without"} the capability${roundLabel(round)}…`,
          );
          rows.push(
            await runPresence(ctx, {
              count: presenceUsers,
              contacts: presenceContacts,
              password: PASSWORD,
              scram: users.scram,
              presence,
            }),
          );
        }
      }
      continue;
    }
    // The idle floor has no routing and no real login: it takes part in the idle workload only.
    const these: TargetKind[] = workload === "storm"
      ? ["jim-server"]
      : workload === "idle" && flags.baseline
      ? [...servers, "idle floor"]
      : servers;
    for (const server of these) {
      console.error(`bench: ${workload} against ${server}…`);
      if (workload === "startup") rows.push(await runStartup(ctx, server));
      else if (workload === "idle") rows.push(await runIdle(ctx, server));
      else rows.push(await runStorm(ctx, stormSize, PASSWORD, users.scram));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const loadAfter = loadAverage();
console.log(
  `Load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end.`,
);
console.log(formatTable(rows).join("\n"));
const compared = ratios(rows);
if (compared.length > 0) {
  console.log("\njim-server / relay, this run:");
  for (const r of compared) {
    console.log(
      `  ${r.workload} ${r.measure}: ${r.ratio.toFixed(2)}x (${r.jim.toFixed(1)} / ${
        r.relay.toFixed(1)
      })`,
    );
  }
}
const idleJim = rows.find((row) => row.workload === "idle" && row.server === "jim-server");
const idleFloor = rows.find((row) => row.workload === "idle" && row.server === "idle floor");
if (idleJim?.rssGrowthMiB !== undefined && idleFloor?.rssGrowthMiB !== undefined) {
  const own = idleJim.rssGrowthMiB - idleFloor.rssGrowthMiB;
  console.log(
    `  idle RSS growth above the idle floor: ${own.toFixed(1)} MiB (${
      (own * 1024 / idle).toFixed(1)
    } KiB/session; the floor itself +${idleFloor.rssGrowthMiB.toFixed(1)} MiB)`,
  );
}
if (rounds > 1) {
  for (const workload of new Set(roundRatios.map((r) => r.workload))) {
    const each = roundRatios.filter((r) => r.workload === workload).map((r) => r.ratio.toFixed(2));
    console.log(`  ${workload} CPU per message, each round: ${each.join(" ")}`);
  }
}
const profileSummaries = [];
for (const { server, dir } of profiles) {
  let summary;
  try {
    summary = summarizeProfile(await readNewestProfile(dir), { limit: top, root: ROOT });
  } catch (error) {
    console.error(
      `bench: no profile of ${server}: ${error instanceof Error ? error.message : error}`,
    );
    continue;
  }
  profileSummaries.push({ server, dir, ...summary });
  console.log(
    `\nTop self time, ${server} during ping-pong ` +
      `(whole process life, ${summary.busySamples} busy samples; ${dir}):`,
  );
  console.log(formatProfileTable(summary).join("\n"));
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
        loadAverage: { before: loadBefore, after: loadAfter },
        rows,
        ratios: compared,
        roundRatios,
        profiles: profileSummaries,
      },
      null,
      2,
    ),
  );
}
