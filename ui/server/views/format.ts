/**
 * Turns admin data into the text the page shows.
 *
 * @module
 */
import type { LogEntry } from "../../components/mod.ts";
import type { LogEvent } from "../_types.ts";

/** Event times may come in seconds (JIM style) or milliseconds; both become milliseconds. */
export function toMillis(time: number): number {
  return time < 1e12 ? Math.round(time * 1000) : time;
}

/**
 * Formats a time as local "YYYY-MM-DD HH:MM:SS", like the seed's Clients table.
 *
 * @example
 * ```ts
 * formatDateTime(null); // "never"
 * ```
 */
export function formatDateTime(time: number | null): string {
  if (time === null) return "never";
  const d = new Date(toMillis(time));
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

function who(ev: LogEvent): string {
  const c = ev.conn;
  if (!c) return "";
  const addr = c.ip !== undefined ? `${c.ip}${c.port !== undefined ? `:${c.port}` : ""}` : "";
  const parts = [c.user, addr, `#${c.id}`].filter((s) => s !== undefined && s !== "");
  return parts.join(" ");
}

function pretty(payload: unknown): string | undefined {
  if (payload === undefined) return undefined;
  try {
    return JSON.stringify(payload, null, 2);
  } catch {
    return String(payload);
  }
}

/**
 * Builds a Service info line from a server or GUI event: a readable head and the payload as
 * indented JSON.
 *
 * @example
 * ```ts
 * formatLogEvent({ time: Date.now(), type: "connect", conn: { id: 1, ip: "127.0.0.1" } });
 * ```
 */
export function formatLogEvent(ev: LogEvent): Omit<LogEntry, "id"> {
  const w = who(ev);
  const msg = ev.message ? `: ${ev.message}` : "";
  const body = pretty(ev.payload);
  const time = toMillis(ev.time);
  switch (ev.type) {
    case "start":
      return { time, head: `Server started${msg}`, body, level: "notice" };
    case "stop":
      return { time, head: `Server stopped${msg}`, body, level: "notice" };
    case "connect":
      return { time, head: `Connected: ${w}${msg}`, body };
    case "disconnect":
      return { time, head: `Disconnected: ${w}${msg}`, body };
    case "login":
      // The server's message only repeats the login.
      return { time, head: `Logged in: ${w}`, body, level: "notice" };
    case "request":
      return { time, head: `Request from ${w}:`, body };
    case "response":
      return { time, head: `Response to ${w}:`, body };
    case "push":
      return { time, head: `Sent to ${w}:`, body };
    case "error":
      return { time, head: `Error${w ? ` (${w})` : ""}${msg}`, body, level: "error" };
    case "gui":
      return { time, head: ev.message ?? "GUI", body, level: "notice" };
    default:
      return { time, head: `${ev.type}${w ? ` ${w}` : ""}${msg}`, body };
  }
}
