/**
 * One list for the Messages panel: the stored messages of a conversation, then what the
 * user typed that the GUI has not stored yet (the outbox), in the order typed.
 *
 * @module
 */
import type { MessageView } from "../_types.ts";
import type { OutboxItem } from "./outbox.ts";
import type { TimelineItem } from "./timeline.ts";

/** A message as the panel shows it. */
export interface ConversationItem extends TimelineItem {
  from: string;
  to: string;
  direction: "in" | "out";
  text: string;
  /**
   * The history's status ("sent" while the chat server's reply is awaited), or for an
   * outbox item "queued" (waiting its turn or the connection), "posting" (with the GUI) or
   * "refused" (the GUI said no: Retry or Discard).
   */
  status: MessageView["status"] | "queued" | "posting" | "refused";
  error?: string;
  /** The history id, for Retry of a failed message. */
  id?: number;
  /** The page's id, for an outbox item. */
  clientId?: string;
}

/**
 * Merges the stored messages with the outbox items `account` addressed to `contact`.
 *
 * @example
 * ```ts
 * conversationItems("bob", "alice", "alice@127.0.0.1:7777", [], []); // []
 * ```
 */
export function conversationItems(
  contact: string,
  me: string,
  account: string | null,
  messages: readonly MessageView[],
  outbox: readonly OutboxItem[],
): ConversationItem[] {
  const items: ConversationItem[] = messages.map((m) => {
    const item: ConversationItem = {
      key: `m${m.id}`,
      from: m.from,
      to: m.to,
      time: m.time,
      direction: m.direction,
      text: m.text,
      status: m.status,
      id: m.id,
    };
    if (m.error !== undefined) item.error = m.error;
    return item;
  });
  const stored = new Set(messages.map((m) => m.clientId).filter((id) => id !== undefined));
  for (const o of outbox) {
    if (o.to !== contact || o.account !== account || stored.has(o.clientId)) continue;
    const item: ConversationItem = {
      key: `c${o.clientId}`,
      from: me,
      to: o.to,
      // Queued items follow every stored message, whatever the clocks say.
      time: Math.max(o.time, items[items.length - 1]?.time ?? 0),
      direction: "out",
      text: o.text,
      status: o.state === "failed" ? "refused" : o.state === "sending" ? "posting" : "queued",
      clientId: o.clientId,
    };
    if (o.error !== undefined) item.error = o.error;
    items.push(item);
  }
  return items;
}
