/**
 * What the server needs from storage, as interfaces: users and their credentials, contacts,
 * login history, change notification, server secrets and (filled in by issue 12) messages.
 * Handlers, the login and the admin tools see only these; an adapter implements them and
 * passes `storage/contract_test.ts`. The SQLite adapter is in `storage/sqlite/`; a PostgreSQL
 * one (issue 14) implements the same interfaces without any change to a handler.
 *
 * Rules every adapter keeps:
 * - Methods are async, even where the adapter could answer at once, so that one that talks to
 *   a server over the network fits.
 * - No password reaches storage: credentials arrive derived (see server/accounts.ts).
 * - Logins are matched by `loginKey()`; every login returned is in its stored display case.
 * - Failures that a client or an admin caused are `JimError`s with the seed's texts
 *   ("No such client: bob", 409 "Client already exists: bob", ...).
 * - Writes on the message path never make routing wait: login history is an enqueue, written
 *   behind; messages (issue 12) are committed in groups after routing.
 *
 * @module
 */
import type { ScramCredentials } from "../../protocol/mod.ts";

/** A user as the admin tools show it. */
export interface UserRow {
  /** The login in its display case. */
  login: string;
  /** Last login or logout, Unix ms; null if never seen. */
  lastSeen: number | null;
  /** Address of the last login; null if never seen. */
  lastIp: string | null;
  /** When the user was added, Unix ms. */
  created: number;
  /** Whether a legacy (seed HMAC-MD5) hash is stored. */
  legacy: boolean;
}

/** What a login checks a proof against, derived from the password outside storage. */
export interface StoredCredentials {
  /** SCRAM-SHA-256 salt, iteration count, StoredKey and ServerKey. */
  scram: ScramCredentials;
  /** The seed's password-equivalent hash, or null: only for users allowed seed clients. */
  legacyHash: string | null;
}

/** What a login needs: read fresh at each login, never cached. */
export interface UserCredentials extends StoredCredentials {
  /** The login in display case. */
  login: string;
  /** Address of the last successful login, or null. */
  lastIp: string | null;
}

/** An account created before the name rules whose name another account already has. */
export interface NameConflict {
  /** The account's login. */
  login: string;
  /** The account that keeps the name, or that it looks like. */
  conflictsWith: string;
  /**
   * "same": the same name under PRECIS (e.g. fullwidth `ａlice` beside `alice`): the name now
   * reaches the other account, so this one cannot log in until it is removed or renamed.
   * "lookalike": a different account with the same UTS #39 skeleton; it keeps working.
   */
  kind: "same" | "lookalike";
}

/** Users and their credentials. */
export interface UserStore {
  /**
   * Adds a user. The login is stored as `normalizeLogin()` gives it.
   *
   * @throws {JimError} 400 for a login the name rules refuse; 409 "Client already exists: X"
   *   when it exists in any case or width, 409 "Invalid login: looks like existing user X"
   *   for a look-alike.
   */
  add(login: string, credentials: StoredCredentials): Promise<UserRow>;
  /** Checks that `login` could be added now, without adding it; throws as {@linkcode add}. */
  checkNewLogin(login: string): Promise<void>;
  /**
   * Replaces a user's credentials.
   *
   * @throws {JimError} 404 "No such client: X".
   */
  setCredentials(login: string, credentials: StoredCredentials): Promise<void>;
  /**
   * Removes a user with their contacts, their place in others' contacts and their history.
   * Subscribers of {@linkcode ChangeFeed} hear `user-removed`.
   *
   * @throws {JimError} 404 "No such client: X".
   */
  remove(login: string): Promise<void>;
  /**
   * One user, or undefined. Admin commands name the exact stored login first, so that an
   * account whose name collides with an older one can still be reached.
   */
  get(login: string): Promise<UserRow | undefined>;
  /** The login in its display case, or undefined when there is no such user. */
  canonicalLogin(login: string): Promise<string | undefined>;
  /** Credentials for a login, read now, or undefined for an unknown login. */
  credentials(login: string): Promise<UserCredentials | undefined>;
  /** Every user, newest first. */
  list(): Promise<UserRow[]>;
  /**
   * Up to `limit` logins in display case, ordered by login key, after `after` (any case; it
   * need not exist). Pages follow each other without gaps or repeats while users change.
   */
  loginsAfter(after: string | undefined, limit: number): Promise<string[]>;
  /** How many users exist. */
  count(): Promise<number>;
  /** Accounts whose names the name rules found taken when the database was migrated. */
  nameConflicts(): Promise<NameConflict[]>;
}

