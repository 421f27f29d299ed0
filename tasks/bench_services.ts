/**
 * Micro-benchmarks of the cluster's building blocks, on loopback, with the service pinned to
 * one core and this process to another (where taskset exists):
 *
 * - NATS through `@nats-io/transport-node`: publish→subscribe round trip between two
 *   connections (one message in flight), and one-way throughput between two connections;
 *   nats-server's CPU per message from /proc.
 * - PostgreSQL through `postgres` (one pooled connection): single-row insert and indexed
 *   selects, sequential, with the server's CPU per statement from /proc, once with the test
 *   settings (fsync off) and once durable (fsync and synchronous commit on).
 *
 * Not part of `deno task test`; run it by hand:
 *
 *     deno run --allow-all tasks/bench_services.ts [--only nats,pg] [--rtt 20000]
 *         [--messages 1000000] [--size 200] [--queries 5000] [--json FILE]
 */
import { parseArgs } from "node:util";
import { connect, type Msg } from "@nats-io/transport-node";
import postgres from "postgres";
import { startNats, startPostgres } from "../tests/_services.ts";
import { cpuNs, treeNs } from "./bench/sched.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string", default: "nats,pg" },
    rtt: { type: "string", default: "20000" },
    messages: { type: "string", default: "1000000" },
    size: { type: "string", default: "200" },
    queries: { type: "string", default: "5000" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(
    "Usage: deno task bench:services [--only nats,pg] [--rtt N] [--messages N] [--size BYTES]\n" +
      "                                [--queries N] [--json FILE]",
  );
  Deno.exit(0);
}
const only = new Set(flags.only!.split(","));
const RTT = Number(flags.rtt);
const MESSAGES = Number(flags.messages);
const SIZE = Number(flags.size);
const QUERIES = Number(flags.queries);
const SERVICE_CORE = "0";
const CLIENT_CORE = "1";
/** A run that takes longer than this has lost a message (or the machine is unusable). */
const STUCK_MS = 180_000;

// ------------------------------------------------------------------------ measurement

function summarise(samples: Float64Array): { p50: number; p99: number; mean: number } {
  const sorted = samples.slice().sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  let sum = 0;
  for (const v of samples) sum += v;
  return { p50: at(0.5), p99: at(0.99), mean: sum / samples.length };
}

interface Result {
  benchmark: string;
  detail: string;
  p50Ms?: number;
  p99Ms?: number;
  /** Messages/s for NATS, statements/s for PostgreSQL. */
  rate: number;
  /** Service CPU per operation (per message for NATS, per statement for PostgreSQL). */
  serverCpuUs: number;
  /** This process's CPU per operation. */
  clientCpuUs: number;
}

const results: Result[] = [];

/** Runs `work` and returns the service's and this process's CPU per operation, in µs. */
async function measured(
  serviceNs: () => number,
  operations: number,
  work: () => Promise<void>,
): Promise<{ seconds: number; serverCpuUs: number; clientCpuUs: number }> {
  const s0 = serviceNs();
  const c0 = cpuNs(Deno.pid);
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`No result after ${STUCK_MS / 1000} s: a message was lost?`)),
      STUCK_MS,
    );
  });
  try {
    await Promise.race([work(), stuck]);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const s1 = serviceNs();
  const c1 = cpuNs(Deno.pid);
  const perOp = (ns: number) => ns / 1000 / operations;
  return { seconds, serverCpuUs: perOp(s1 - s0), clientCpuUs: perOp(c1 - c0) };
}

// ------------------------------------------------------------------------------- NATS

/**
 * A bare NATS protocol connection (CONNECT, SUB, PUB, MSG; no client library) for the
 * baseline: what nats-server costs when the client costs next to nothing.
 */
