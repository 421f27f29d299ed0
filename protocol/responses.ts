/**
 * The exact shapes of what a jim server sends: one type per kind of response and push, so
 * that the server builds each message against its type instead of a `Record<string, unknown>`.
 * Every response type here is a {@linkcode JimResponse}, which is what a client parses into.
 *
 * @example
 * ```ts
 * import type { OutboundMessage } from "./responses.ts";
 * const reply: OutboundMessage = { response: 202, quantity: 3 };
 * ```
 *
 * @module
 */
import type { ContactListMessage, Mechanism, MsgMessage, ProbeMessage } from "./messages.ts";
import type { Status } from "./status.ts";
import type { RoomEventMessage, RoomListMessage, RoomMemberMessage } from "./rooms.ts";

/** 200: success. */
export interface OkResponse {
  /** 200. */
  response: typeof Status.OK;
  /** "OK", "Bye", "Added to contacts: bob", ... */
  alert: string;
  /** The base64 SCRAM server-final message, in the 200 that ends a SCRAM login. */
  data?: string;
}

/** Any failure: the code says which, the text says why. */
export interface ErrorResponse {
  /** A 4xx or 5xx JIM code. */
  response: number;
  /** Sentence case, shown to the user as it is: "No such client: bob". */
  error: string;
  /** 403 after failed logins: whole seconds to wait. */
  retry_after?: number;
}

/** 401 to presence before login: the legacy challenge and the mechanisms on offer. */
export interface ChallengeResponse {
  /** 401. */
  response: typeof Status.UNAUTHORIZED;
  /** "Authentication required". */
  error: string;
  /** 16 random bytes as hex, the HMAC-MD5 challenge. */
  token: string;
  /** What this server accepts, SCRAM first. */
  mechanisms: Mechanism[];
}

/** 401 to a SCRAM client-first message: the server-first message. */
export interface ScramContinueResponse {
  /** 401. */
  response: typeof Status.UNAUTHORIZED;
  /** "Authentication required". */
  error: string;
  /** The mechanism in use. */
  mechanism: Mechanism;
  /** The base64 SCRAM server-first message. */
  data: string;
}

/** 202 to get_contacts: how many `contact_list` pushes follow. */
export interface ContactsResponse {
  /** 202. */
  response: typeof Status.ACCEPTED;
  /** The number of `contact_list` pushes that follow. */
  quantity: number;
}

/** 202 to get_users: one page of logins. */
export interface UsersResponse {
  /** 202. */
  response: typeof Status.ACCEPTED;
  /** Logins in order. */
  users: string[];
  /** Set when more follow: ask again with `after` set to it. */
  next?: string;
}

/** 200 to a room action (issue 13): the room's stored name and what the action set. */
export interface RoomOkResponse {
  /** 200. */
  response: typeof Status.OK;
  /** "Joined #general", "Left #general", ... */
  alert: string;
  /** The room's name as the server stores it. */
  room: string;
  /** join: whether the join created the room. */
  created?: boolean;
  /** room_config: the setting now. */
  invite_only?: boolean;
  /** room_config: the setting now. */
  history_visible?: boolean;
}

/** Any response the server sends. */
export type ServerResponse =
  | OkResponse
  | ErrorResponse
  | ChallengeResponse
  | ScramContinueResponse
  | ContactsResponse
  | UsersResponse
  // Rooms (issue 13).
  | RoomOkResponse;

/** Anything the server sends unasked. */
export type ServerPush =
  | ProbeMessage
  | ContactListMessage
  | MsgMessage
  // Rooms (issue 13).
  | RoomListMessage
  | RoomMemberMessage
  | RoomEventMessage;

/** Anything the server sends. */
export type OutboundMessage = ServerResponse | ServerPush;
