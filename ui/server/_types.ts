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

/** Topics of the admin GUI's live stream. */
export type AdminTopic =
  /** A {@linkcode LogEvent} for Service info. */
  | "log"
  /** The server started or stopped: data is {@linkcode ServerStatus}. */
  | "server"
  /** The Clients table changed: refetch it. */
  | "clients";

/** Error body of a failed API call; `field` names the input an inline error belongs to. */
export interface ApiErrorBody {
  error: string;
  code?: number;
  field?: "login" | "password" | "host" | "port";
}
