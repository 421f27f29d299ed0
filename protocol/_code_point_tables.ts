/**
 * Decoders and lookups for the compact code point tables that tasks/unicode_data.ts writes.
 *
 * @module
 */

/** Sorted, disjoint inclusive ranges: starts and ends side by side. */
export interface RangeTable {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** Ranges, each with an index into a list of values (or an offset). */
export interface RunTable extends RangeTable {
  readonly values: Int32Array;
}

function numbers(encoded: string): number[] {
  return encoded === "" ? [] : encoded.split(",").map((n) => parseInt(n, 36));
}

/** Decodes base-36 (delta from previous end, length) pairs. */
export function decodeRanges(encoded: string): RangeTable {
  const n = numbers(encoded);
  const starts = new Uint32Array(n.length / 2);
  const ends = new Uint32Array(n.length / 2);
  let previous = 0;
  for (let i = 0; i < starts.length; i++) {
    starts[i] = previous + n[2 * i]!;
    ends[i] = previous = starts[i]! + n[2 * i + 1]!;
  }
  return { starts, ends };
}

/** Decodes base-36 (delta from previous end, length, value) triples. */
export function decodeRuns(encoded: string): RunTable {
  const n = numbers(encoded);
  const count = n.length / 3;
  const starts = new Uint32Array(count);
  const ends = new Uint32Array(count);
  const values = new Int32Array(count);
  let previous = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = previous + n[3 * i]!;
    ends[i] = previous = starts[i]! + n[3 * i + 1]!;
    values[i] = n[3 * i + 2]!;
  }
  return { starts, ends, values };
}

/** Index of the range holding `cp`, or -1. */
export function findRange(table: RangeTable, cp: number): number {
  let lo = 0;
  let hi = table.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cp < table.starts[mid]!) hi = mid - 1;
    else if (cp > table.ends[mid]!) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Whether `cp` lies in one of the ranges. */
export function inRanges(table: RangeTable, cp: number): boolean {
  return findRange(table, cp) >= 0;
}

/** The value of the run holding `cp`, or `fallback`. */
export function runValue(table: RunTable, cp: number, fallback: number): number {
  const i = findRange(table, cp);
  return i < 0 ? fallback : table.values[i]!;
}

/** "U+034F": how messages name a code point. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
}
