/**
 * Message types of JIM as this project speaks it. Requests go from client to server;
 * every response is `{ response, alert | error, ... }`; the server also pushes `msg`,
 * `probe` and `contact_list` objects. See docs/protocol.md for the full specification.
 *
 * @module
 */
import type {
  DeliveryState,
  HistoryItemMessage,
  PresencePushMessage,
  ReceiptMessage,
} from "./conversation.ts";
import type { RoomEventMessage, RoomListMessage, RoomMemberMessage, RoomRequest } from "./rooms.ts";
import { ROOM_ACTIONS } from "./rooms.ts";

/** SCRAM-SHA-256 (RFC 7677), the default login mechanism. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";
/** The seed's HMAC-MD5 challenge-response, allowed only in legacy mode. */
export const HMAC_MD5 = "HMAC-MD5";
/** A login mechanism name. */
export type Mechanism = typeof SCRAM_SHA_256 | typeof HMAC_MD5;

/** Unix time in seconds, as a number (the seed sends a numeric string; both are accepted). */
export type Time = number;

/** What every request carries besides its action. */
export interface RequestBase {
  /** When the client made the request. */
  time: Time;
}

/** Starts a login, or (on an authenticated connection) answers a probe. */
export interface PresenceRequest extends RequestBase {
  /** The action name. */
  action: "presence";
  /** The seed sends "status"; not interpreted. */
  type?: string;
  /** The account logging in (or answering a probe), and an optional status text. */
  user: { account_name: string; status?: string };
}

/**
 * A login step. Legacy: `user.password` holds the HMAC-MD5 digest. SCRAM: `mechanism` names
 * it and `data` holds a base64 SCRAM message.
 */
export interface AuthenticateRequest extends RequestBase {
  /** The action name. */
  action: "authenticate";
  /** The account; `password` holds the legacy HMAC-MD5 digest (never a password). */
  user: { account_name: string; password?: string };
  /** The mechanism; absent means the seed's legacy HMAC-MD5. */
  mechanism?: Mechanism;
  /** SCRAM: the base64 client-first or client-final message. */
  data?: string;
}

/** A chat message. The server overwrites `from` with the sender's login. */
export interface MsgRequest extends RequestBase {
  /** The action name. */
  action: "msg";
  /** The recipient's login, or `#` and a room's name (issue 13). */
  to: string;
  /** Ignored: the server sets it to the sender's login. */
  from: string;
  /** Always "utf-8". */
  encoding: string;
  /** The text, at most 4,096 characters by default. */
  message: string;
}

/** Asks for the contact list: 202 with `quantity`, then `contact_list` pushes. */
export interface GetContactsRequest extends RequestBase {
  /** The action name. */
  action: "get_contacts";
}

/** Adds a contact by login. */
export interface AddContactRequest extends RequestBase {
  /** The action name. */
  action: "add_contact";
  /** The login to add. */
  user_id: string;
}

/** Removes a contact by login. */
export interface DelContactRequest extends RequestBase {
  /** The action name. */
  action: "del_contact";
  /** The login to remove. */
  user_id: string;
}

/**
 * Asks for the registered logins, a page at a time: 202 with `users`, and `next` when more
 * follow. The next page is asked for with `after` set to that `next`.
 */
export interface GetUsersRequest extends RequestBase {
  /** The action name. */
  action: "get_users";
  /** Continue after this login: the `next` of the previous page. Absent for the first page. */
  after?: string;
}

/** Ends the session in order; `exit` is accepted as an alias. */
export interface QuitRequest extends RequestBase {
  /** The action name. */
  action: "quit";
}

/** Any request a client may send. */
export type JimRequest =
  | PresenceRequest
  | AuthenticateRequest
  | MsgRequest
  | GetContactsRequest
  | AddContactRequest
  | DelContactRequest
  | GetUsersRequest
  | QuitRequest
  // Rooms (issue 13).
  | RoomRequest;

/** A request's action name. */
export type Action = JimRequest["action"];

/** Every action the server accepts. */
export const ACTIONS: readonly Action[] = [
  "presence",
  "authenticate",
  "msg",
  "get_contacts",
  "add_contact",
  "del_contact",
  "get_users",
  "quit",
  // Rooms (issue 13).
  ...ROOM_ACTIONS,
];

/** A reply to a request. Exactly one of `alert` and `error` is usually present. */
export interface JimResponse {
  /** The JIM status code; see {@linkcode Status}. */
  response: number;
  /** Success text. */
  alert?: string;
  /** Failure text, shown to the user as it is. */
  error?: string;
  /** 401 to presence: the legacy challenge, 16 random bytes as hex. */
  token?: string;
  /** 401 to presence: the login mechanisms this server offers. */
  mechanisms?: Mechanism[];
  /** SCRAM steps: the mechanism in use. */
  mechanism?: Mechanism;
  /** SCRAM steps: the server's base64 SCRAM message. */
  data?: string;
  /** 202 to get_contacts: how many `contact_list` objects follow. */
  quantity?: number;
  /** 202 to get_users: one page of registered logins, in order. */
  users?: string[];
  /** 202 to get_users: more logins follow; send get_users again with `after` set to this. */
  next?: string;
  /** 403 after failed logins: seconds to wait. */
  retry_after?: number;
  /** 401 to presence: the capabilities of those the client announced that the server supports. */
  capabilities?: string[];
  /** 200 to msg (with `ids`): the message's id. */
  id?: number;
  /** 200 to msg (with `ids`): the server time, Unix milliseconds. */
  ts?: number;
  /** 200 to msg (with `ids`): `stored` or `delivered`. */
  state?: DeliveryState;
  /** 202 to history: whether older (before/latest) or newer (after) items exist. */
  more?: boolean;
  // Rooms (issue 13).
  /** 200 to a room action: the room's name as the server stores it. */
  room?: string;
  /** 200 to join: whether the join created the room. */
  created?: boolean;
  /** 200 to room_config: the setting now. */
  invite_only?: boolean;
  /** 200 to room_config: the setting now. */
  history_visible?: boolean;
}

/** The server asks "are you there?"; a client answers with presence. */
export interface ProbeMessage {
  /** The action name. */
  action: "probe";
  /** When the server sent it. */
  time: Time;
}

/** One contact, pushed after a 202 to get_contacts. */
export interface ContactListMessage {
  /** The action name. */
  action: "contact_list";
  /** The contact's login. */
  user_id: string;
  /** Whether the contact is online now (jim's addition). */
  online?: boolean;
}

/** A chat message delivered by the server, with `from` set by the server. */
export interface MsgMessage {
  /** The action name. */
  action: "msg";
  /** When the sender sent it. */
  time: Time;
  /** The recipient: the connection's own login. */
  to: string;
  /** The sender, as the server knows it. */
  from: string;
  /** Always "utf-8". */
  encoding: string;
  /** The text. */
  message: string;
  /** With `ids`: the server's id of the message. */
  id?: number;
  /** With `ids`: the server time, Unix milliseconds. */
  ts?: number;
  /** Part of the offline backlog delivered at login. */
  stored?: boolean;
  /** A copy of what another session of this account sent (`carbons`). */
  carbon?: boolean;
}

/** Anything the server sends. */
export type ServerMessage =
  | JimResponse
  | ProbeMessage
  | ContactListMessage
  | MsgMessage
  | ReceiptMessage
  | PresencePushMessage
  | HistoryItemMessage
  // Rooms (issue 13).
  | RoomListMessage
  | RoomMemberMessage
  | RoomEventMessage;
