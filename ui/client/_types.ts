/**
 * Shapes of the chat GUI's JSON API, shared by the routes and the browser views.
 *
 * @module
 */

/**
 * Where the GUI's one JIM connection stands; "reconnecting" after a loss, until the session
 * is back ("connected") or gives up ("disconnected", with the reason in `error`).
 */
export type ConnectionPhase = "disconnected" | "connecting" | "connected" | "reconnecting";

/** GET /api/state, and the data of the "state" live event. */
export interface ChatState {
  /** Increases with every change; the page ignores snapshots older than the one it has. */
  rev: number;
  phase: ConnectionPhase;
  /** The logged-in user and the server, while connected or reconnecting (the Parameters panel). */
  user: string | null;
  host: string | null;
  port: number | null;
  /**
   * Every server the session tries, in order, while connected or reconnecting; `host` and
   * `port` say which one it is on. The first names the account's history (and outbox).
   */
  servers: { host: string; port: number }[] | null;
  /** What to prefill the Connection fields with: the last connection, or the defaults. */
  last: { user: string; host: string; port: number };
  /** Why the last connection attempt failed or the connection ended or was lost, if it did. */
  error: string | null;
  /**
   * While the server locks logins out after failed tries (403 with `retry_after`): when the
   * next try is let in, in ms since the epoch.
   */
  retryAt: number | null;
  /**
   * What the chat server does for this session (issue 12), while connected: `history` (it
   * keeps messages: stored delivery, receipts, server history), `presence` (it pushes the
   * contacts' online state; no polling then).
   */
  server: { history: boolean; presence: boolean; rooms?: boolean } | null;
}

/** One entry of the Rooms list (issue 13): a room this account is in. */
export interface RoomView {
  /** `#name`, as the server spells it. */
  room: string;
  /** The owner's login, when known. */
  owner: string | null;
  /** Members when last asked, when known. */
  members: number | null;
  inviteOnly: boolean;
  historyVisible: boolean;
  /** Messages of other members not yet seen in the Messages panel. */
  unread: number;
}

/** GET /api/rooms, and the data of the "rooms" live event. */
export interface RoomsSnapshot {
  rev: number;
  rooms: RoomView[];
}

/** One member of a room, for the member list. */
export interface MemberView {
  login: string;
  online: boolean;
  owner: boolean;
}

/** GET /api/rooms/:room/members. */
export interface MembersReply {
  room: string;
  members: MemberView[];
}

/** The data of the "room" live event: something happened in a room, in words. */
export interface RoomEventView {
  room: string;
  event: string;
  user: string | null;
  by: string | null;
  /** The event as one sentence from this account's point of view. */
  text: string;
}

/** One entry of the Contacts list. */
export interface ContactView {
  login: string;
  online: boolean;
  /** Incoming messages not yet seen in the Messages panel. */
  unread: number;
}

/** GET /api/contacts, and the data of the "contacts" live event. */
export interface ContactsSnapshot {
  rev: number;
  contacts: ContactView[];
}

/**
 * Delivery state of a message, as the client history keeps it. Own messages: "sent" while the
 * server's reply is awaited, "stored" while the server keeps it for an offline recipient,
 * "delivered" once a session of the recipient got it, "read" once the recipient read it,
 * "failed" with the error. Incoming: "delivered" until read here, then "read".
 */
export type MessageStatus = "sent" | "stored" | "delivered" | "read" | "failed";

/** One message of a conversation, from the local history. */
export interface MessageView {
  id: number;
  /** The other party. */
  contact: string;
  direction: "in" | "out";
  /** Sender and recipient logins, for the `A -> B:` heading; in a room `to` is the room. */
  from: string;
  to: string;
  text: string;
  /** Milliseconds since the epoch. */
  time: number;
  status: MessageStatus;
  /** Why sending failed, e.g. "Client not online: bob". */
  error?: string;
  /** The page's own id for a message it sent (see POST /api/messages), while remembered. */
  clientId?: string;
  /** The chat server's id, when it gave one. */
  serverId?: number;
}

/** GET /api/messages/:contact[?before=ID | after=ID | around=ID][&limit=N]. */
export interface MessagesReply {
  contact: string;
  /** Oldest first. */
  messages: MessageView[];
  /** Whether older messages remain before the first one (in the cache or on the server). */
  more: boolean;
  /** Whether newer messages follow the last one (only for `after` and `around`). */
  newer: boolean;
}

/** GET /api/search?q=TEXT[&limit=N]: messages of the local history, newest first. */
export interface SearchReply {
  query: string;
  hits: MessageView[];
}

/** The data of the "conversation" live event: cached messages of `contact` changed in bulk. */
export interface ConversationChange {
  contact: string;
  /** `sync` (from the server's history), `read`, `receipts` or `merge`. */
  reason: string;
}

/** One Service info line. */
export interface ServiceEntry {
  /** Increases by one per entry in one GUI process; the page skips ones it has. */
  seq: number;
  /** Milliseconds since the epoch. */
  time: number;
  level: "info" | "notice" | "error";
  text: string;
}

/** GET /api/service. */
export interface ServiceReply {
  entries: ServiceEntry[];
}

/** Topics of the chat GUI's live stream and their data. */
export interface ChatTopics {
  state: ChatState;
  contacts: ContactsSnapshot;
  /** A message was added or its status changed. */
  message: MessageView;
  /** Many messages of a conversation changed: reload what is shown of it. */
  conversation: ConversationChange;
  service: ServiceEntry;
  rooms: RoomsSnapshot;
  room: RoomEventView;
}

/** Error body of a failed API call; `field` names the input an inline error belongs to. */
export interface ChatApiError {
  error: string;
  code?: number;
  field?:
    | "user"
    | "password"
    | "host"
    | "port"
    | "login"
    | "to"
    | "text"
    | "contact"
    | "limit"
    | "id"
    | "q"
    | "room";
}
