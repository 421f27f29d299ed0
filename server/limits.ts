/**
 * The server's configurable limits and their defaults.
 *
 * @module
 */
import { DEFAULT_LIMITS, MAX_ROOM_NAME_LENGTH } from "../protocol/mod.ts";

/** Every limit the server enforces. Durations are milliseconds; 0 disables rate limiting. */
export interface ServerLimits {
  /** Largest frame in bytes (16 KiB). */
  maxFrameBytes: number;
  /** Longest message text in characters (4096). */
  maxMessageLength: number;
  /** Time allowed to log in after connecting (30 s). */
  authTimeoutMs: number;
  /** Idle time after which an authenticated connection is probed (60 s). */
  idleProbeMs: number;
  /** Time after a probe before a silent connection is closed (30 s). */
  probeGraceMs: number;
  /** Sustained requests per second per connection (10); 0 turns rate limiting off. */
  rateLimit: number;
  /** Requests a connection may send at once before delays start (20). */
  rateBurst: number;
  /** Requests waiting in one connection's backlog before it is closed (100). */
  maxBacklog: number;
  /**
   * Failed logins of one login from one address within the window before that pair gets
   * 403 (5); also how many failures of one login, from anywhere, before its proofs are
   * checked one at a time with growing delays.
   */
  maxFailedLogins: number;
  /** Failed logins from one address, over all logins, within the window before 403 (20). */
  maxFailedLoginsPerIp: number;
  /** The failed-login window (5 min). */
  failedLoginWindowMs: number;
  /**
   * How long a session holding a login has to answer a probe when someone logs in to the
   * same account with valid credentials; a silent one is taken over (5 s).
   */
  takeoverTimeoutMs: number;
  /** Connections in total (20,000). */
  maxConnections: number;
  /** Connections from one IP address (64). */
  maxConnectionsPerIp: number;
  /** Bytes queued for one connection before it counts as too slow (1 MiB). */
  maxOutboundBytes: number;
  /** Largest read buffer of a busy connection (16 KiB); an idle one reads into 512 bytes. */
  readBufferBytes: number;
  /** How long a closing connection may take to flush its last reply (2 s). */
  lingerMs: number;
  /** Contacts one user may keep (1000); add_contact past it gets 403. */
  maxContacts: number;
  // Rooms (issue 13).
  /** Members one room may have (1000); a join past it gets 403 "Room is full". */
  maxRoomMembers: number;
  /** Rooms one user may be a member of (100); a join past it gets 403 "Too many rooms". */
  maxRoomsPerUser: number;
  /** Longest name of a new room after the `#`, 1 to 25 characters (25). */
  maxRoomName: number;
}

/**
 * The defaults from the specification.
 *
 * @example
 * ```ts
 * import { DEFAULT_SERVER_LIMITS } from "./limits.ts";
 * const limits = { ...DEFAULT_SERVER_LIMITS, rateLimit: 0 };
 * ```
 */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
  maxMessageLength: DEFAULT_LIMITS.maxMessageLength,
  authTimeoutMs: 30_000,
  idleProbeMs: 60_000,
  probeGraceMs: 30_000,
  rateLimit: 10,
  rateBurst: 20,
  maxBacklog: 100,
  maxFailedLogins: 5,
  maxFailedLoginsPerIp: 20,
  failedLoginWindowMs: 5 * 60_000,
  takeoverTimeoutMs: 5000,
  maxConnections: 20_000,
  maxConnectionsPerIp: 64,
  maxOutboundBytes: 1024 * 1024,
  readBufferBytes: 16384,
  lingerMs: 2000,
  maxContacts: 1000,
  // Rooms (issue 13).
  maxRoomMembers: 1000,
  maxRoomsPerUser: 100,
  maxRoomName: MAX_ROOM_NAME_LENGTH,
});

/**
 * Fills in defaults and rejects nonsense (negative, non-finite or fractional counts).
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * resolveLimits({ rateLimit: 0 }).rateBurst; // 20
 * ```
 * @throws {RangeError} naming the bad limit.
 */
export function resolveLimits(partial: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_SERVER_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof ServerLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_SERVER_LIMITS)) throw new RangeError(`Unknown limit: ${key}`);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`Invalid limit: ${key} must be a number of 0 or more`);
    }
    limits[key] = value;
  }
  const positive: (keyof ServerLimits)[] = [
    "maxFrameBytes",
    "maxMessageLength",
    "authTimeoutMs",
    "idleProbeMs",
    "probeGraceMs",
    "maxBacklog",
    "maxFailedLogins",
    "maxFailedLoginsPerIp",
    "failedLoginWindowMs",
    "takeoverTimeoutMs",
    "maxConnections",
    "maxConnectionsPerIp",
    "maxOutboundBytes",
    "readBufferBytes",
    "maxContacts",
    // Rooms (issue 13).
    "maxRoomMembers",
    "maxRoomsPerUser",
    "maxRoomName",
  ];
  for (const key of positive) {
    if (limits[key] <= 0) throw new RangeError(`Invalid limit: ${key} must be above 0`);
  }
  if (!Number.isInteger(limits.maxRoomName) || limits.maxRoomName > MAX_ROOM_NAME_LENGTH) {
    throw new RangeError(
      `Invalid limit: maxRoomName must be a whole number from 1 to ${MAX_ROOM_NAME_LENGTH}`,
    );
  }
  if (limits.rateLimit > 0 && limits.rateBurst < 1) {
    throw new RangeError("Invalid limit: rateBurst must be at least 1 when rateLimit is on");
  }
  return limits;
}
