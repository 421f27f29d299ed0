/**
 * Turns a conversation into the rows the Messages panel shows: day separators (Today,
 * Yesterday, then dates), the unread line, and messages grouped under one heading while one
 * sender writes within a few minutes. Pure, with the clock passed in, so it is tested with
 * any "now".
 *
 * @module
 */

/** What grouping needs of a message. */
export interface TimelineItem {
  /** Stable across renders: the message id, or the page's id while it is not stored yet. */
  key: string;
  /** The sender's login. */
  from: string;
  /** Milliseconds since the epoch. */
  time: number;
}

/** One row of the Messages panel. */
export type TimelineRow<T extends TimelineItem> =
  | { kind: "day"; key: string; label: string; time: number }
  | { kind: "unread"; key: string }
  | {
    kind: "message";
    key: string;
    item: T;
    /** The first of its group: shows the sender and the time. */
    head: boolean;
  };

/** Options for {@linkcode buildTimeline}. */
export interface TimelineOptions {
  /** The clock, for Today and Yesterday. */
  now: number;
  /** Key of the first message not seen yet; the unread line goes above it. */
  unreadFrom?: string | null;
  /** Largest gap between two messages of one group (5 minutes by default). */
  groupMs?: number;
}

/** Five minutes. */
export const GROUP_MS = 5 * 60_000;

const pad = (n: number) => String(n).padStart(2, "0");
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function dayStart(time: number): number {
  const d = new Date(time);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/**
 * A message time as `HH:MM`, local time.
 *
 * @example
 * ```ts
 * clockTime(new Date(2026, 10, 25, 9, 5).getTime()); // "09:05"
 * ```
 */
export function clockTime(time: number): string {
  const d = new Date(time);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The full local date and time, for a tooltip: `2026-11-25 09:05:07`.
 *
 * @example
 * ```ts
 * fullTime(new Date(2026, 10, 25, 9, 5, 7).getTime()); // "2026-11-25 09:05:07"
 * ```
 */
export function fullTime(time: number): string {
  const d = new Date(time);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

/**
 * The separator label of the day `time` falls on: "Today", "Yesterday", the weekday and
 * date this year ("Monday 23 November"), with the year before that ("Friday 20 March 2025").
 *
 * @example
 * ```ts
 * dayLabel(Date.now(), Date.now()); // "Today"
 * ```
 */
export function dayLabel(time: number, now: number): string {
  const day = dayStart(time);
  const today = dayStart(now);
  if (day === today) return "Today";
  // Calendar days, not 24 hours: daylight saving makes some days 23 or 25 hours long.
  const yesterday = dayStart(new Date(today).setDate(new Date(today).getDate() - 1));
  if (day === yesterday) return "Yesterday";
  const d = new Date(time);
  const base = `${WEEKDAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === new Date(now).getFullYear() ? base : `${base} ${d.getFullYear()}`;
}

/**
 * The rows for `items` (oldest first).
 *
 * @example
 * ```ts
 * const now = Date.now();
 * buildTimeline([{ key: "1", from: "bob", time: now }], { now }).map((r) => r.kind);
 * // ["day", "message"]
 * ```
 */
export function buildTimeline<T extends TimelineItem>(
  items: readonly T[],
  options: TimelineOptions,
): TimelineRow<T>[] {
  const groupMs = options.groupMs ?? GROUP_MS;
  const rows: TimelineRow<T>[] = [];
  let prev: T | undefined;
  let prevDay = NaN;
  for (const item of items) {
    const day = dayStart(item.time);
    let head = prev === undefined || prev.from !== item.from ||
      item.time - prev.time > groupMs || item.time < prev.time;
    if (day !== prevDay) {
      rows.push({
        kind: "day",
        key: `day-${day}`,
        label: dayLabel(item.time, options.now),
        time: day,
      });
      prevDay = day;
      head = true;
    }
    if (options.unreadFrom != null && item.key === options.unreadFrom) {
      rows.push({ kind: "unread", key: "unread" });
      head = true;
    }
    rows.push({ kind: "message", key: item.key, item, head });
    prev = item;
  }
  return rows;
}
