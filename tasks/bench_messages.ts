/**
 * Message benchmarks (issue 12): jim-server as it ships, on a SQLite file, pinned to core 0;
 * this process on core 1 drives it over loopback. Server CPU from /proc.
 *
 * - Backlog: 1,000 messages are stored for an offline user; the time from its connect (login
 *   included) until the 1,000th stored message has arrived, and the server's CPU per message.
 *   Beside it, in the same round: the same login with an empty backlog, and 1,000 live
 *   messages to an online user (pipelined 50 at a time), first send to last arrival.
 * - History page: a page of 100 messages (`history` with `before` at a random id of a
 *   1,000-message conversation), from the request until the 202 and all 100 items are in.
 *   Beside it: `get_contacts` of 100 contacts, the same shape (a 202 and 100 pushes) with no
 *   history behind it.
 * - Seed pacing: 50 stored messages to a session that announced nothing, one frame at a time.
 *
 * Not part of `deno task test`; run it by hand:
 *
 *     deno run --allow-all tasks/bench_messages.ts [--rounds 5] [--backlog 1000] [--pages 200]
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
    rounds: { type: "string", default: "5" },
    backlog: { type: "string", default: "1000" },
    pages: { type: "string", default: "200" },
    seed: { type: "string", default: "50" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(
    "Usage: deno run --allow-all tasks/bench_messages.ts [--rounds N] [--backlog N] [--pages N] [--seed N]",
  );
  Deno.exit(0);
}
const ROUNDS = Number(flags.rounds);
const BACKLOG = Number(flags.backlog);
const PAGES = Number(flags.pages);
const SEED = Number(flags.seed);
const PASSWORD = "bench-password";
const BATCH = 50;
const JIM = ["ids", "carbons", "receipts"];

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

const dir = await Deno.makeTempDir({ prefix: "jim-bench-messages-" });
const db = `${dir}/bench.db`;
{
  await using storage = await openStorage(db);
  const credentials = await deriveCredentials(PASSWORD, { iterations: 4096, legacy: true });
  for (
    const login of [
      "alice",
      "bob",
      "carol",
      "seed",
      ...Array.from({ length: 100 }, (_, i) => `c${i}`),
    ]
  ) {
    await storage.users.add(login, credentials);
  }
  for (let i = 0; i < 100; i++) await storage.contacts.add("carol", `c${i}`);
}
const stored = await legacyStoredHash(PASSWORD);

await using target = await startTarget({
  kind: "jim-server",
  dbPath: db,
  pinning,
  connectionLimit: 100,
});
const at = { host: "127.0.0.1", port: target.port };
const cpu = () => cpuNs(target.pid);

async function login(user: string, caps: string[] | undefined): Promise<RawConnection> {
  const conn = await connectRaw(at, { timeoutMs: 120_000 });
  const challenge = await conn.request({
    action: "presence",
    time: now(),
    user: { account_name: user },
    ...(caps ? { capabilities: caps } : {}),
  });
  const reply = await conn.request({
    action: "authenticate",
    time: now(),
    user: { account_name: user, password: legacyDigest(stored, String(challenge.token)) },
  });
  if (reply.response !== 200) throw new Error(`Login as ${user} failed: ${JSON.stringify(reply)}`);
  return conn;
}

const encoder = new TextEncoder();
/** Sends `n` msgs pipelined `BATCH` at a time; returns the ids from the replies. */
async function sendMany(
  conn: RawConnection,
  to: string,
  n: number,
  tag: string,
): Promise<number[]> {
  const ids: number[] = [];
  for (let sent = 0; sent < n; sent += BATCH) {
    const k = Math.min(BATCH, n - sent);
    let frames = "";
    for (let i = 0; i < k; i++) {
      frames += JSON.stringify({
        action: "msg",
        time: now(),
        to,
        encoding: "utf-8",
        message: `${tag} message ${sent + i} with some ordinary text in it`,
      }) + "\n";
    }
    await conn.write(encoder.encode(frames));
    for (let got = 0; got < k;) {
      const f = await conn.next();
      if (f.response === undefined) continue; // a receipt or carbon
      if (f.response !== 200) throw new Error(`msg refused: ${JSON.stringify(f)}`);
      ids.push(f.id as number);
      got++;
    }
  }
  return ids;
}

async function receive(conn: RawConnection, n: number): Promise<void> {
  for (let got = 0; got < n;) if ((await conn.next()).action === "msg") got++;
}

