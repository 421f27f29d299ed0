/**
 * The server benchmark (not named bench.ts, which `deno bench` would pick up): starts jim-server as a subprocess on a temporary database with rate
 * limits off, registers its users, runs the workloads from the load generator in this
 * process, and prints a table (and JSON with --json FILE).
 *
 *     deno task bench [--only pingpong,flood,idle,storm] [--pairs 20] [--seconds 5]
 *                     [--window 32] [--idle 10000] [--storm 1000] [--json FILE]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { saltPassword } from "../protocol/mod.ts";
import { Store } from "../server/store.ts";
import { LoadPeer, type SaltCache } from "./_load_client.ts";
import { SERVER_V8_FLAGS } from "./_programs.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string", default: "pingpong,flood,idle,storm" },
    pairs: { type: "string", default: "20" },
    seconds: { type: "string", default: "5" },
    window: { type: "string", default: "32" },
    idle: { type: "string", default: "10000" },
    storm: { type: "string", default: "1000" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(
    "Usage: deno task bench [--only pingpong,flood,idle,storm] [--pairs N] [--seconds S]\n" +
      "                       [--window W] [--idle N] [--storm N] [--json FILE]",
  );
  Deno.exit(0);
}
const only = new Set(flags.only!.split(","));
const PAIRS = Number(flags.pairs);
const SECONDS = Number(flags.seconds);
const WINDOW = Number(flags.window);
const IDLE = Number(flags.idle);
const STORM = Number(flags.storm);
const PASSWORD = "bench-password";
// Logins on the server cost HMACs only; the iteration count matters to registration and to
// the client, which caches its salted password as RFC 5802 allows.
const ITERATIONS = 4096;

interface Result {
  workload: string;
  detail: string;
  rate?: number;
  rateUnit?: string;
  p50Ms?: number;
  p99Ms?: number;
  cpuPercent?: number;
  rssMiB?: number;
  extra?: string;
}

// ---------------------------------------------------------------- the server under test

interface ProcSample {
  cpuTicks: number;
  rssKiB: number;
  at: number;
}

const CLOCK_TICKS = 100;

function sample(pid: number): ProcSample {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuTicks, rssKiB, at: performance.now() };
}

function cpuPercent(a: ProcSample, b: ProcSample): number {
  return ((b.cpuTicks - a.cpuTicks) / CLOCK_TICKS) / ((b.at - a.at) / 1000) * 100;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`jim-server did not listen on ${port}`);
}

// ---------------------------------------------------------------------------- statistics

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

class Latencies {
  #values = new Float64Array(1 << 16);
  #length = 0;
  add(ms: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = ms;
  }
  get count(): number {
    return this.#length;
  }
  summary(): { p50: number; p99: number } {
    const sorted = this.#values.slice(0, this.#length).sort();
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  }
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(run));
  }
}

async function loginAll(
  port: number,
  users: string[],
  cache: SaltCache,
  concurrency = 100,
): Promise<LoadPeer[]> {
  const peers: LoadPeer[] = [];
  await inBatches(users, concurrency, async (user) => {
    const peer = await LoadPeer.connect(port, 4096);
    await peer.login(user, PASSWORD, cache);
    peers.push(peer);
  });
  return peers;
}

async function loginInOrder(
  port: number,
  users: string[],
  cache: SaltCache,
  bufferSize: number,
): Promise<LoadPeer[]> {
  const peers: LoadPeer[] = [];
  for (const user of users) {
    // The previous workload's sessions may still be closing on the server: 409 until then.
    for (let attempt = 0;; attempt++) {
      const peer = await LoadPeer.connect(port, bufferSize);
      try {
        await peer.login(user, PASSWORD, cache);
        peers.push(peer);
        break;
      } catch (error) {
        peer.close();
        if (attempt > 50) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  return peers;
}

function pairUsers(): string[] {
  return Array.from({ length: PAIRS * 2 }, (_, i) => `p${i}`);
}

const TEXT = "x".repeat(100);

// ----------------------------------------------------------------------------- workloads

/** What a messaging workload's wiring gets: where to record, and whether it still runs. */
interface MessagingRun {
  readonly latencies: Latencies;
  readonly running: boolean;
  /** Counts a failure, unless it happened while the workload was being torn down. */
  fail(): void;
  /** Reads and dispatches everything that arrives for `peer` until the run ends. */
  pump(peer: LoadPeer): void;
}

/**
 * Logs in PAIRS pairs, lets `wire` set each pair going, measures for SECONDS and reports
 * messages received per second with their latency and the server's CPU and RSS.
 */
