/**
 * Room benchmark (issue 13): one sender and a 100-member room, every member connected, beside
 * the one-to-one ping-pong in the same run. jim-server as it ships, on a SQLite file, pinned
 * to core 0; this process, on core 1, is the sender and every member (loopback). Server CPU
 * from /proc/PID/task/TID/schedstat.
 *
 * - Room, one in flight: the sender sends a message, waits until the last of the 100 members
 *   has it, then sends the next. Latency is send to arrival at the last member (p50/p99).
 * - Room, pipelined: the sender keeps `--window` messages in flight (one more per 200);
 *   deliveries per second over the whole burst, first send to the last member's last arrival.
 * - Ping-pong, in the same run: two users, one message in flight, each answering on arrival;
 *   latency send to arrival.
 *
 * Not part of `deno task test`; run it by hand:
 *
 *     deno run --allow-all tasks/bench_rooms.ts [--rounds 3] [--messages 300] [--window 16]
 *                                               [--members 100]
 */
import { parseArgs } from "node:util";
import { legacyDigest, legacyStoredHash } from "../protocol/mod.ts";
import { deriveCredentials } from "../server/accounts.ts";
import { openStorage } from "../server/storage/open_storage.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { Latencies } from "./bench/latencies.ts";
import { detectPinning } from "./bench/pinning.ts";
import { loadAverage } from "./bench/proc.ts";
import { cpuNs } from "./bench/sched.ts";
import { startTarget } from "./bench/target.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "300" },
    window: { type: "string", default: "16" },
    members: { type: "string", default: "100" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(
    "Usage: deno run --allow-all tasks/bench_rooms.ts [--rounds N] [--messages N] [--window W] [--members N]",
  );
  Deno.exit(0);
}
const ROUNDS = Number(flags.rounds);
const MESSAGES = Number(flags.messages);
const WINDOW = Number(flags.window);
const MEMBERS = Number(flags.members);
const PASSWORD = "bench-password";
const ROOM = "#bench";
const CAPS = ["ids", "rooms"];
const TEXT = "a room message with some ordinary text in it, about sixty chars";

const pinning = await detectPinning();
const self = await new Deno.Command("taskset", {
  args: ["-cp", "1", String(Deno.pid)],
  stdout: "null",
  stderr: "null",
}).output().catch(() => undefined);
console.error(
  `bench: ${pinning.description}; this process ${self?.success ? "on core 1" : "unpinned"}`,
);
const load0 = loadAverage();

const dir = await Deno.makeTempDir({ prefix: "jim-bench-rooms-" });
const db = `${dir}/bench.db`;
const memberNames = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
{
  await using storage = await openStorage(db);
  const credentials = await deriveCredentials(PASSWORD, { iterations: 4096, legacy: true });
  for (const login of ["sender", "ping", "pong", ...memberNames]) {
    await storage.users.add(login, credentials);
  }
  for (const login of ["sender", ...memberNames]) {
    await storage.rooms.join(ROOM, login, { now: Date.now() });
  }
}
const stored = await legacyStoredHash(PASSWORD);

await using target = await startTarget({
  kind: "jim-server",
  dbPath: db,
  pinning,
  connectionLimit: MEMBERS + 10,
});
const at = { host: "127.0.0.1", port: target.port };
const cpu = () => cpuNs(target.pid);

async function login(user: string): Promise<RawConnection> {
  const conn = await connectRaw(at, { timeoutMs: 120_000 });
  const challenge = await conn.request({
    action: "presence",
    time: now(),
    user: { account_name: user },
    capabilities: CAPS,
  });
  const reply = await conn.request({
    action: "authenticate",
    time: now(),
    user: { account_name: user, password: legacyDigest(stored, String(challenge.token)) },
  });
  if (reply.response !== 200) throw new Error(`Login as ${user} failed: ${JSON.stringify(reply)}`);
  loginOf.set(conn, user);
  return conn;
}

const encoder = new TextEncoder();
const frame = (to: string) =>
  encoder.encode(
    JSON.stringify({ action: "msg", time: now(), to, encoding: "utf-8", message: TEXT }) + "\n",
  );

const loginOf = new Map<RawConnection, string>();

/**
 * Resolves with the arrival time of each of the next `n` msg pushes at `conn`. A member only
 * reads, so the server probes it after a minute of silence: it answers, as a client would.
 */
async function arrivals(conn: RawConnection, n: number): Promise<number[]> {
  const times: number[] = [];
  while (times.length < n) {
    const f = await conn.next();
    if (f.action === "msg") times.push(performance.now());
    else if (f.action === "probe") {
      await conn.send({
        action: "presence",
        time: now(),
        user: { account_name: loginOf.get(conn) },
      });
    }
  }
  return times;
}

/** The next reply at `conn`, skipping pushes. */
async function nextReply(conn: RawConnection): Promise<Record<string, unknown>> {
  for (;;) {
    const f = await conn.next();
    if (f.response !== undefined) {
      if (f.response !== 200) throw new Error(`msg refused: ${JSON.stringify(f)}`);
      return f;
    }
  }
}

