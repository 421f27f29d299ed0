/** How the console client shows messages and contacts. */
import type { Contact } from "./jim_client.ts";
import type { MessageRecord } from "./history.ts";
import type { Painter } from "./_terminal.ts";

const pad = (n: number) => String(n).padStart(2, "0");

/** Local time as HH:MM:SS. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time as YYYY-MM-DD HH:MM:SS. */
export function stamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/**
 * One message as a line: `[12:00:01] bob: hello` for incoming, `[12:00:02] alice → bob: hi`
 * for outgoing, with the failure and its retry id when it was not delivered.
 */
export function formatMessage(
  record: MessageRecord,
  me: string,
  paint: Painter,
  options: { date?: boolean } = {},
): string {
  const when = paint.dim(`[${options.date ? stamp(record.time) : clock(record.time)}]`);
  // Control characters from the wire could move the cursor or recolor the terminal.
  // deno-lint-ignore no-control-regex
  const text = record.text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "\uFFFD");
  if (record.direction === "in") {
    return `${when} ${paint.bold(paint.cyan(record.contact))}: ${text}`;
  }
  const head = `${when} ${paint.green(me)} → ${paint.bold(record.contact)}: ${text}`;
  if (record.status === "failed") {
    return `${head} ${
      paint.red(`[not delivered: ${record.error ?? "unknown error"}; #${record.id}]`)
    }`;
  }
  if (record.status === "sent") return `${head} ${paint.yellow("[unconfirmed]")}`;
  return head;
}

/** The contact list, one per line, with online marks. */
export function formatContacts(contacts: readonly Contact[], paint: Painter): string {
  if (contacts.length === 0) return "No contacts yet: /add NAME";
  const lines = contacts.map((c) =>
    c.online
      ? `  ${paint.green("●")} ${paint.bold(c.login)} (online)`
      : `  ${paint.dim("○")} ${c.login} ${paint.dim("(offline)")}`
  );
  return [`Contacts (${contacts.length}):`, ...lines].join("\n");
}
