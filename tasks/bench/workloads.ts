/**
 * The workloads that a load generator drives against one server: ping-pong, flood, idle, and
 * the server's start-up memory. Each starts a fresh server, measures it from /proc over a
 * window that excludes logins and warm-up, and returns one row.
 *
 * @module
 */
import { type GeneratorProgram, GeneratorRun } from "./generator.ts";
import type { Pinning } from "./pinning.ts";
import { cpuMicrosPerMessage, cpuPercent, sampleProcess } from "./proc.ts";
import type { BenchRow } from "./report.ts";
import { startTarget, type Target, type TargetKind } from "./target.ts";

/** What every workload needs, the same for both servers of a run. */
export interface BenchContext {
  pinning: Pinning;
  generator: GeneratorProgram;
  ticksPerSecond: number;
  dbPath: string;
  /** The bench users' legacy stored value, hex. */
  legacyStored: string;
  /** jim-server's connection caps. */
  connectionLimit: number;
  pairs: number;
  window: number;
  /** Seconds of traffic before the window opens: JIT warm-up. */
  warmup: number;
  /** Seconds in the measured window. */
  seconds: number;
  idle: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh server of `kind` on the run's database, pinning and connection caps. */
export function startServer(
  ctx: BenchContext,
  kind: TargetKind,
  profileDir?: string,
): Promise<Target> {
  return startTarget({
    kind,
    dbPath: ctx.dbPath,
    pinning: ctx.pinning,
    connectionLimit: ctx.connectionLimit,
    profileDir,
  });
}

/**
 * Ping-pong (each pair answers every message on arrival: one in flight per pair) or flood
 * (each sender keeps `window` in flight, one more per response). Rate and CPU per message
 * count messages received by their recipients.
 */
export async function runMessaging(
  ctx: BenchContext,
  kind: TargetKind,
  mode: "pingpong" | "flood",
  options: { profileDir?: string } = {},
): Promise<BenchRow> {
  await using server = await startServer(ctx, kind, options.profileDir);
  await using generator = GeneratorRun.start(ctx.generator, ctx.pinning, {
    mode,
    port: server.port,
    prefix: "p",
    count: ctx.pairs * 2,
    stored: ctx.legacyStored,
    window: ctx.window,
  });
  await generator.ready();
  await generator.go();
  await sleep(ctx.warmup * 1000);
  const serverBefore = sampleProcess(server.pid);
  const generatorBefore = sampleProcess(generator.pid);
  await generator.mark();
  await sleep(ctx.seconds * 1000);
  const serverAfter = sampleProcess(server.pid);
  const generatorAfter = sampleProcess(generator.pid);
  const result = await generator.stop();
  const ticks = ctx.ticksPerSecond;
  return {
    workload: mode === "pingpong" ? "ping-pong" : "flood",
    server: kind,
    detail: mode === "pingpong"
      ? `${ctx.pairs} pairs, 1 in flight each, ${ctx.seconds} s`
      : `${ctx.pairs} senders, ${ctx.window} in flight each, ${ctx.seconds} s`,
    rate: result.messages / result.seconds,
    rateUnit: "msg/s",
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    serverCpuPercent: cpuPercent(serverBefore, serverAfter, ticks),
    cpuMicrosPerMessage: cpuMicrosPerMessage(serverBefore, serverAfter, result.messages, ticks),
    rssMiB: serverAfter.rssKiB / 1024,
    generatorCpuPercent: cpuPercent(generatorBefore, generatorAfter, ticks),
    notes: [
      result.errors ? `${result.errors} errors` : "",
      options.profileDir ? "profiled (--cpu-prof slows it)" : "",
    ].filter(Boolean).join(", ") || undefined,
  };
}

/** `ctx.idle` sessions log in and stay silent; RSS growth is read 2 s after the last login. */
export async function runIdle(ctx: BenchContext, kind: TargetKind): Promise<BenchRow> {
  await using server = await startServer(ctx, kind);
  await sleep(500);
  const before = sampleProcess(server.pid);
  await using generator = GeneratorRun.start(ctx.generator, ctx.pinning, {
    mode: "idle",
    port: server.port,
    prefix: "i",
    count: ctx.idle,
    stored: ctx.legacyStored,
    concurrency: 200,
  });
  const ready = await generator.ready();
  // Let the server settle (GC, buffers) before reading its memory.
  await sleep(2000);
  const after = sampleProcess(server.pid);
  await generator.stop();
  const growthKiB = after.rssKiB - before.rssKiB;
  return {
    workload: "idle",
    server: kind,
    detail: `${ctx.idle} logged-in silent sessions`,
    rate: ready.logins / ready.loginSeconds,
    rateUnit: "logins/s",
    rssMiB: after.rssKiB / 1024,
    rssGrowthMiB: growthKiB / 1024,
    notes: `${(growthKiB / ctx.idle).toFixed(1)} KiB/session`,
  };
}

/** The server's RSS 1 s after it starts listening, with no connection. */
export async function runStartup(ctx: BenchContext, kind: TargetKind): Promise<BenchRow> {
  await using server = await startServer(ctx, kind);
  await sleep(1000);
  const sample = sampleProcess(server.pid);
  return {
    workload: "start-up",
    server: kind,
    detail: kind === "jim-server" ? "jim-server serve, no connection" : `${kind}, no connection`,
    rssMiB: sample.rssKiB / 1024,
  };
}
