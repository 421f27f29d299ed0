/** How the console client shows messages and contacts. */
import type { Contact } from "./jim_client.ts";
import type { MessageRecord, RoomRecord } from "./history.ts";
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

/** Options of {@linkcode formatMessage}. */
export interface FormatOptions {
  /** The date as well as the time. */
  date?: boolean;
  /**
   * Every delivery mark (✓ stored, ✓✓ delivered, ✓✓ read) and the message's `#id`, as
   * /history shows them; otherwise only what is news on a live line (stored, unconfirmed,
   * failed).
   */
  marks?: boolean;
  /** A note after the line, e.g. "(from another device)". */
  note?: string;
  /**
   * Without `marks`: whether the news states show at all (true by default). A carbon's line
   * leaves them out: its state is only known once a receipt comes.
   */
  state?: boolean;
}

/**
 * The mark of an own message: `✓ stored`, `✓✓` delivered, `✓✓ read`.
 *
 * @example
 * ```ts
 * stateMark("read"); // "✓✓ read"
 * ```
 */
export function stateMark(status: MessageRecord["status"]): string {
  switch (status) {
    case "stored":
      return "✓ stored";
    case "delivered":
      return "✓✓";
    case "read":
      return "✓✓ read";
    case "sent":
      return "[unconfirmed]";
    case "failed":
      return "[not delivered]";
  }
}

/**
 * One message as a line: `[12:00:01] bob: hello` for incoming, `[12:00:02] alice → bob: hi`
 * for outgoing, and in a room `[12:01:02] #room alice: text` either way. Outgoing lines add
 * the failure and its retry id when it was not delivered, and (not in rooms) `✓ stored`
 * while the server keeps it for an offline recipient. With `marks`, every state and the id:
 * `[12:00:02] #4 alice → bob: hi ✓✓ read`.
 */
export function formatMessage(
  record: MessageRecord,
  me: string,
  paint: Painter,
  options: FormatOptions = {},
): string {
  const when = paint.dim(`[${options.date ? stamp(record.time) : clock(record.time)}]`);
  const id = options.marks ? ` ${paint.dim(`#${record.id}`)}` : "";
  const note = options.note ? ` ${paint.dim(options.note)}` : "";
  // Control characters from the wire could move the cursor or recolor the terminal.
  // deno-lint-ignore no-control-regex
  const text = record.text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "\uFFFD");
  const room = record.contact.startsWith("#") ? record.contact : undefined;
  if (room !== undefined && record.direction === "in") {
    return `${when}${id} ${paint.bold(room)} ${paint.cyan(record.sender ?? "?")}: ${text}${note}`;
  }
  if (record.direction === "in") {
    return `${when}${id} ${paint.bold(paint.cyan(record.contact))}: ${text}${note}`;
  }
  const head = room === undefined
    ? `${when}${id} ${paint.green(me)} → ${paint.bold(record.contact)}: ${text}`
    : `${when}${id} ${paint.bold(room)} ${paint.green(me)}: ${text}`;
  if (record.status === "failed") {
    return `${head} ${
      paint.red(`[not delivered: ${record.error ?? "unknown error"}; #${record.id}]`)
    }${note}`;
  }
  // Rooms have no receipts: delivery marks would say nothing about the members.
  if (room !== undefined) return `${head}${note}`;
  if (options.marks) {
    const mark = stateMark(record.status);
    return `${head} ${
      record.status === "sent" || record.status === "stored"
        ? paint.yellow(mark)
        : paint.green(mark)
    }${note}`;
  }
  if (options.state === false) return `${head}${note}`;
  if (record.status === "sent") return `${head} ${paint.yellow("[unconfirmed]")}${note}`;
  if (record.status === "stored") return `${head} ${paint.yellow(stateMark("stored"))}${note}`;
  return `${head}${note}`;
}

/**
 * Where a message stands, in words, for /status: "read by bob", "stored on the server: bob
 * gets it at the next login", "not delivered: … (/retry 4)".
 */
export function describeState(record: MessageRecord): string {
  const who = record.contact;
  if (record.direction === "in") {
    return record.status === "read" ? `from ${who}, read` : `from ${who}, unread`;
  }
  switch (record.status) {
    case "sent":
      return `to ${who}, waiting for the server's reply`;
    case "stored":
      return `to ${who}, stored on the server: ${who} gets it at the next login`;
    case "delivered":
      return `to ${who}, delivered`;
    case "read":
      return `to ${who}, read by ${who}`;
    case "failed":
      return `to ${who}, not delivered: ${record.error ?? "unknown error"} (/retry ${record.id})`;
  }
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

/** The rooms list, one per line, with the owner, the member count and unread messages. */
export function formatRooms(
  rooms: readonly RoomRecord[],
  unread: ReadonlyMap<string, number>,
  me: string,
  paint: Painter,
): string {
  if (rooms.length === 0) return "No rooms yet: /join #room";
  const lines = rooms.map((r) => {
    const parts = [
      r.owner === undefined ? "" : r.owner === me ? "yours" : `owner ${r.owner}`,
      r.members === undefined ? "" : `${r.members} member${r.members === 1 ? "" : "s"}`,
      r.inviteOnly ? "invite-only" : "",
    ].filter(Boolean);
    const n = unread.get(r.room) ?? 0;
    return `  ${paint.bold(r.room)}${parts.length ? paint.dim(` (${parts.join(", ")})`) : ""}${
      n > 0 ? ` ${paint.yellow(`${n} unread`)}` : ""
    }`;
  });
  return [`Rooms (${rooms.length}):`, ...lines].join("\n");
}
