/**
 * The bench's results: one row per workload and server, printed as a Markdown table with the
 * jim-server/relay ratios below it.
 *
 * @module
 */
import type { TargetKind } from "./target.ts";

/** One measured workload on one server. */
export interface BenchRow {
  workload: "start-up" | "ping-pong" | "flood" | "idle" | "login storm" | "presence";
  server: TargetKind;
  detail: string;
  rate?: number;
  rateUnit?: string;
  p50Ms?: number;
  p99Ms?: number;
  /** The server's share of one core over the measured window, percent. */
  serverCpuPercent?: number;
  /** Server CPU time over the window divided by the messages routed in it. */
  cpuMicrosPerMessage?: number;
  rssMiB?: number;
  /** Idle: RSS after the logins minus RSS before them. */
  rssGrowthMiB?: number;
  /** The load generator's share of one core over the same window, percent. */
  generatorCpuPercent?: number;
  notes?: string;
}

const number = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? "" : n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });

function markdown(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    "| " + row.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ") + " |";
  return [line(rows[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)];
}

/**
 * The rows as a Markdown table.
 *
 * @example
 * ```ts
 * console.log(formatTable(rows).join("\n"));
 * ```
 */
export function formatTable(rows: readonly BenchRow[]): string[] {
  return markdown([
    [
      "workload",
      "server",
      "detail",
      "rate",
      "p50 ms",
      "p99 ms",
      "server CPU %",
      "CPU µs/msg",
      "RSS MiB",
      "loadgen CPU %",
      "notes",
    ],
    ...rows.map((r) => [
      r.workload,
      r.server,
      r.detail,
      r.rate === undefined ? "" : `${number(r.rate)} ${r.rateUnit}`,
      number(r.p50Ms, 2),
      number(r.p99Ms, 2),
      number(r.serverCpuPercent),
      number(r.cpuMicrosPerMessage, 1),
      number(r.rssMiB, 1),
      number(r.generatorCpuPercent),
      [r.rssGrowthMiB === undefined ? "" : `RSS +${number(r.rssGrowthMiB, 1)} MiB`, r.notes ?? ""]
        .filter(Boolean).join(", "),
    ]),
  ]);
}

const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const NUMERIC_FIELDS = [
  "rate",
  "p50Ms",
  "p99Ms",
  "serverCpuPercent",
  "cpuMicrosPerMessage",
  "rssMiB",
  "rssGrowthMiB",
  "generatorCpuPercent",
] as const;

/**
 * Several rounds of one workload on one server as one row: the median of each figure.
 *
 * @example
 * ```ts
 * medianRow([round1, round2, round3]).cpuMicrosPerMessage;
 * ```
 */
export function medianRow(rounds: readonly BenchRow[]): BenchRow {
  const [first] = rounds;
  if (!first) throw new Error("medianRow() needs at least one row");
  if (rounds.length === 1) return first;
  const row: BenchRow = {
    ...first,
    detail: `${first.detail}, median of ${rounds.length}`,
    notes: [...new Set(rounds.map((r) => r.notes).filter(Boolean))].join(", ") || undefined,
  };
  for (const field of NUMERIC_FIELDS) {
    const values = rounds.map((r) => r[field]).filter((v) => v !== undefined);
    if (values.length > 0) row[field] = median(values);
  }
  return row;
}

/** jim-server over relay for one workload. */
export interface Ratio {
  workload: BenchRow["workload"];
  /** What is compared, e.g. "CPU per message". */
  measure: string;
  jim: number;
  relay: number;
  ratio: number;
}

/**
 * jim-server/relay ratios from rows of one run: CPU per message (ping-pong, flood), message
 * rate, idle RSS growth and start-up RSS.
 *
 * @example
 * ```ts
 * ratios(rows).map((r) => `${r.workload} ${r.measure}: ${r.ratio.toFixed(2)}x`);
 * ```
 */
export function ratios(rows: readonly BenchRow[]): Ratio[] {
  const measures: [string, (row: BenchRow) => number | undefined][] = [
    ["CPU per message", (row) => row.cpuMicrosPerMessage],
    ["msg/s", (row) => row.rateUnit === "msg/s" ? row.rate : undefined],
    ["RSS growth", (row) => row.rssGrowthMiB],
    ["RSS", (row) => row.workload === "start-up" ? row.rssMiB : undefined],
  ];
  const result: Ratio[] = [];
  for (const jimRow of rows.filter((row) => row.server === "jim-server")) {
    const relayRow = rows.find((row) => row.server === "relay" && row.workload === jimRow.workload);
    if (!relayRow) continue;
    for (const [measure, read] of measures) {
      const jim = read(jimRow);
      const relay = read(relayRow);
      if (jim === undefined || relay === undefined || !(relay > 0) || Number.isNaN(jim)) continue;
      result.push({ workload: jimRow.workload, measure, jim, relay, ratio: jim / relay });
    }
  }
  return result;
}