const sender = await login("sender");
const members: RawConnection[] = [];
for (let i = 0; i < MEMBERS; i += 20) {
  members.push(...await Promise.all(memberNames.slice(i, i + 20).map(login)));
}
const ping = await login("ping");
const pong = await login("pong");
console.error(`bench: ${MEMBERS} members and the sender logged in`);

interface Row {
  rate: number;
  p50?: number;
  p99?: number;
  cpuUs: number;
}
const rows: Record<string, Row[]> = {
  [`room, 1 in flight, last of ${MEMBERS} members`]: [],
  [`room, ${WINDOW} in flight`]: [],
  "one-to-one ping-pong, 1 in flight": [],
};
const [oneAtATime, pipelined, pingPong] = Object.keys(rows) as [string, string, string];

async function roomOneAtATime(): Promise<Row> {
  const latencies = new Latencies();
  const c0 = cpu();
  const t0 = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const sent = performance.now();
    const all = Promise.all(members.map((m) => arrivals(m, 1)));
    await sender.write(frame(ROOM));
    const [times] = await Promise.all([all, nextReply(sender)]);
    latencies.add(Math.max(...times.flat()) - sent);
  }
  const seconds = (performance.now() - t0) / 1000;
  const deliveries = MESSAGES * MEMBERS;
  const { p50, p99 } = latencies.summary();
  return { rate: deliveries / seconds, p50, p99, cpuUs: (cpu() - c0) / 1000 / deliveries };
}

async function roomPipelined(): Promise<Row> {
  const c0 = cpu();
  const t0 = performance.now();
  const all = Promise.all(members.map((m) => arrivals(m, MESSAGES)));
  let sent = 0;
  let inFlight = 0;
  const replies = (async () => {
    for (let got = 0; got < MESSAGES; got++) {
      await nextReply(sender);
      inFlight--;
      if (sent < MESSAGES) {
        sent++;
        inFlight++;
        await sender.write(frame(ROOM));
      }
    }
  })();
  const first = Math.min(WINDOW, MESSAGES);
  let burst = new Uint8Array(0);
  for (; sent < first; sent++, inFlight++) {
    const f = frame(ROOM);
    const next = new Uint8Array(burst.length + f.length);
    next.set(burst);
    next.set(f, burst.length);
    burst = next;
  }
  await sender.write(burst);
  const [times] = await Promise.all([all, replies]);
  const end = Math.max(...times.flat());
  const seconds = (end - t0) / 1000;
  const deliveries = MESSAGES * MEMBERS;
  return { rate: deliveries / seconds, cpuUs: (cpu() - c0) / 1000 / deliveries };
}

async function onePingPong(): Promise<Row> {
  const latencies = new Latencies();
  const c0 = cpu();
  const t0 = performance.now();
  const n = MESSAGES * 4;
  for (let i = 0; i < n; i++) {
    const [from, to, name] = i % 2 === 0 ? [ping, pong, "pong"] : [pong, ping, "ping"];
    const sent = performance.now();
    const arrived = arrivals(to, 1);
    await from.write(frame(name));
    const [[time]] = await Promise.all([arrived, nextReply(from)]);
    latencies.add(time! - sent);
  }
  const seconds = (performance.now() - t0) / 1000;
  const { p50, p99 } = latencies.summary();
  return { rate: n / seconds, p50, p99, cpuUs: (cpu() - c0) / 1000 / n };
}

// Warm-up: the JIT of both paths.
await roomOneAtATime();
await onePingPong();
for (let round = 0; round < ROUNDS; round++) {
  console.error(`bench: round ${round + 1} of ${ROUNDS}…`);
  rows[oneAtATime]!.push(await roomOneAtATime());
  rows[pipelined]!.push(await roomPipelined());
  rows[pingPong]!.push(await onePingPong());
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number | undefined, digits = 2) => x === undefined ? "-" : x.toFixed(digits);
console.log(
  `\nRooms: ${MEMBERS} members + sender, ${MESSAGES} messages per measure, medians of ${ROUNDS} rounds`,
);
console.log(`load average ${load0} at start, ${loadAverage()} at end; ${pinning.description}\n`);
console.log(
  "| workload | deliveries/s | p50 ms | p99 ms | server CPU µs/delivery |\n|---|---:|---:|---:|---:|",
);
for (const [name, samples] of Object.entries(rows)) {
  const p50s = samples.map((s) => s.p50).filter((x): x is number => x !== undefined);
  const p99s = samples.map((s) => s.p99).filter((x): x is number => x !== undefined);
  console.log(
    `| ${name} | ${median(samples.map((s) => s.rate)).toFixed(0)} | ${
      fmt(p50s.length ? median(p50s) : undefined)
    } | ${fmt(p99s.length ? median(p99s) : undefined)} | ${
      median(samples.map((s) => s.cpuUs)).toFixed(1)
    } |`,
  );
}

for (const conn of [sender, ping, pong, ...members]) conn.close();
await target.close();
await Deno.remove(dir, { recursive: true });