async function messaging(
  port: number,
  pid: number,
  cache: SaltCache,
  bufferSize: number,
  wire: (a: LoadPeer, b: LoadPeer, names: [string, string], run: MessagingRun) => Promise<void>,
): Promise<Omit<Result, "workload" | "detail">> {
  const users = pairUsers();
  const ordered = await loginInOrder(port, users, cache, bufferSize);
  let running = true;
  let errors = 0;
  const loops: Promise<unknown>[] = [];
  const run: MessagingRun = {
    latencies: new Latencies(),
    get running() {
      return running;
    },
    fail: () => {
      if (running) errors++;
    },
    pump: (peer) => {
      loops.push(
        (async () => {
          while (running && await peer.pump());
        })().catch(() => run.fail()),
      );
    },
  };
  const before = sample(pid);
  const started = performance.now();
  for (let pair = 0; pair < PAIRS; pair++) {
    const names: [string, string] = [users[pair * 2]!, users[pair * 2 + 1]!];
    await wire(ordered[pair * 2]!, ordered[pair * 2 + 1]!, names, run);
  }
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  const after = sample(pid);
  const count = run.latencies.count;
  for (const peer of ordered) peer.close();
  await Promise.allSettled(loops);
  const { p50, p99 } = run.latencies.summary();
  return {
    rate: count / elapsed,
    rateUnit: "msg/s",
    p50Ms: p50,
    p99Ms: p99,
    cpuPercent: cpuPercent(before, after),
    rssMiB: after.rssKiB / 1024,
    extra: errors ? `${errors} errors` : undefined,
  };
}

async function pingPong(port: number, pid: number, cache: SaltCache): Promise<Result> {
  const measured = await messaging(port, pid, cache, 16 * 1024, async (a, b, names, run) => {
    // One message in flight per pair: each side answers the other's message on arrival.
    let sentAt = 0;
    const serve = (me: LoadPeer, other: string) => {
      me.onResponse = (frame) => {
        if (frame.response !== 200) run.fail();
      };
      me.onMessage = () => {
        run.latencies.add(performance.now() - sentAt);
        if (!run.running) return;
        sentAt = performance.now();
        me.write({ action: "msg", time: 0, to: other, message: TEXT }).catch(() => run.fail());
      };
      run.pump(me);
    };
    serve(a, names[1]);
    serve(b, names[0]);
    sentAt = performance.now();
    await a.write({ action: "msg", time: 0, to: names[1], message: TEXT });
  });
  return {
    workload: "ping-pong",
    detail: `${PAIRS} pairs, 1 in flight each, ${SECONDS} s`,
    ...measured,
  };
}

async function flood(port: number, pid: number, cache: SaltCache): Promise<Result> {
  const measured = await messaging(
    port,
    pid,
    cache,
    64 * 1024,
    async (sender, receiver, names, run) => {
      // Send times in order; messages between one pair arrive in order.
      const sent: number[] = [];
      let head = 0;
      const send = () => {
        sent.push(performance.now());
        return sender.write({ action: "msg", time: 0, to: names[1], message: TEXT });
      };
      receiver.onMessage = () => {
        run.latencies.add(performance.now() - sent[head++]!);
        if (head > 4096) {
          sent.splice(0, head);
          head = 0;
        }
      };
      sender.onResponse = (frame) => {
        if (frame.response !== 200) run.fail();
        if (run.running) send().catch(() => run.fail());
      };
      run.pump(sender);
      run.pump(receiver);
      for (let i = 0; i < WINDOW; i++) await send();
    },
  );
  return {
    workload: "flood",
    detail: `${PAIRS} senders, ${WINDOW} in flight each, ${SECONDS} s`,
    ...measured,
  };
}

async function idle(port: number, pid: number, cache: SaltCache): Promise<Result> {
  const users = Array.from({ length: IDLE }, (_, i) => `i${i}`);
  await new Promise((r) => setTimeout(r, 500));
  const before = sample(pid);
  const started = performance.now();
  const peers = await loginAll(port, users, cache, 200);
  const loginSeconds = (performance.now() - started) / 1000;
  // Let the server settle (GC, buffers) before reading its memory.
  await new Promise((r) => setTimeout(r, 2000));
  const after = sample(pid);
  for (const peer of peers) peer.close();
  const growthKiB = after.rssKiB - before.rssKiB;
  return {
    workload: "idle",
    detail: `${IDLE} authenticated idle connections`,
    rate: IDLE / loginSeconds,
    rateUnit: "logins/s",
    rssMiB: after.rssKiB / 1024,
    extra: `RSS +${(growthKiB / 1024).toFixed(1)} MiB, ${(growthKiB / IDLE).toFixed(1)} KiB/conn`,
  };
}