class RawNats {
  readonly #conn: Deno.TcpConn;
  readonly #buffer = new Uint8Array(1 << 16);
  #pending = new Uint8Array(0);
  static readonly #encoder = new TextEncoder();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<RawNats> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const raw = new RawNats(conn);
    await raw.write('CONNECT {"verbose":false,"pedantic":false}\r\n');
    await raw.flush();
    return raw;
  }

  /** PING, then wait for PONG: the server has processed everything sent before. */
  async flush(): Promise<void> {
    await this.write("PING\r\n");
    while ((await this.#line()) !== "PONG") { /* INFO, or an earlier line */ }
  }

  async write(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? RawNats.#encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
  }

  async #fill(): Promise<void> {
    const n = await this.#conn.read(this.#buffer);
    if (n === null) throw new Error("nats-server closed the connection");
    const joined = new Uint8Array(this.#pending.length + n);
    joined.set(this.#pending);
    joined.set(this.#buffer.subarray(0, n), this.#pending.length);
    this.#pending = joined;
  }

  async #line(): Promise<string> {
    while (true) {
      const end = this.#pending.indexOf(0x0a);
      if (end !== -1) {
        const line = new TextDecoder().decode(this.#pending.subarray(0, end - 1));
        this.#pending = this.#pending.subarray(end + 1);
        return line;
      }
      await this.#fill();
    }
  }

  /** The payload of the next MSG, skipping PING (answered) and anything else. */
  async nextMessage(): Promise<Uint8Array> {
    while (true) {
      const line = await this.#line();
      if (line === "PING") {
        await this.write("PONG\r\n");
        continue;
      }
      if (!line.startsWith("MSG ")) continue;
      const size = Number(line.slice(line.lastIndexOf(" ") + 1));
      while (this.#pending.length < size + 2) await this.#fill();
      const payload = this.#pending.slice(0, size);
      this.#pending = this.#pending.subarray(size + 2);
      return payload;
    }
  }

  close(): void {
    this.#conn.close();
  }
}

async function benchNats(): Promise<void> {
  await using nats = await startNats({ cpus: SERVICE_CORE });
  const natsPid = nats.pid!;
  const a = await connect({ servers: nats.url, name: "bench-a" });
  const b = await connect({ servers: nats.url, name: "bench-b" });
  try {
    const payload = new Uint8Array(SIZE).fill(0x61);

    // Round trips: a → ping → b, b → pong → a, with `inFlight` independent pairs of
    // subjects each holding one message in flight. Two messages through the server each.
    b.subscribe("bench.ping.*", {
      callback: (_e, m: Msg) => b.publish(`bench.pong.${m.subject.slice(11)}`, m.data),
    });
    const waiting = new Map<string, () => void>();
    a.subscribe("bench.pong.*", { callback: (_e, m: Msg) => waiting.get(m.subject)?.() });
    await Promise.all([a.flush(), b.flush()]);
    const roundTrip = (pair: number) => {
      const pong = new Promise<void>((r) => waiting.set(`bench.pong.${pair}`, r));
      a.publish(`bench.ping.${pair}`, payload);
      return pong;
    };
    for (const inFlight of [1, 20]) {
      // More round trips when they are cheap, so that each run lasts a few seconds.
      const perPair = Math.ceil(RTT * (inFlight === 1 ? 1 : 10) / inFlight);
      const total = perPair * inFlight;
      for (let i = 0; i < Math.min(1000, perPair); i++) await roundTrip(0); // warm-up
      const rtts = new Float64Array(total);
      const m = await measured(() => cpuNs(natsPid), total * 2, async () => {
        await Promise.all(Array.from({ length: inFlight }, async (_, pair) => {
          for (let i = 0; i < perPair; i++) {
            const t = performance.now();
            await roundTrip(pair);
            rtts[pair * perPair + i] = performance.now() - t;
          }
        }));
      });
      const r = summarise(rtts);
      results.push({
        benchmark: `NATS round trip, ${inFlight} in flight`,
        detail: `${total} × ${SIZE} B ping→pong between 2 connections`,
        rate: total * 2 / m.seconds,
        p50Ms: r.p50,
        p99Ms: r.p99,
        serverCpuUs: m.serverCpuUs,
        clientCpuUs: m.clientCpuUs,
      });
    }

    // Baseline: the same round trip, one in flight, between two bare protocol connections.
    {
      const ra = await RawNats.connect(nats.port);
      const rb = await RawNats.connect(nats.port);
      try {
        await rb.write("SUB raw.ping 1\r\n");
        await ra.write("SUB raw.pong 1\r\n");
        await Promise.all([ra.flush(), rb.flush()]);
        const text = "a".repeat(SIZE);
        const ping = new TextEncoder().encode(`PUB raw.ping ${SIZE}\r\n${text}\r\n`);
        const pong = new TextEncoder().encode(`PUB raw.pong ${SIZE}\r\n${text}\r\n`);
        let echoing = true;
        const echo = (async () => {
          while (echoing) {
            await rb.nextMessage();
            await rb.write(pong);
          }
        })().catch(() => {});
        for (let i = 0; i < Math.min(1000, RTT); i++) {
          await ra.write(ping);
          await ra.nextMessage();
        }
        const rtts = new Float64Array(RTT);
        const m = await measured(() => cpuNs(natsPid), RTT * 2, async () => {
          for (let i = 0; i < RTT; i++) {
            const t = performance.now();
            await ra.write(ping);
            await ra.nextMessage();
            rtts[i] = performance.now() - t;
          }
        });
        echoing = false;
        const r = summarise(rtts);
        results.push({
          benchmark: "NATS round trip, 1 in flight, raw protocol client (baseline)",
          detail: `${RTT} × ${SIZE} B ping→pong between 2 bare connections`,
          rate: RTT * 2 / m.seconds,
          p50Ms: r.p50,
          p99Ms: r.p99,
          serverCpuUs: m.serverCpuUs,
          clientCpuUs: m.clientCpuUs,
        });
        ra.close();
        rb.close();
        await echo;
      } catch (error) {
        ra.close();
        rb.close();
        throw error;
      }
    }

    // Throughput: a publishes as fast as it can (flushing every 1,000, which bounds what the
    // client buffers), b counts until it has all of them.
    let received = 0;
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((r) => (resolveAll = r));
    b.subscribe("bench.flood", {
      callback: () => {
        if (++received === MESSAGES) resolveAll();
      },
    });
    await b.flush();
    const flood = await measured(() => cpuNs(natsPid), MESSAGES, async () => {
      for (let i = 0; i < MESSAGES; i++) {
        a.publish("bench.flood", payload);
        if (i % 1000 === 999) await a.flush();
      }
      await a.flush();
      await all;
    });
    results.push({
      benchmark: "NATS throughput",
      detail: `${MESSAGES} × ${SIZE} B, 1 publisher → 1 subscriber`,
      rate: MESSAGES / flood.seconds,
      serverCpuUs: flood.serverCpuUs,
      clientCpuUs: flood.clientCpuUs,
    });
  } finally {
    await a.drain();
    await b.drain();
  }
}

// ------------------------------------------------------------------------- PostgreSQL

async function benchPostgres(durable: boolean): Promise<void> {
  await using pg = await startPostgres({ cpus: SERVICE_CORE, durable });
  const postmaster = pg.pid!;
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  const label = durable ? "durable (fsync on)" : "test settings (fsync off)";
  try {
    await sql`create table messages (
      id bigint generated always as identity primary key,
      recipient text not null,
      body text not null,
      sent_at timestamptz not null default now()
    )`;
    await sql`create index messages_recipient on messages (recipient, id)`;
    const body = "a".repeat(SIZE);
    const recipients = Array.from({ length: 100 }, (_, i) => `user${i}`);

    const time = async (name: string, detail: string, op: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < Math.min(500, QUERIES); i++) await op(i); // warm-up, prepares
      const samples = new Float64Array(QUERIES);
      const m = await measured(() => treeNs(postmaster), QUERIES, async () => {
        for (let i = 0; i < QUERIES; i++) {
          const t = performance.now();
          await op(i);
          samples[i] = performance.now() - t;
        }
      });
      const s = summarise(samples);
      results.push({
        benchmark: name,
        detail: `${detail}, ${label}`,
        rate: QUERIES / m.seconds,
        p50Ms: s.p50,
        p99Ms: s.p99,
        serverCpuUs: m.serverCpuUs,
        clientCpuUs: m.clientCpuUs,
      });
    };

    await time(
      "PostgreSQL insert",
      `${QUERIES} single-row autocommit inserts, ${SIZE} B body`,
      (i) =>
        sql`insert into messages (recipient, body)
            values (${recipients[i % recipients.length]!}, ${body})`,
    );
    const [last] = await sql`select max(id)::text as max from messages`;
    const ids = Number(last?.max);
    await time(
      "PostgreSQL select by key",
      `${QUERIES} primary-key lookups of one row`,
      (i) => sql`select id, recipient, body from messages where id = ${(i * 7919) % ids + 1}`,
    );
    await time(
      "PostgreSQL select by index",
      `${QUERIES} newest-20 by (recipient, id) index`,
      (i) =>
        sql`select id, body from messages where recipient = ${recipients[i % recipients.length]!}
            order by id desc limit 20`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// ------------------------------------------------------------------------------- main

const taskset = await new Deno.Command("taskset", {
  args: ["-a", "-p", "-c", CLIENT_CORE, String(Deno.pid)],
  stdout: "null",
  stderr: "piped",
}).output().catch(() => undefined);
const pinnedNote = taskset?.success
  ? `services on core ${SERVICE_CORE}, this process on core ${CLIENT_CORE}`
  : "not pinned (no taskset)";
console.error(`bench_services: ${pinnedNote}; Deno ${Deno.version.deno}`);

if (only.has("nats")) await benchNats();
if (only.has("pg")) {
  await benchPostgres(false);
  await benchPostgres(true);
}

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined ? "" : n.toLocaleString("en-US", { maximumFractionDigits: digits });
console.log(
  "| benchmark | detail | msg/s or stmt/s | p50 ms | p99 ms | server CPU µs/op | client CPU µs/op |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  console.log(
    `| ${r.benchmark} | ${r.detail} | ${fmt(r.rate, 0)} | ${fmt(r.p50Ms, 3)} | ${
      fmt(r.p99Ms, 3)
    } | ${fmt(r.serverCpuUs, 1)} | ${fmt(r.clientCpuUs, 1)} |`,
  );
}
if (flags.json) {
  await Deno.writeTextFile(flags.json, JSON.stringify({ pinned: pinnedNote, results }, null, 2));
}
