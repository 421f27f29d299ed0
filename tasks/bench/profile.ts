/**
 * Top self-time functions of a V8 CPU profile (the `.cpuprofile` JSON that `deno run
 * --cpu-prof` writes): which code the server spends its samples in.
 *
 * @module
 */
import { join, relative } from "node:path";

/** A node of the profile's call tree. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  /** Samples taken while this node was on top of the stack. */
  hitCount?: number;
  children?: number[];
}

/** The parts of a `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds. */
  startTime: number;
  /** Microseconds. */
  endTime: number;
}

/** One function's self time, summed over every call-tree node it appears in. */
export interface SelfTime {
  /** The function's name; "(anonymous)" when it has none. */
  name: string;
  /** Where it is defined: a path relative to the repository, or Deno's own URL. */
  location: string;
  hits: number;
  /** Estimated self time: hits times the mean sampling interval. */
  ms: number;
  /** Share of the samples in which the process was not idle, in percent. */
  percent: number;
}

/** What {@linkcode summarizeProfile} returns. */
export interface ProfileSummary {
  /** The functions with the most self time, most first. */
  top: SelfTime[];
  /** Profile duration, ms. */
  totalMs: number;
  /** Samples not in "(idle)". */
  busySamples: number;
}

/** V8's pseudo-frame for time spent waiting; left out of the busy share. */
const IDLE = "(idle)";

function location(url: string, line: number, root: string | undefined): string {
  if (!url) return "";
  let where = url;
  if (url.startsWith("file://")) {
    const path = new URL(url).pathname;
    where = root ? relative(root, path) : path;
  }
  return line >= 0 ? `${where}:${line + 1}` : where;
}

/**
 * Aggregates self time by function: name, script and line (so that two anonymous functions in
 * one file stay apart), and returns the `limit` largest.
 *
 * @example
 * ```ts
 * const profile = JSON.parse(await Deno.readTextFile("CPU.123.cpuprofile"));
 * summarizeProfile(profile, { limit: 10 }).top[0]; // { name: "decode", location: "…", … }
 * ```
 */
export function summarizeProfile(
  profile: CpuProfile,
  options: { limit?: number; root?: string } = {},
): ProfileSummary {
  const byFunction = new Map<string, SelfTime>();
  let samples = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    samples += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === IDLE) {
      idle += hits;
      continue;
    }
    const key = `${functionName}\0${url}\0${lineNumber}`;
    const entry = byFunction.get(key) ?? {
      name: functionName || "(anonymous)",
      location: location(url, lineNumber, options.root),
      hits: 0,
      ms: 0,
      percent: 0,
    };
    entry.hits += hits;
    byFunction.set(key, entry);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = samples > 0 ? totalMs / samples : 0;
  const busySamples = samples - idle;
  const top = [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits || a.name.localeCompare(b.name))
    .slice(0, options.limit ?? 20)
    .map((entry) => ({
      ...entry,
      ms: entry.hits * msPerSample,
      percent: busySamples > 0 ? entry.hits / busySamples * 100 : 0,
    }));
  return { top, totalMs, busySamples };
}

/**
 * Reads the newest `.cpuprofile` in a directory.
 *
 * @throws {Error} when the directory holds none (the process did not exit cleanly).
 */
export async function readNewestProfile(dir: string): Promise<CpuProfile> {
  let newest: { path: string; mtime: number } | undefined;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".cpuprofile")) continue;
    const path = join(dir, entry.name);
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (!newest || mtime > newest.mtime) newest = { path, mtime };
  }
  if (!newest) throw new Error(`No .cpuprofile in ${dir}: did the process exit cleanly?`);
  return JSON.parse(await Deno.readTextFile(newest.path));
}

/**
 * The summary as a Markdown table, for the terminal and docs/benchmarks.md.
 *
 * @example
 * ```ts
 * console.log(formatProfileTable(summarizeProfile(profile)).join("\n"));
 * ```
 */
export function formatProfileTable(summary: ProfileSummary): string[] {
  const rows = summary.top.map((entry) => [
    `${entry.percent.toFixed(1)}%`,
    entry.ms.toFixed(0),
    `\`${entry.name}\``,
    entry.location,
  ]);
  return [
    "| self % of busy | self ms | function | where |",
    "| ---: | ---: | --- | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
}