interface Sample {
  ms: number;
  cpuUsPerMsg: number;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, Sample[]> = {
  "login, empty backlog": [],
  [`login + ${BACKLOG} stored messages`]: [],
  [`${BACKLOG} live messages, online recipient`]: [],
};

const alice = await login("alice", JIM);
for (let round = 0; round < ROUNDS; round++) {
  console.error(`bench: backlog round ${round + 1} of ${ROUNDS}…`);
  {
    const c0 = cpu();
    const t0 = performance.now();
    const bob = await login("bob", JIM);
    const ms = performance.now() - t0;
    results["login, empty backlog"]!.push({ ms, cpuUsPerMsg: (cpu() - c0) / 1000 });
    await bob.request({ action: "quit", time: now() });
    await bob[Symbol.asyncDispose]();
  }
  await sendMany(alice, "bob", BACKLOG, `stored r${round}`);
  {
    const c0 = cpu();
    const t0 = performance.now();
    const bob = await login("bob", JIM);
    await receive(bob, BACKLOG);
    const ms = performance.now() - t0;
    results[`login + ${BACKLOG} stored messages`]!.push({
      ms,
      cpuUsPerMsg: (cpu() - c0) / 1000 / BACKLOG,
    });
    const c1 = cpu();
    const t1 = performance.now();
    const [,] = await Promise.all([
      sendMany(alice, "bob", BACKLOG, `live r${round}`),
      receive(bob, BACKLOG),
    ]);
    results[`${BACKLOG} live messages, online recipient`]!.push({
      ms: performance.now() - t1,
      cpuUsPerMsg: (cpu() - c1) / 1000 / BACKLOG,
    });
    await bob.request({ action: "quit", time: now() });
    await bob[Symbol.asyncDispose]();
  }
  // The receipts of this round's deliveries.
  await alice.request({ action: "get_users", time: now() }).catch(() => undefined);
}

// History pages on the alice-bob conversation (2 × BACKLOG × ROUNDS messages by now).
const ids = await sendMany(alice, "bob", BACKLOG, "history");
const pageLatency = new Latencies();
const contactsLatency = new Latencies();
let pageCpu = 0;
let contactsCpu = 0;
const carol = await login("carol", JIM);
for (let i = 0; i < PAGES; i++) {
  const before = ids[100 + Math.floor(Math.random() * (ids.length - 100))]!;
  let c0 = cpu();
  let t0 = performance.now();
  const head = await alice.request({
    action: "history",
    time: now(),
    with: "bob",
    before,
    limit: 100,
  });
  for (let k = 0; k < (head.quantity as number); k++) await alice.next();
  pageLatency.add(performance.now() - t0);
  pageCpu += cpu() - c0;
  if (head.quantity !== 100) throw new Error(`history page of ${head.quantity}`);
  c0 = cpu();
  t0 = performance.now();
  const list = await carol.request({ action: "get_contacts", time: now() });
  for (let k = 0; k < (list.quantity as number); k++) await carol.next();
  contactsLatency.add(performance.now() - t0);
  contactsCpu += cpu() - c0;
}

// Seed pacing.
await sendMany(alice, "seed", SEED, "seed");
const s0 = performance.now();
const seed = await login("seed", undefined);
await receive(seed, SEED);
const seedMs = performance.now() - s0;

console.log(
  `Load average (1 min) ${load0.toFixed(2)} at the start, ${loadAverage().toFixed(2)} at the end.`,
);
console.log(`\nBacklog (medians of ${ROUNDS} rounds; server CPU from /proc):`);
console.log("| measure | time, ms | server CPU |");
console.log("| --- | --- | --- |");
for (const [name, samples] of Object.entries(results)) {
  const unit = name.startsWith("login, empty") ? "µs per login" : "µs per message";
  console.log(
    `| ${name} | ${median(samples.map((s) => s.ms)).toFixed(1)} (each: ${
      samples.map((s) => s.ms.toFixed(0)).join(" ")
    }) | ${median(samples.map((s) => s.cpuUsPerMsg)).toFixed(1)} ${unit} |`,
  );
}
const p = pageLatency.summary();
const c = contactsLatency.summary();
console.log(`\nPages (${PAGES} each, alternating):`);
console.log("| request | p50 ms | p99 ms | server CPU per request, µs |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| history, 100 items, random before | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} | ${
    (pageCpu / 1000 / PAGES).toFixed(0)
  } |`,
);
console.log(
  `| get_contacts, 100 contacts | ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${
    (contactsCpu / 1000 / PAGES).toFixed(0)
  } |`,
);
console.log(
  `\nSeed session, ${SEED} stored messages one frame at a time: ${seedMs.toFixed(0)} ms (${
    (seedMs / SEED).toFixed(1)
  } ms per message)`,
);
for (const conn of [alice, carol, seed]) await conn[Symbol.asyncDispose]();
await Deno.remove(dir, { recursive: true });
