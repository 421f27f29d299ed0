/**
 * The hub: the one owner of who is online. Sessions reach it only through {@linkcode Hub},
 * and it sees of a session only {@linkcode HubSession}; no session touches another session
 * or a shared map. {@linkcode LocalHub} serves one process; the cluster's hub (issue 14)
 * implements the same interface over NATS.
 *
 * The message path is synchronous: routing to local sessions never awaits. Only joining
 * ({@linkcode Hub.attach}), which may have to probe existing sessions or, in a cluster, ask
 * other nodes, is async.
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";

/**
 * What a client announced it understands (issue 12). An empty set is the seed dialect: no new
 * fields, no unrequested pushes.
 */
export type Capability = "ids" | "carbons" | "presence" | "receipts" | "rooms";

/** A notice that ends a session: the response the client is told before it closes. */
export interface Notice {
  /** The JIM code, e.g. 403. */
  code: number;
  /** The text, e.g. "Account removed". */
  text: string;
}

/** What the hub sees of a session. */
export interface HubSession {
  /** Unique among all sessions the hub knows (in a cluster: `${node}#${n}`). */
  readonly id: string;
  /** The account's login in display case. */
  readonly login: string;
  /** The account's `loginKey()`. */
  readonly key: string;
  /** What the client announced at login; empty for seed clients. */
  readonly caps: ReadonlySet<Capability>;
  /**
   * Queues a message for the client. False when the session cannot take it (too slow: it
   * closes itself and detaches), so the sender can be told.
   */
  deliver(envelope: Envelope): boolean;
  /** Tells the client `notice` and ends the session; it detaches itself. */
  notify(notice: Notice): void;
  /**
   * Asks the client whether it is still there, because a new login for the account met the
   * session cap. Resolves true when it answers; false when it does not in time (it is then
   * told and ends, freeing its place) or closes meanwhile.
   */
  probe(): Promise<boolean>;
}

/** The outcome of {@linkcode Hub.attach}. */
export type AttachResult =
  | { ok: true }
  /**
   * `full`: the account has as many live sessions as it may ("Client already online");
   * `aborted`: the session went away while it waited.
   */
  | { ok: false; reason: "full" | "aborted" };

/** The outcome of a delivery to an account. */
export interface DeliveryResult {
  /** Live sessions of the account when the message arrived. */
  readonly sessions: number;
  /** How many of them took it; the others were too slow and are closing. */
  readonly delivered: number;
  /**
   * Of `sessions`, how many live on other nodes of a cluster (issue 14). The message was
   * published to their nodes and they count as `delivered`, but nothing confirms it: core
   * NATS is at most once, so a stored message should stay undelivered for them until their
   * node delivers it. Absent (0) in a single process.
   */
  readonly remote?: number;
}

/** An account that came online (its first session attached) or went offline (its last left). */
export interface PresenceChange {
  /** The account's login in display case. */
  login: string;
  /** The account's key. */
  key: string;
  /** Whether it is online now. */
  online: boolean;
}

/** A live session as admin views list it. */
export interface HubSessionInfo {
  /** The session's id. */
  id: string;
  /** The account's login in display case. */
  login: string;
  /** The node the session is on, in a cluster (issue 14); absent in a single process. */
  node?: string;
}

/**
 * The outcome of one checked login proof, shared between the nodes of a cluster so that the
 * failed-login limits (lockouts, delays) count every node's failures (issue 14).
 */
export interface LoginOutcome {
  /** Whether the proof was wrong. */
  failed: boolean;
  /** The address as the throttle counts it (`addressKey()`: IPv6 per /64). */
  address: string;
  /** The login key tried. */
  login: string;
}

/** Options for {@linkcode Hub.attach}. */
export interface AttachOptions {
  /** Gives up waiting (for a probe of another session) when aborted. */
  signal?: AbortSignal;
}

/** Who is online, and delivery to them. */
export interface Hub {
  /** How many live sessions one account may have (1: the seed's behaviour). */
  readonly maxSessionsPerAccount: number;
  /**
   * Makes a logged-in session reachable. At the account's session cap, the account's
   * sessions are probed first: one that does not answer is taken over (it is told and
   * closes); when all answer, the result is `full`.
   */
  attach(session: HubSession, options?: AttachOptions): Promise<AttachResult>;
  /** Makes a session unreachable. Idempotent; a session that never attached is ignored. */
  detach(session: HubSession): void;
  /**
   * Queues `envelope` for every live session of the account `key`, except the session with
   * id `options.except`. Synchronous: it never waits on a session or the disk.
   */
  sendToAccount(key: string, envelope: Envelope, options?: { except?: string }): DeliveryResult;
  /**
   * Rooms (issue 13): queues `envelope` for every live session that announced `rooms` of the
   * accounts `memberKeys` (the room's members, as the RoomStore has them), except the
   * session with id `options.except`. Sessions without `rooms` (seed clients) never get it.
   * Synchronous, as {@linkcode sendToAccount}: each session's own bounded queue takes it or
   * the session is too slow (it closes itself), so one stalled member never delays another.
   * `room` is the room's key (`roomKey()`): a cluster hub may route by it (one subject per
   * room); the local hub needs only the keys.
   */
  sendToRoom(
    room: string,
    memberKeys: Iterable<string>,
    envelope: Envelope,
    options?: { except?: string },
  ): DeliveryResult;
  /** Whether the account `key` has a live session. */
  isOnline(key: string): boolean;
  /** The display-case login of the account `key` while it is online, else undefined. */
  onlineLogin(key: string): string | undefined;
  /** The logins online now, in display case. */
  onlineLogins(): string[];
  /** Live sessions: of the account `key`, or all. */
  sessions(key?: string): HubSessionInfo[];
  /** Tells every live session of the account `notice` and ends them; returns how many. */
  endSessions(key: string, notice: Notice): number;
  /**
   * Calls `listener` when an account comes online or goes offline. Costs nothing while
   * nobody listens. Returns the function that removes the listener.
   */
  on(type: "presence", listener: (change: PresenceChange) => void): () => void;
  /**
   * `resync`: the hub may have missed deliveries (a cluster hub reconnected to NATS), so
   * sessions should fetch what is undelivered to their accounts. Never in a single process.
   */
  on(type: "resync", listener: () => void): () => void;
  /** `login`: a login outcome on another node of the cluster. Never in a single process. */
  on(type: "login", listener: (outcome: LoginOutcome) => void): () => void;
  /**
   * The node's name in a cluster; absent in a single process. Session ids are then
   * `${node}#${n}`, unique in the cluster.
   */
  readonly node?: string;
  /** Tells the other nodes of a cluster about a login outcome here; absent in one process. */
  shareLogin?(outcome: LoginOutcome): void;
  /** Drops every session and listener; the hub takes no more. Idempotent. */
  close(): Promise<void>;
}
