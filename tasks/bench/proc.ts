/**
 * A process's CPU time and memory, read from Linux's /proc: what the bench reports as server
 * CPU per message and RSS. /proc/PID/stat counts the time of every thread of the process
 * (V8's GC helpers and Deno's I/O threads included), which is the true cost of a message.
 *
 * @module
 */

/** CPU time from /proc/PID/stat, in clock ticks. */
export interface ProcStat {
  /** Time in user mode (field 14). */
  utimeTicks: number;
  /** Time in kernel mode (field 15). */
  stimeTicks: number;
}

/** One reading of a process. */
export interface ProcSample {
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Resident set size, KiB. */
  rssKiB: number;
  /** performance.now() when read, ms. */
  at: number;
}

/**
 * Parses /proc/PID/stat. The second field, the command name, is in parentheses and may itself
 * contain spaces and parentheses, so fields are counted from the last ")".
 *
 * @example
 * ```ts
 * parseStat("42 (deno) S 1 42 42 0 -1 0 0 0 0 0 150 30 0 0 20 0 8 0 1 1 1");
 * // { utimeTicks: 150, stimeTicks: 30 }
 * ```
 * @throws {Error} when the text is not a stat line.
 */
export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  // After ") " come fields 3 (state) onwards; utime and stime are fields 14 and 15.
  const fields = close < 0 ? [] : text.slice(close + 2).trim().split(" ");
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (fields.length < 13 || !Number.isInteger(utimeTicks) || !Number.isInteger(stimeTicks)) {
    throw new Error(`Cannot parse /proc stat: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { utimeTicks, stimeTicks };
}

/**
 * Reads VmRSS (KiB) from /proc/PID/status.
 *
 * @example
 * ```ts
 * parseStatusRssKiB("Name:\tdeno\nVmRSS:\t   65536 kB\n"); // 65536
 * ```
 * @throws {Error} when there is no VmRSS line (a zombie has none).
 */
export function parseStatusRssKiB(text: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  if (!match) throw new Error("Cannot parse /proc status: no VmRSS line");
  return Number(match[1]);
}

/**
 * Reads a live process's CPU ticks and RSS.
 *
 * @example
 * ```ts
 * const before = sampleProcess(Deno.pid);
 * ```
 */
export function sampleProcess(pid: number): ProcSample {
  const stat = parseStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  const rssKiB = parseStatusRssKiB(Deno.readTextFileSync(`/proc/${pid}/status`));
  return { cpuTicks: stat.utimeTicks + stat.stimeTicks, rssKiB, at: performance.now() };
}

/**
 * Clock ticks per second (`getconf CLK_TCK`); 100, Linux's value on every common
 * architecture, when getconf cannot be run.
 */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const { stdout, success } = await new Deno.Command("getconf", {
      args: ["CLK_TCK"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const ticks = Number(new TextDecoder().decode(stdout).trim());
    if (success && Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // No getconf: fall through.
  }
  return 100;
}

/**
 * CPU seconds a process used between two samples.
 *
 * @example
 * ```ts
 * cpuSeconds({ cpuTicks: 100, rssKiB: 0, at: 0 }, { cpuTicks: 350, rssKiB: 0, at: 5000 }, 100);
 * // 2.5
 * ```
 */
export function cpuSeconds(before: ProcSample, after: ProcSample, ticksPerSecond: number): number {
  return (after.cpuTicks - before.cpuTicks) / ticksPerSecond;
}

/**
 * A process's share of one core between two samples, in percent.
 *
 * @example
 * ```ts
 * cpuPercent({ cpuTicks: 100, rssKiB: 0, at: 0 }, { cpuTicks: 350, rssKiB: 0, at: 5000 }, 100);
 * // 50
 * ```
 */
export function cpuPercent(before: ProcSample, after: ProcSample, ticksPerSecond: number): number {
  return cpuSeconds(before, after, ticksPerSecond) / ((after.at - before.at) / 1000) * 100;
}

/**
 * CPU microseconds per message between two samples; NaN when no message was counted.
 *
 * @example
 * ```ts
 * cpuMicrosPerMessage({ cpuTicks: 0, rssKiB: 0, at: 0 }, { cpuTicks: 300, rssKiB: 0, at: 5000 },
 *   100_000, 100); // 30
 * ```
 */
export function cpuMicrosPerMessage(
  before: ProcSample,
  after: ProcSample,
  messages: number,
  ticksPerSecond: number,
): number {
  if (messages <= 0) return NaN;
  return cpuSeconds(before, after, ticksPerSecond) * 1e6 / messages;
}

/**
 * The machine's 1-minute load average (/proc/loadavg): on a shared machine, the context a run
 * needs to be read in.
 *
 * @example
 * ```ts
 * parseLoadAverage("2.09 1.47 0.85 3/120 4242\n"); // 2.09
 * ```
 * @throws {Error} when the text is not a loadavg line.
 */
export function parseLoadAverage(text: string): number {
  const match = /^(\d+(?:\.\d+)?) /.exec(text);
  if (!match) throw new Error(`Cannot parse /proc/loadavg: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(match[1]);
}

/** The 1-minute load average now. */
export function loadAverage(): number {
  return parseLoadAverage(Deno.readTextFileSync("/proc/loadavg"));
}