/** Each user's contact list. */
export interface ContactStore {
  /** The owner's contacts in display case, ordered by login key. */
  list(owner: string): Promise<string[]>;
  /**
   * Adds `contact` to `owner`'s list and returns its display-case login. With `max`, an owner
   * who has that many already is refused; the count and the insert are one atomic step.
   *
   * @throws {JimError} 404 "No such client: X", 409 "Client already in contacts: X",
   *   403 "Too many contacts: the limit is N".
   */
  add(owner: string, contact: string, options?: { max?: number }): Promise<string>;
  /**
   * Removes `contact` from `owner`'s list and returns its display-case login.
   *
   * @throws {JimError} 404 "No such client: X" or "Client not in contacts: X".
   */
  remove(owner: string, contact: string): Promise<string>;
}

/** One successful login. */
export interface LoginRecord {
  /** The login in display case. */
  login: string;
  /** When, Unix ms. */
  time: number;
  /** The client's address. */
  ip: string;
  /** The client's port. */
  port: number;
}

/**
 * Login history and last-seen times, written behind: recording is a synchronous enqueue that
 * never waits for the disk; the adapter writes batches, bounded in memory. A crash loses at
 * most the unwritten batch, never credentials or contacts.
 */
export interface LoginHistory {
  /** Queues a login: a history row, and the user's last-seen time and address. */
  record(record: LoginRecord): void;
  /** Queues a last-seen time, at logout or when a session says it is still there. */
  seen(login: string, time: number): void;
  /** Writes what is queued; resolves when it is written (or failed and was reported). */
  flush(): Promise<void>;
  /** History, newest first; for one user when `login` is given; `limit` 1 to 10,000 (100). */
  list(options?: { login?: string; limit?: number }): Promise<LoginRecord[]>;
  /**
   * Calls `listener` when a batch could not be written (the batch is dropped: history is
   * best effort). Returns the function that removes the listener.
   */
  onWriteError(listener: (error: Error) => void): () => void;
}

/**
 * A change made outside the caller's own view: `user-removed` names the login; `unknown`
 * means "something changed, re-check what matters" (SQLite's data_version cannot say what).
 */
export type StorageChange =
  | { kind: "user-removed"; login: string }
  | { kind: "unknown" };

/** Notification of changes, including those of other processes on the same storage. */
export interface ChangeFeed {
  /**
   * Calls `listener` for each change from now on. Changes are delivered asynchronously, never
   * inside the call that made them. Watching costs nothing while nobody subscribes. Returns
   * the function that unsubscribes.
   */
  subscribe(listener: (change: StorageChange) => void): () => void;
}

/** Secrets the server keeps across restarts, e.g. the key of the decoy SCRAM salts. */
export interface SecretStore {
  /**
   * A random 32-byte secret stored under `name`: made on first use, the same ever after, in
   * every process on the same storage. Never shown or logged.
   */
  get(name: string): Promise<Uint8Array>;
}

/** Where a stored message stands for its recipient. */
export type DeliveryState = "stored" | "delivered" | "read";

/** A one-to-one message as stored (issue 12; rooms add a room in issue 13). */
export interface StoredMessage {
  /** Positive integer below 2^53, unique cluster-wide, assigned before routing. */
  id: number;
  /** Server time, Unix ms. */
  ts: number;
  /** The sender's `time` (JIM: Unix seconds). */
  time: number;
  /** The sender's login, display case. */
  from: string;
  /** The recipient's login, display case. */
  to: string;
  /** The text. */
  message: string;
  /**
   * Rooms (issue 13): the room's name when the message went to a room; `to` is then the
   * room's name too. Room messages are kept by {@linkcode RoomStore}.
   */
  room?: string;
}

/** One item of a history page, with where it stands from the caller's side. */
export interface HistoryItem extends StoredMessage {
  /** For what the caller sent: stored, delivered or read; for what it got: delivered or read. */
  state: DeliveryState;
}

/** Which page of history to read. At most one of `before` and `after`. */
export interface HistoryQuery {
  /** Whose view: only conversations `caller` is part of are visible. */
  caller: string;
  /** The other side; every conversation of `caller` when absent. */
  with?: string;
  /** Items with ids below this one (the newest `limit` of them). */
  before?: number;
  /** Items with ids above this one (the oldest `limit` of them). */
  after?: number;
  /** 1 to the server's page maximum. */
  limit: number;
}

/** A page of history. */
export interface HistoryPage {
  /** Ascending by id. */
  items: HistoryItem[];
  /** Whether more exist beyond the page, in the direction asked. */
  more: boolean;
}

/**
 * Messages, their per-recipient delivery and read state, and each account's offline backlog.
 * The interface of issue 12: the SQLite implementation arrives with it, and
 * `storage/contract_test.ts` runs its section once an adapter has one.
 */
