/**
 * Storage benchmarks (issue 14): what PostgreSQL costs jim-server beside SQLite, on loopback.
 *
 * - Login: jim-server (as it ships, pinned to core 0) on a SQLite file, then on PostgreSQL
 *   (also pinned to core 0: both are "the server side"); this process on core 1 logs in as a
 *   new user each time (legacy HMAC-MD5, so the client spends nothing on PBKDF2), sequentially:
 *   connect, presence, authenticate, 200. Latency per login, and CPU per login of jim-server
 *   and of PostgreSQL (postmaster and backends) from /proc.
 * - get_contacts: one session asks for its 50 contacts again and again; latency until the
 *   202 and all 50 pushes are in, and CPU per request.
 * - Message path: PostgreSQL's MessageStore.append() in this process (issue 12 does not store
 *   messages in the server yet): N appenders with one append in flight each, as N chatting
 *   pairs would; messages/s, latency to commit, messages per group commit, and CPU per message
 *   of this process and of PostgreSQL.
 *
 * Not part of `deno task test`; run it by hand:
 *
 *     deno run --allow-all tasks/bench_storage.ts [--logins 500] [--requests 2000]
 *         [--messages 20000] [--in-flight 1,20] [--durable] [--json FILE]
 */
import { parseArgs } from "node:util";
import { legacyDigest, legacyStoredHash } from "../protocol/mod.ts";
import { deriveCredentials } from "../server/accounts.ts";
import { openStorage } from "../server/storage/open_storage.ts";
import type { StoredMessage } from "../server/storage/ports.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import type { PostgresMessages } from "../server/storage/postgres/_messages.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { startPostgres } from "../tests/_services.ts";
import { Latencies } from "./bench/latencies.ts";
import { detectPinning } from "./bench/pinning.ts";
import { cpuNs, treeNs } from "./bench/sched.ts";
import { startTarget } from "./bench/target.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    logins: { type: "string", default: "500" },
    requests: { type: "string", default: "2000" },
    contacts: { type: "string", default: "50" },
    messages: { type: "string", default: "20000" },
    "in-flight": { type: "string", default: "1,20" },
    durable: { type: "boolean", default: false },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(
    "Usage: deno run --allow-all tasks/bench_storage.ts [--logins N] [--requests N]\n" +
      "         [--contacts N] [--messages N] [--in-flight 1,20] [--durable] [--json FILE]",
  );
  Deno.exit(0);
}
const LOGINS = Number(flags.logins);
const REQUESTS = Number(flags.requests);
const CONTACTS = Number(flags.contacts);
const MESSAGES = Number(flags.messages);
const IN_FLIGHT = flags["in-flight"]!.split(",").map(Number);
const PASSWORD = "bench-password";
const WARM_UP = 50;

interface Row {
  benchmark: string;
  backend: string;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** jim-server's CPU per operation (this process's for the message path), µs. */
  jimCpuUs: number;
  /** PostgreSQL's CPU per operation, µs; 0 for SQLite. */
  pgCpuUs: number;
  note?: string;
}
const rows: Row[] = [];

async function measure(
  ops: number,
  cpu: { jim: () => number; pg: () => number },
  work: (latencies: Latencies) => Promise<void>,
): Promise<Omit<Row, "benchmark" | "backend">> {
  const latencies = new Latencies();
  const jim0 = cpu.jim();
  const pg0 = cpu.pg();
  const t0 = performance.now();
  await work(latencies);
  const seconds = (performance.now() - t0) / 1000;
  const { p50, p99 } = latencies.summary();
  return {
    rate: ops / seconds,
    p50Ms: p50,
    p99Ms: p99,
    jimCpuUs: (cpu.jim() - jim0) / 1000 / ops,
    pgCpuUs: (cpu.pg() - pg0) / 1000 / ops,
  };
}

/** The seed's login with a known stored hash: no PBKDF2 on this side per login. */
async function legacyLogin(conn: RawConnection, login: string, stored: string): Promise<void> {
  const challenge = await conn.request({
    action: "presence",
    time: now(),
    user: { account_name: login },
  });
  const reply = await conn.request({
    action: "authenticate",
    time: now(),
    user: { account_name: login, password: legacyDigest(stored, String(challenge.token)) },
  });
  if (reply.response !== 200) throw new Error(`Login as ${login} failed: ${JSON.stringify(reply)}`);
}

/** Fills the database: `logins` users to log in as, and alice with her contacts. */
async function populate(spec: string, logins: number): Promise<void> {
  await using storage = await openStorage(spec);
  const credentials = await deriveCredentials(PASSWORD, { iterations: 4096, legacy: true });
  for (let i = 0; i < logins + WARM_UP; i++) await storage.users.add(`u${i}`, credentials);
  await storage.users.add("alice", credentials);
  for (let i = 0; i < CONTACTS; i++) {
    await storage.users.add(`c${i}`, credentials);
    await storage.contacts.add("alice", `c${i}`);
  }
}

