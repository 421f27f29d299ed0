/**
 * Checks of the chat GUI's request bodies. Each failure is a {@linkcode ChatInputError}
 * naming the input it belongs to, so the page can show it inline.
 *
 * @module
 */
import {
  accountNameProblem,
  isAccountName,
  MAX_PASSWORD_LENGTH,
  Status,
} from "../../protocol/mod.ts";
import {
  isRoomName,
  MAX_SEARCH_LENGTH,
  parseServerList,
  roomNameProblem,
} from "../../client/mod.ts";
import { UsageError } from "../../common/usage.ts";
import { measureText } from "./message_limits.ts";
import { ChatInputError } from "./chat_controller.ts";
import type { ConnectParams } from "./chat_controller.ts";

/** Longest password the GUI passes on: the store's, in UTF-16 units. */
export { MAX_PASSWORD_LENGTH };

function bad(message: string, field: string): ChatInputError {
  return new ChatInputError(Status.BAD_REQUEST, message, field);
}

/** A login from a body field or a path segment. */
export function checkLogin(value: unknown, field: string): string {
  if (!isAccountName(value)) throw bad(accountNameProblem(field, value), field);
  return value;
}

/** A room name from a body field or a path segment. */
export function checkRoom(value: unknown, field = "room"): string {
  const name = typeof value === "string" ? value.trim() : value;
  if (!isRoomName(name)) throw bad(roomNameProblem(field, name), field);
  return name;
}

/** A conversation from a path segment: a login, or a room name. */
export function checkConversation(value: unknown, field: string): string {
  if (typeof value === "string" && value.startsWith("#")) return checkRoom(value, field);
  return checkLogin(value, field);
}

/**
 * The body of POST /api/connect. `host` is one server or several of one cluster
 * (`a:7777,b:7777`, IPv6 in brackets), tried in turn; `port` is for those without their own.
 */
export function checkConnect(body: Record<string, unknown>): ConnectParams {
  const user = checkLogin(typeof body.user === "string" ? body.user.trim() : body.user, "user");
  const password = body.password;
  if (typeof password !== "string" || password.length === 0) {
    throw bad("Invalid field: password must not be empty", "password");
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw bad(`Invalid field: password exceeds ${MAX_PASSWORD_LENGTH} characters`, "password");
  }
  const host = typeof body.host === "string" ? body.host.trim() : body.host;
  if (typeof host !== "string" || host.length === 0) {
    throw bad("Invalid field: host must not be empty", "host");
  }
  const rawPort = typeof body.port === "string" && /^\d{1,5}$/.test(body.port.trim())
    ? Number(body.port.trim())
    : body.port;
  if (typeof rawPort !== "number" || !Number.isInteger(rawPort) || rawPort < 1 || rawPort > 65535) {
    throw bad("Invalid field: port must be a whole number from 1 to 65535", "port");
  }
  let servers;
  try {
    servers = parseServerList(host, rawPort);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw bad(error.message.replace(/^Invalid host: /, "Invalid field: host "), "host");
  }
  if (servers.length === 1) return { user, password, ...servers[0]! };
  return { user, password, host, port: rawPort, servers };
}

/** The body of POST /api/messages: `to`, `text` and an optional `clientId` of the page's. */
export function checkMessage(
  body: Record<string, unknown>,
): { to: string; text: string; clientId?: string } {
  const to = checkConversation(body.to, "to");
  const text = body.text;
  if (typeof text !== "string" || text.trim().length === 0) {
    throw bad("Invalid field: text must not be empty", "text");
  }
  // The message travels in one JIM frame; emoji and escapes can outgrow it before the
  // character limit. Refused here, nothing is stored as a message that can never be sent.
  const { problem } = measureText(text);
  if (problem) throw bad(problem, "text");
  const clientId = body.clientId;
  if (clientId === undefined) return { to, text };
  if (typeof clientId !== "string" || !/^[A-Za-z0-9_-]{8,64}$/.test(clientId)) {
    throw bad("Invalid field: clientId must be 8 to 64 letters, digits, '_' or '-'", "text");
  }
  return { to, text, clientId };
}

/** A message id from the path. */
export function checkMessageId(value: string): number {
  const id = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new ChatInputError(Status.BAD_REQUEST, `Invalid message id: ${value.slice(0, 40)}`, "id");
  }
  return id;
}

/** Largest page of messages one request returns. */
export const MAX_PAGE = 500;

/** The query of GET /api/messages/:contact: `limit`, and one of `before`, `after`, `around`. */
export function checkPage(
  before: string | undefined,
  limit: string | undefined,
  more: { after?: string; around?: string } = {},
): { before?: number; after?: number; around?: number; limit: number } {
  const page: { before?: number; after?: number; around?: number; limit: number } = { limit: 50 };
  if (limit !== undefined) page.limit = checkLimit(limit, MAX_PAGE);
  const anchors = { before, after: more.after, around: more.around };
  const given = Object.entries(anchors).filter(([, v]) => v !== undefined);
  if (given.length > 1) {
    throw bad("Invalid query: give one of before, after and around", "id");
  }
  for (const [key, value] of given) page[key as "before"] = checkMessageId(value!);
  return page;
}

function checkLimit(limit: string, max: number): number {
  const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
  if (!(n >= 1 && n <= max)) {
    throw bad(`Invalid limit: must be a whole number from 1 to ${max}`, "limit");
  }
  return n;
}

/** Most hits one search returns. */
export const MAX_SEARCH_HITS = 100;

/** The query of GET /api/search: `q` (1 to 256 characters) and `limit`. */
export function checkSearch(
  q: string | undefined,
  limit: string | undefined,
): { query: string; limit: number } {
  if (q === undefined || q.trim() === "") throw bad("Invalid field: q must not be empty", "q");
  if (q.length > MAX_SEARCH_LENGTH) {
    throw bad(`Invalid field: q exceeds ${MAX_SEARCH_LENGTH} characters`, "q");
  }
  return { query: q, limit: limit === undefined ? 50 : checkLimit(limit, MAX_SEARCH_HITS) };
}
