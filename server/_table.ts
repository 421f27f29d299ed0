/**
 * Plain-text tables and times for the admin commands (`user list`, `room list`).
 *
 * @module
 */

/** A time as the admin commands print it: `2026-12-02 01:15:00Z`, or "never". */
export function formatTime(ms: number | null): string {
  if (ms === null) return "never";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Rows as lines, each column as wide as its widest cell, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows.map((row) =>
    row.map((cell, i) => cell + " ".repeat(widths[i]! - [...cell].length)).join("  ").trimEnd()
  );
}
