/**
 * Shapes of the admin GUI's JSON API, shared by the routes and the browser views.
 *
 * @module
 */

/** The JIM server's state as the page shows it. */
export interface ServerStatus {
  running: boolean;
  /** Host and port of the running server, or the ones to start with next. */
  host: string;
  port: number;
  /** Why the last start failed (port in use, permission denied, bad address), if it did. */
  error: string | null;
  /** Whether seed (HMAC-MD5) logins are accepted. */
  legacyAuth: boolean;
}

/** One row of the Clients table. */
export interface ClientRow {
  login: string;
  /** Milliseconds since the epoch, or null if never seen. */
  lastSeen: number | null;
  lastIp: string | null;
  created: number;
  online: boolean;
}

/** One row of the Rooms table (issue 13): GET /api/rooms. */
export interface RoomRowJson {
  /** `#` and the name. */
  name: string;
  owner: string;
  members: number;
  messages: number;
  /** The newest message's time, or else when the room was created, ms since the epoch. */
  lastActivity: number;
  inviteOnly: boolean;
}

/** GET /api/state. */
export interface AdminState {
  server: ServerStatus;
  clients: ClientRow[];
}

/**
 * One Service info entry: a JIM server event (see server/ ServerEvent) or a note from the GUI.
 * Secrets are redacted by the server's feed before they get here.
 */
export interface LogEvent {
  seq?: number;
  /** Milliseconds since the epoch. */
  time: number;
  type: string;
  conn?: { id: number | string; ip?: string; port?: number; user?: string };
  payload?: unknown;
  message?: string;
}

/** The kinds Service info filters by. */
export type LogCategory = "connections" | "logins" | "messages" | "errors" | "other";

/** The filter names in the order the page shows them. */
export const LOG_CATEGORIES: readonly LogCategory[] = [
  "connections",
  "logins",
  "messages",
  "errors",
  "other",
];

/** One Service info entry as the page gets it. */
export interface ServiceEntry extends LogEvent {
  /** Increases by one per entry in one GUI process. */
  id: number;
  category: LogCategory;
  /** For a message: its text's length, also while the text itself is hidden. */
  size?: { chars: number; bytes: number };
}

/** GET /api/service. */
export interface ServiceReply {
  /** Oldest first. */
  entries: ServiceEntry[];
  /** Whether message texts are shown. */
  showBodies: boolean;
  /** Most entries kept. */
  limit: number;
}

/** Topics of the admin GUI's live stream. */
export type AdminTopic =
  /** A {@linkcode ServiceEntry} for Service info. */
  | "log"
  /** Service info was cleared or its settings changed: refetch it. */
  | "service"
  /** The server started or stopped: data is {@linkcode ServerStatus}. */
  | "server"
  /** The Clients table changed: refetch it. */
  | "clients"
  /** Rooms (issue 13): the Rooms table changed: refetch it. */
  | "rooms";

/** Error body of a failed API call; `field` names the input an inline error belongs to. */
export interface ApiErrorBody {
  error: string;
  code?: number;
  field?: "login" | "password" | "host" | "port";
}