async function benchServer(backend: string, spec: string, pgCpu: () => number): Promise<void> {
  await populate(spec, LOGINS);
  const stored = await legacyStoredHash(PASSWORD);
  await using target = await startTarget({
    kind: "jim-server",
    dbPath: spec,
    pinning,
    connectionLimit: 100,
  });
  const at = { host: "127.0.0.1", port: target.port };
  const cpu = { jim: () => cpuNs(target.pid), pg: pgCpu };

  const loginOnce = async (login: string, latencies?: Latencies) => {
    const t = performance.now();
    await using conn = await connectRaw(at);
    await legacyLogin(conn, login, stored);
    latencies?.add(performance.now() - t);
  };
  for (let i = 0; i < WARM_UP; i++) await loginOnce(`u${LOGINS + i}`);
  rows.push({
    benchmark: "login (connect to 200)",
    backend,
    ...await measure(LOGINS, cpu, async (latencies) => {
      for (let i = 0; i < LOGINS; i++) await loginOnce(`u${i}`, latencies);
    }),
  });

  await using alice = await connectRaw(at);
  await legacyLogin(alice, "alice", stored);
  const getContacts = async (latencies?: Latencies) => {
    const t = performance.now();
    const head = await alice.request({ action: "get_contacts", time: now() });
    if (head.response !== 202 || head.quantity !== CONTACTS) {
      throw new Error(`get_contacts: ${JSON.stringify(head)}`);
    }
    for (let i = 0; i < CONTACTS; i++) await alice.next();
    latencies?.add(performance.now() - t);
  };
  for (let i = 0; i < WARM_UP; i++) await getContacts();
  rows.push({
    benchmark: `get_contacts (${CONTACTS} contacts)`,
    backend,
    ...await measure(REQUESTS, cpu, async (latencies) => {
      for (let i = 0; i < REQUESTS; i++) await getContacts(latencies);
    }),
  });
}

async function benchMessages(url: string, postmaster: number, inFlight: number): Promise<void> {
  await using storage = await PostgresStorage.open(url);
  const messages = storage.messages as PostgresMessages;
  const credentials = await deriveCredentials(PASSWORD, { iterations: 4096 });
  const pairs = Array.from(
    { length: inFlight },
    (_, i) => [`s${inFlight}x${i}`, `r${inFlight}x${i}`],
  );
  for (const [a, b] of pairs) {
    await storage.users.add(a!, credentials);
    await storage.users.add(b!, credentials);
  }
  let id = inFlight * 10_000_000;
  const message = (from: string, to: string): StoredMessage => ({
    id: ++id,
    ts: Date.now(),
    time: now(),
    from,
    to,
    message: "x".repeat(60),
  });
  const run = async (total: number, latencies?: Latencies) => {
    await Promise.all(pairs.map(async ([a, b]) => {
      for (let i = 0; i < total / inFlight; i++) {
        const t = performance.now();
        await messages.append(message(i % 2 ? b! : a!, i % 2 ? a! : b!), { delivered: true });
        latencies?.add(performance.now() - t);
      }
    }));
  };
  await run(Math.min(1000, MESSAGES));
  const commits0 = messages.commits;
  const result = await measure(MESSAGES, {
    jim: () => cpuNs(Deno.pid),
    pg: () => treeNs(postmaster),
  }, (l) => run(MESSAGES, l));
  const perCommit = MESSAGES / (messages.commits - commits0);
  rows.push({
    benchmark: `MessageStore.append, ${inFlight} in flight`,
    backend: "PostgreSQL",
    ...result,
    note: `${perCommit.toFixed(1)} messages per commit`,
  });
}

// ------------------------------------------------------------------------------- main

const pinning = await detectPinning();
const self = await new Deno.Command("taskset", {
  args: ["-a", "-p", "-c", "1", String(Deno.pid)],
  stdout: "null",
  stderr: "null",
}).output().catch(() => undefined);
const pinned = pinning.server.length > 0 && self?.success === true;
const durable = flags.durable === true;
console.error(
  `bench_storage: ${
    pinned ? "jim-server and PostgreSQL on core 0, this process on core 1" : "NOT pinned"
  }; ` +
    `PostgreSQL ${
      durable ? "durable (fsync on)" : "with the test settings (fsync off)"
    }; Deno ${Deno.version.deno}`,
);

const dir = await Deno.makeTempDir({ prefix: "jim-bench-storage-" });
try {
  await using pg = await startPostgres({ cpus: pinned ? "0" : undefined, durable });
  const postmaster = pg.pid!;
  await benchServer("SQLite", `${dir}/bench.db`, () => 0);
  await benchServer("PostgreSQL", pg.url, () => treeNs(postmaster));
  for (const n of IN_FLIGHT) await benchMessages(pg.url, postmaster, n);
} finally {
  await Deno.remove(dir, { recursive: true });
}

const fmt = (n: number, digits: number) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits });
console.log(
  "| benchmark | storage | ops/s | p50 ms | p99 ms | jim CPU µs/op | PostgreSQL CPU µs/op | note |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.benchmark} | ${r.backend} | ${fmt(r.rate, 0)} | ${fmt(r.p50Ms, 3)} | ${
      fmt(r.p99Ms, 3)
    } | ` +
      `${fmt(r.jimCpuUs, 1)} | ${r.pgCpuUs === 0 ? "-" : fmt(r.pgCpuUs, 1)} | ${r.note ?? ""} |`,
  );
}
if (flags.json) {
  await Deno.writeTextFile(flags.json, JSON.stringify({ pinned, durable, rows }, null, 2));
}
