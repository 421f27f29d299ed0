/**
 * Turns admin data into the text the page shows.
 *
 * @module
 */
import type { LogEvent, ServiceEntry } from "../_types.ts";

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

/** How a Service info entry reads on its one line. */
export interface LogLine {
  text: string;
  level: "info" | "notice" | "error";
}

const sized = (size: { chars: number; bytes: number } | undefined) =>
  size ? ` (${size.chars} characters, ${size.bytes} bytes)` : "";

function quoted(text: unknown): string {
  if (typeof text !== "string" || text === "[hidden]") return "";
  return `: ${JSON.stringify(text.length > 200 ? `${text.slice(0, 199)}…` : text)}`;
}

/** What a request or push is about, from its payload: the action and whom it concerns. */
function about(payload: unknown, size: { chars: number; bytes: number } | undefined): string {
  if (typeof payload !== "object" || payload === null) return String(payload);
  const p = payload as Record<string, unknown>;
  const action = typeof p.action === "string" ? p.action : "?";
  if (action === "msg") {
    return `msg ${p.from ?? "?"} → ${p.to ?? "?"}${sized(size)}${quoted(p.message)}`;
  }
  const target = p.user_id ?? (p.user as { account_name?: unknown } | undefined)?.account_name;
  return typeof target === "string" ? `${action} ${target}` : action;
}

/**
 * One line for a Service info entry: what happened, who did it, and for a message whom it
 * was for and how long it was. The JSON is shown apart, on demand.
 *
 * @example
 * ```ts
 * logLine({ id: 1, time: 0, type: "connect", category: "connections",
 *   conn: { id: 1, ip: "127.0.0.1", port: 5000 } }).text;
 * // "Connected: 127.0.0.1:5000 #1"
 * ```
 */
export function logLine(ev: ServiceEntry): LogLine {
  const w = who(ev);
  const msg = ev.message ? `: ${ev.message}` : "";
  const p = ev.payload as Record<string, unknown> | undefined;
  switch (ev.type) {
    case "start":
      return { text: `Server started${msg}`, level: "notice" };
    case "stop":
      return { text: `Server stopped${msg}`, level: "notice" };
    case "connect":
      return { text: `Connected: ${w}${msg}`, level: "info" };
    case "disconnect":
      return { text: `Disconnected: ${w}${msg}`, level: "info" };
    case "login":
      // The server's message only repeats the login.
      return { text: `Logged in: ${w}`, level: "notice" };
    case "request":
      return { text: `Request from ${w}: ${about(ev.payload, ev.size)}`, level: "info" };
    case "push":
      return { text: `Sent to ${w}: ${about(ev.payload, ev.size)}`, level: "info" };
    case "response": {
      const code = typeof p?.response === "number" ? p.response : "?";
      const why = p?.error ?? p?.alert;
      return {
        text: `Response to ${w}: ${code}${typeof why === "string" ? ` ${why}` : ""}`,
        // 401 is the SCRAM challenge of every login.
        level: typeof code === "number" && code >= 400 && code !== 401 ? "error" : "info",
      };
    }
    case "error":
      return { text: `Error${w ? ` (${w})` : ""}${msg}`, level: "error" };
    case "gui":
      return { text: ev.message ?? "GUI", level: "notice" };
    default:
      return { text: `${ev.type}${w ? ` ${w}` : ""}${msg}`, level: "info" };
  }
}

/** The entry as indented JSON, for the details pane. */
export function entryJson(entry: ServiceEntry): string {
  return JSON.stringify(entry, null, 2);
}
