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
  /** What to prefill the Connection fields with: the last connection, or the defaults. */
  last: { user: string; host: string; port: number };
  /** Why the last connection attempt failed or the connection ended or was lost, if it did. */
  error: string | null;
  /**
   * While the server locks logins out after failed tries (403 with `retry_after`): when the
   * next try is let in, in ms since the epoch.
   */
  retryAt: number | null;
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
 * Delivery state of a message, as the client history keeps it: "sent" while the server's
 * reply is awaited, "delivered" once the server accepted it (and every incoming message),
 * "failed" with the error.
 */
export type MessageStatus = "sent" | "delivered" | "failed";

/** One message of a conversation, from the local history. */
export interface MessageView {
  id: number;
  /** The other party. */
  contact: string;
  direction: "in" | "out";
  /** Sender and recipient logins, for the `A -> B:` heading. */
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
}

/** GET /api/messages/:contact[?before=ID&limit=N]. */
export interface MessagesReply {
  contact: string;
  /** Oldest first. */
  messages: MessageView[];
  /** Whether older messages remain before the first one. */
  more: boolean;
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
  service: ServiceEntry;
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
    | "id";
}