export interface MessageStore {
  /**
   * Stores a message already routed; resolves once it is durably committed. Appends that
   * arrive together share one commit (group commit). `delivered` says whether a live session
   * of the recipient took it. With `maxBacklog`, a message that would make the recipient's
   * undelivered count exceed it is refused and nothing is stored.
   *
   * @throws {JimError} 503 "Message not stored: bob has N messages waiting".
   */
  append(
    message: StoredMessage,
    options: { delivered: boolean; maxBacklog?: number },
  ): Promise<void>;
  /** Marks messages delivered to `recipient`'s account (some session of it got them). */
  markDelivered(recipient: string, ids: readonly number[]): Promise<void>;
  /**
   * Marks the conversation of `reader` with `peer` read up to `id`: what `peer` sent `reader`
   * with ids up to it. Monotonic: a lower id changes nothing and says so.
   *
   * @throws {JimError} 404 "No such message: ID" when `id` is not a message from `peer` to
   *   `reader`.
   */
  markRead(reader: string, peer: string, id: number): Promise<{ changed: boolean }>;
  /**
   * One page of history as `query.caller` sees it.
   *
   * @throws {JimError} 404 "No such message: ID" for a `before` or `after` the caller cannot see.
   */
  history(query: HistoryQuery): Promise<HistoryPage>;
  /** What is not yet delivered to `recipient`, ascending by id, after `after`. */
  undelivered(recipient: string, options: { after?: number; limit: number }): Promise<
    StoredMessage[]
  >;
  /** Drops messages older than `ts` (retention); returns how many. */
  purge(olderThan: number): Promise<number>;
}

/** Everything the server stores, behind ports. */
export interface Storage extends AsyncDisposable {
  /** Users and credentials. */
  readonly users: UserStore;
  /** Contact lists. */
  readonly contacts: ContactStore;
  /** Login history, written behind. */
  readonly logins: LoginHistory;
  /** Changes, own and other processes'. */
  readonly changes: ChangeFeed;
  /** Server secrets. */
  readonly secrets: SecretStore;
  /** Messages; absent until an adapter implements issue 12's store. */
  readonly messages?: MessageStore;
  /** Rooms, their members, invites and messages (issue 13). */
  readonly rooms: RoomStore;
  /** Whether {@linkcode close} has run. */
  readonly closed: boolean;
  /** Writes what is queued, stops watching and releases the storage. Idempotent. */
  close(): Promise<void>;
}

// --- Rooms (issue 13) ----------------------------------------------------------------------

/** A room as members and admins see it. */
export interface RoomRow {
  /** `#` and the name in display case. */
  name: string;
  /** The owner's login, display case. */
  owner: string;
  /** Whether only invited users may join. */
  inviteOnly: boolean;
  /** Whether new members see the messages from before they joined. */
  historyVisible: boolean;
  /** When it was created, Unix ms. */
  created: number;
  /** How many members it has. */
  members: number;
}

/** A room as one of its members sees it in its room list. */
export interface MemberRoomRow extends RoomRow {
  /** When the caller (last) joined, Unix ms. */
  joined: number;
  /** The highest message id the caller may read; undefined when there is none. */
  lastId: number | undefined;
}

/** A room as the admin tools list it. */
export interface AdminRoomRow extends RoomRow {
  /** Messages stored in it. */
  messages: number;
  /** The newest message's server time, or else the creation time, Unix ms. */
  lastActivity: number;
}

/** One member of a room. */
export interface RoomMemberRow {
  /** The member's login, display case. */
  login: string;
  /** When it (last) joined, Unix ms. */
  joined: number;
  /** Whether it owns the room. */
  owner: boolean;
}

/** Limits a join is checked against, in the same atomic step as the insert. */
export interface JoinOptions {
  /** Server time, Unix ms: the member's joined time (and the room's created time). */
  now: number;
  /** Only when the join creates the room: whether it is invite-only. */
  inviteOnly?: boolean;
  /** Members one room may have. */
  maxMembers?: number;
  /** Rooms one user may be a member of. */
  maxRoomsPerUser?: number;
  /** Longest name of a new room after the `#`. */
  maxNameLength?: number;
}

/** The outcome of {@linkcode RoomStore.join}. */
export interface JoinResult {
  /** The room after the join. */
  room: RoomRow;
  /** Whether the join created it. */
  created: boolean;
  /** False when the user was a member already (nothing changed). */
  joined: boolean;
}

/** The outcome of {@linkcode RoomStore.leave}. */
export interface LeaveResult {
  /** The room's name. */
  name: string;
  /** The new owner when the owner left and others stay. */
  newOwner?: string;
  /** Whether the room was deleted because its last member left. */
  deleted: boolean;
}

