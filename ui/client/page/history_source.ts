/**
 * Where the conversation view gets its messages: the latest page, then older pages on
 * "Load older", and a window around a search hit with newer pages after it. It is the chat
 * GUI's API, which answers from the local SQLite history and, once that is exhausted and the
 * chat server keeps history, pages older messages in from the server.
 *
 * @module
 */
import { apiJson } from "../../api_client.ts";
import type { MessagesReply, MessageView } from "../_types.ts";

/** One page of a conversation, oldest first. */
export interface HistoryPage {
  messages: MessageView[];
  /** Whether older messages remain. */
  more: boolean;
  /** Whether newer messages follow (pages from {@linkcode HistorySource.around} and after). */
  newer?: boolean;
}

/** Pages of one conversation, newest page first. */
export interface HistorySource {
  /** The last `limit` messages with `contact`. */
  latest(contact: string, limit: number): Promise<HistoryPage>;
  /** The `limit` messages before `oldest`. */
  before(contact: string, oldest: MessageView, limit: number): Promise<HistoryPage>;
  /** A window of `limit` that starts a few messages before `id`. */
  around(contact: string, id: number, limit: number): Promise<HistoryPage>;
  /** The `limit` messages after `newest`. */
  after(contact: string, newest: MessageView, limit: number): Promise<HistoryPage>;
}

function path(contact: string, query: Record<string, string | number>): string {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return `/api/messages/${encodeURIComponent(contact)}?${q}`;
}

/**
 * The local history, through GET /api/messages/:contact.
 *
 * @example
 * ```ts
 * const page = await guiHistory.latest("bob", 50);
 * if (page.more) await guiHistory.before("bob", page.messages[0]!, 50);
 * ```
 */
export const guiHistory: HistorySource = {
  async latest(contact, limit) {
    const reply = await apiJson<MessagesReply>(path(contact, { limit }));
    return { messages: reply.messages, more: reply.more };
  },
  async before(contact, oldest, limit) {
    const reply = await apiJson<MessagesReply>(path(contact, { limit, before: oldest.id }));
    return { messages: reply.messages, more: reply.more };
  },
  async around(contact, id, limit) {
    const reply = await apiJson<MessagesReply>(path(contact, { limit, around: id }));
    return { messages: reply.messages, more: reply.more, newer: reply.newer };
  },
  async after(contact, newest, limit) {
    const reply = await apiJson<MessagesReply>(path(contact, { limit, after: newest.id }));
    return { messages: reply.messages, more: true, newer: reply.newer };
  },
};
