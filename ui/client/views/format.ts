/**
 * Small formatting helpers of the chat views.
 *
 * @module
 */

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * A message time as the Messages panel shows it: `HH:MM:SS` today, `YYYY-MM-DD HH:MM:SS`
 * on other days, in local time.
 *
 * @example
 * ```ts
 * messageTime(Date.now()); // "14:03:07"
 * ```
 */
export function messageTime(time: number, now: number = Date.now()): string {
  const d = new Date(time);
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date(now);
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() &&
    d.getDate() === today.getDate();
  return sameDay
    ? clock
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}`;
}