/** Which page of a room's history to read. At most one of `before` and `after`. */
export interface RoomHistoryQuery {
  /** The reader: must be a member; sees from its joined time unless the room shows all. */
  caller: string;
  /** The room. */
  room: string;
  /** Items with ids below this one (the newest `limit` of them). */
  before?: number;
  /** Items with ids above this one (the oldest `limit` of them). */
  after?: number;
  /** 1 to the server's page maximum. */
  limit: number;
}

/**
 * Rooms (issue 13): each room with its owner and settings, its members with their joined
 * times, pending invites, and the room's messages. Membership rules are checked inside the
 * store, in the same atomic step as the change, and refused with the protocol's texts:
 * 404 "No such room: #x", 403 "Not a member of #x", 403 "Only the owner of #x can do that",
 * 404 "No such client: bob". Rooms are named as the wire has them and matched by `roomKey()`.
 *
 * Removing a user removes its memberships and invites; a room it owned passes to the member
 * who joined earliest, and a room it was alone in is deleted. Its messages stay.
 */
export interface RoomStore {
  /** A room, or undefined. */
  get(room: string): Promise<RoomRow | undefined>;
  /**
   * Makes `login` a member, creating the room (owned by it) when absent. A join of a member
   * changes nothing (`joined` false). An invite-only room needs a pending invite, which the
   * join consumes.
   *
   * @throws {JimError} 400 for a new room's bad name, 409 "Invalid room: looks like existing
   *   room #X", 403 "Room is invite-only: #x", 403 "Room is full: #x has N members",
   *   403 "Too many rooms: the limit is N", 404 "No such client: X".
   */
  join(room: string, login: string, options: JoinOptions): Promise<JoinResult>;
  /**
   * Ends `login`'s membership. The owner's leaving hands the room to the member who joined
   * earliest; the last member's leaving deletes the room with its messages.
   *
   * @throws {JimError} 404 "No such room: #x", 403 "Not a member of #x".
   */
  leave(room: string, login: string): Promise<LeaveResult>;
  /**
   * The members, ordered by login key, as `caller` (a member) sees them; without `caller`
   * (the server's fan-out, admin tools) nobody is checked.
   *
   * @throws {JimError} 404 "No such room: #x", 403 "Not a member of #x".
   */
  members(room: string, caller?: string): Promise<RoomMemberRow[]>;
  /**
   * Who a message from `sender` to the room reaches: the room's name and the `loginKey` of
   * every member (the sender's included), for the hub's fan-out.
   *
   * @throws {JimError} 404 "No such room: #x", 403 "Not a member of #x".
   */
  audience(room: string, sender: string): Promise<{ name: string; keys: string[] }>;
  /** The rooms `login` is a member of, ordered by room key. */
  roomsOf(login: string): Promise<MemberRoomRow[]>;
  /**
   * Records an invite of `login` by the member `by`; returns the invitee's display login.
   *
   * @throws {JimError} 404 "No such room: #x", 403 "Not a member of #x", 404 "No such client: X",
   *   409 "Already a member of #x: X".
   */
  invite(room: string, by: string, login: string): Promise<string>;
  /**
   * The owner `by` removes the member `login` and its pending invite; returns its login.
   *
   * @throws {JimError} the owner errors, 400 "Cannot kick yourself: use leave",
   *   404 "Not a member of #x: X".
   */
  kick(room: string, by: string, login: string): Promise<string>;
  /**
   * The owner `by` hands the room to the member `login`; returns its login.
   *
   * @throws {JimError} the owner errors, 404 "Not a member of #x: X".
   */
  setOwner(room: string, by: string, login: string): Promise<string>;
  /**
   * The owner `by` changes settings; returns the room after the change.
   *
   * @throws {JimError} the owner errors.
   */
  configure(
    room: string,
    by: string,
    settings: { inviteOnly?: boolean; historyVisible?: boolean },
  ): Promise<RoomRow>;
  /**
   * Deletes the room with its memberships, invites and messages; returns the logins that were
   * members. With `by`, only the owner may; without, it is an admin's delete.
   *
   * @throws {JimError} 404 "No such room: #x", the owner errors when `by` is given.
   */
  delete(room: string, by?: string): Promise<string[]>;
  /** Every room with its message count and last activity, ordered by room key. */
  list(): Promise<AdminRoomRow[]>;
  /**
   * Stores a message to a room (`message.room` set) already routed; resolves once durably
   * committed. Appends that arrive together share one commit.
   *
   * @throws {JimError} 404 "No such room: #x" when the room went away meanwhile.
   */
  append(message: StoredMessage & { room: string }): Promise<void>;
  /**
   * One page of the room's history as `query.caller` sees it. Items have state "delivered".
   *
   * @throws {JimError} 404 "No such room: #x", 403 "Not a member of #x",
   *   404 "No such message: ID" for a cursor the caller cannot see.
   */
  history(query: RoomHistoryQuery): Promise<HistoryPage>;
}