async function storm(
  port: number,
  pid: number,
  store: Store,
): Promise<Result> {
  const users = Array.from({ length: STORM }, (_, i) => `s${i}`);
  // Each simulated client has its salted password cached already (RFC 5802, section 5.1).
  const caches = new Map<string, SaltCache>();
  await inBatches(users, 50, async (user) => {
    const creds = store.credentials(user)!.scram;
    const value = await saltPassword(PASSWORD, creds.salt, creds.iterations);
    caches.set(
      user,
      new Map([[PASSWORD, { salt: creds.salt, iterations: creds.iterations, value }]]),
    );
  });
  const latencies = new Latencies();
  const before = sample(pid);
  const started = performance.now();
  let errors = 0;
  const peers: LoadPeer[] = [];
  await Promise.all(users.map(async (user) => {
    const t0 = performance.now();
    try {
      const peer = await LoadPeer.connect(port, 4096);
      peers.push(peer);
      await peer.login(user, PASSWORD, caches.get(user));
      latencies.add(performance.now() - t0);
    } catch {
      errors++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const after = sample(pid);
  for (const peer of peers) peer.close();
  const { p50, p99 } = latencies.summary();
  return {
    workload: "login storm",
    detail: `${STORM} SCRAM logins at once: ${seconds.toFixed(2)} s`,
    rate: latencies.count / seconds,
    rateUnit: "logins/s",
    p50Ms: p50,
    p99Ms: p99,
    cpuPercent: cpuPercent(before, after),
    rssMiB: after.rssKiB / 1024,
    extra: errors ? `${errors} errors` : undefined,
  };
}

// ---------------------------------------------------------------------------------- main

/** A jim-server subprocess on the bench database; each workload gets a fresh one. */
async function startServer(
  dbPath: string,
): Promise<{ port: number; pid: number } & AsyncDisposable> {
  const port = freePort();
  const connLimit = String(Math.max(IDLE, STORM) + 1000);
  // BENCH_V8_FLAGS replaces the flags jim-server ships with, to compare settings.
  const v8Flags = Deno.env.get("BENCH_V8_FLAGS");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      ...(v8Flags === undefined ? [SERVER_V8_FLAGS] : v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      new URL("../server/main.ts", import.meta.url).pathname,
      "serve",
      "--db",
      dbPath,
      "--port",
      String(port),
      "--rate-limit",
      "0",
      "--max-connections",
      connLimit,
      "--max-connections-per-ip",
      connLimit,
      "--log-level",
      "error",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
  };
  try {
    await waitForPort(port, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid, [Symbol.asyncDispose]: stop };
}

const dir = await Deno.makeTempDir({ prefix: "jim-bench-" });
const dbPath = join(dir, "bench.db");
const results: Result[] = [];
try {
  using store = Store.open(dbPath);
  const users = [
    ...pairUsers(),
    ...(only.has("idle") ? Array.from({ length: IDLE }, (_, i) => `i${i}`) : []),
    ...(only.has("storm") ? Array.from({ length: STORM }, (_, i) => `s${i}`) : []),
  ];
  console.error(`bench: registering ${users.length} users (PBKDF2 ${ITERATIONS} iterations)…`);
  await inBatches(users, 64, async (user) => {
    await store.addUser(user, PASSWORD, { iterations: ITERATIONS });
  });
  const cache: SaltCache = new Map();
  const workloads: [string, (port: number, pid: number) => Promise<Result>][] = [
    ["pingpong", (port, pid) => pingPong(port, pid, cache)],
    ["flood", (port, pid) => flood(port, pid, cache)],
    ["storm", (port, pid) => storm(port, pid, store)],
    ["idle", (port, pid) => idle(port, pid, cache)],
  ];
  for (const [name, run] of workloads) {
    if (!only.has(name)) continue;
    await using server = await startServer(dbPath);
    console.error(
      `bench: ${name} against jim-server pid ${server.pid} on 127.0.0.1:${server.port}`,
    );
    results.push(await run(server.port, server.pid));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? "" : n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
const rows = [
  ["workload", "detail", "rate", "p50 ms", "p99 ms", "server CPU %", "server RSS MiB", "notes"],
  ...results.map((r) => [
    r.workload,
    r.detail,
    r.rate === undefined ? "" : `${fmt(r.rate)} ${r.rateUnit}`,
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.cpuPercent),
    fmt(r.rssMiB, 1),
    r.extra ?? "",
  ]),
];
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
for (const [i, row] of rows.entries()) {
  console.log("| " + row.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ") + " |");
  if (i === 0) console.log("| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |");
}
if (flags.json) {
  await Deno.writeTextFile(
    flags.json,
    JSON.stringify({ date: new Date().toISOString(), deno: Deno.version.deno, results }, null, 2),
  );
}
