/**
 * Where the conversation view gets its messages: the latest page, then older pages on
 * "Load older". Today that is the local SQLite history through the chat GUI's API; a source
 * that pages from the server can take its place without the view changing.
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
}

/** Pages of one conversation, newest page first. */
export interface HistorySource {
  /** The last `limit` messages with `contact`. */
  latest(contact: string, limit: number): Promise<HistoryPage>;
  /** The `limit` messages before `oldest`. */
  before(contact: string, oldest: MessageView, limit: number): Promise<HistoryPage>;
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
};
