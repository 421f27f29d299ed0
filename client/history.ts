import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { migrate } from "../common/sqlite_migrations.ts";

/** Which way a message went. */
export type Direction = "in" | "out";
/**
 * Where a message stands. Outgoing: "sent" while it waits for the server's reply, "stored"
 * when the server keeps it for an offline recipient, "delivered" once a session of the
 * recipient got it, "read" once the recipient read it, "failed" with the error when the
 * server refused it or the connection was lost. Incoming: "delivered" until this account
 * read it, then "read".
 */
export type MessageStatus = "sent" | "stored" | "delivered" | "read" | "failed";

/** One stored message. */
export interface MessageRecord {
  /** Unique within the database; used by retry. */
  id: number;
  /** The server's id (servers with `ids`); absent while unconfirmed, failed, or local only. */
  serverId?: number;
  /** The other side of the conversation. */
  contact: string;
  /** "in" received, "out" sent. */
  direction: Direction;
  /** The message text. */
  text: string;
  /** Milliseconds since the epoch: when it was sent, or when it arrived. */
  time: number;
  /** Where it stands; see {@linkcode MessageStatus}. */
  status: MessageStatus;
  /** Why it failed, for a failed message. */
  error?: string;
  /** In a room (`contact` starts with `#`): the member who wrote it. */
  sender?: string;
}

/** A room this account is a member of, as the local mirror keeps it. */
export interface RoomRecord {
  /** `#name`, as the server spells it. */
  room: string;
  /** The owner's login, when known. */
  owner?: string;
  /** Whether only invited logins may join. */
  inviteOnly: boolean;
  /** Whether new members see the whole history. */
  historyVisible: boolean;
  /** How many members it had when last asked, when known. */
  members?: number;
}

/** What {@linkcode History.addMessage} takes. */
export interface NewMessage {
  /** The other side of the conversation. */
  contact: string;
  /** "in" received, "out" sent. */
  direction: Direction;
  /** The message text. */
  text: string;
  /** Milliseconds since the epoch; now by default. */
  time?: number;
  /** The initial status. */
  status: MessageStatus;
  /** Why it failed, for a failed message. */
  error?: string;
  /** The server's id, when the server gave one. */
  serverId?: number;
  /** In a room: the member who wrote it. */
  sender?: string;
}

/** A message as a server page or push gives it: {@linkcode History.storeServerMessage}. */
export interface ServerMessage {
  /** The server's id. */
  serverId: number;
  /** The other side of the conversation. */
  contact: string;
  /** "in" received, "out" sent by this account (from any of its sessions). */
  direction: Direction;
  /** The text. */
  text: string;
  /** The server's time in milliseconds. */
  time: number;
  /** Where it stands; only ever moves forward for a message already cached. */
  status: "stored" | "delivered" | "read";
  /** In a room: the member who wrote it. */
  sender?: string;
}

/** What {@linkcode History.storeServerMessage} did. */
export interface StoreOutcome {
  /** The cached message as it is now. */
  record: MessageRecord;
  /** "added": new; "adopted": an unconfirmed local copy took the id; "updated": state moved on; "same". */
  outcome: "added" | "adopted" | "updated" | "same";
}

/** One search hit. */
export type SearchHit = MessageRecord;

/** Which database to open: an explicit file, or the one for an account on a server. */
export type HistoryLocation =
  | { path: string }
  | { dataDir?: string; account: string; host: string; port: number };

/** How far a status has come; a server state never moves a cached message back. */
const RANK_SQL = `CASE status WHEN 'stored' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
  ELSE 0 END`;
const RANK: Record<MessageStatus, number> = {
  sent: 0,
  failed: 0,
  stored: 1,
  delivered: 2,
  read: 3,
};

const MIGRATIONS: readonly string[] = [
  // 0 -> 1
  `CREATE TABLE contacts (
     login TEXT PRIMARY KEY NOT NULL,
     added INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE messages (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     contact TEXT NOT NULL,
     direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
     text TEXT NOT NULL,
     time INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'failed')),
     error TEXT
   ) STRICT;
   CREATE INDEX messages_by_contact ON messages (contact, time, id);`,
  // 1 -> 2: the cache of the server's history (issue 12). Messages get the server's id, the
  // states stored and read, and full-text search; what was incoming before counts as read.
  `CREATE TABLE messages_v2 (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     contact TEXT NOT NULL,
     direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
     text TEXT NOT NULL,
     time INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (
       status IN ('sent', 'stored', 'delivered', 'read', 'failed')
       AND (direction = 'out' OR status IN ('delivered', 'read'))
     ),
     error TEXT,
     server_id INTEGER UNIQUE CHECK (server_id IS NULL OR server_id > 0),
     -- 1 when a send may have reached the server though no reply said so (connection lost).
     uncertain INTEGER NOT NULL DEFAULT 0 CHECK (uncertain IN (0, 1)),
     -- Where an imported message came from, so that importing again adds nothing.
     import_key TEXT UNIQUE
   ) STRICT;
   INSERT INTO messages_v2 (id, contact, direction, text, time, status, error, uncertain)
     SELECT id, contact, direction, text, time,
       CASE WHEN direction = 'in' THEN 'read' ELSE status END,
       error, CASE WHEN status = 'sent' THEN 1 ELSE 0 END
     FROM messages;
   -- AUTOINCREMENT's promise (no id handed out twice) carries over to the new table.
   DELETE FROM sqlite_sequence WHERE name = 'messages_v2';
   INSERT INTO sqlite_sequence (name, seq) SELECT 'messages_v2', max(
     coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),
     coalesce((SELECT max(id) FROM messages_v2), 0));
   DROP TABLE messages;
   ALTER TABLE messages_v2 RENAME TO messages;
   -- Conversation order: time, then the server's id (messages of one millisecond), then ours.
   CREATE INDEX messages_by_contact ON messages (contact, time, coalesce(server_id, 0), id);
   CREATE INDEX messages_unread ON messages (contact) WHERE direction = 'in' AND status = 'delivered';
   CREATE TABLE conversations (
     contact TEXT PRIMARY KEY NOT NULL,
     -- 1 once the server said nothing older is left than what is cached.
     complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
     -- The highest incoming id the server has as read for this conversation.
     read_mark INTEGER NOT NULL DEFAULT 0
   ) STRICT;
   CREATE TABLE sync (
     key TEXT PRIMARY KEY NOT NULL,
     value INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE pending_contacts (login TEXT PRIMARY KEY NOT NULL) STRICT;
   CREATE VIRTUAL TABLE messages_fts USING fts5(
     text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
   );
   CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
     INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
   END;
   CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
   END;
   CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
     INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
   END;
   INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');`,
  // 2 -> 3: rooms (issue 13). A room is a conversation whose contact is "#name"; its
  // messages name their sender. The rooms this account is in are mirrored like contacts.
  `ALTER TABLE messages ADD COLUMN sender TEXT;
   CREATE TABLE rooms (
     room TEXT PRIMARY KEY NOT NULL CHECK (substr(room, 1, 1) = '#'),
     owner TEXT,
     invite_only INTEGER NOT NULL DEFAULT 0 CHECK (invite_only IN (0, 1)),
     history_visible INTEGER NOT NULL DEFAULT 0 CHECK (history_visible IN (0, 1)),
     members INTEGER,
     joined INTEGER NOT NULL
   ) STRICT;`,
];

/** The schema version this code writes, kept in PRAGMA user_version. */
export const HISTORY_SCHEMA_VERSION: number = MIGRATIONS.length;

/** Most terms of one search; the rest of the query is ignored. */
const MAX_SEARCH_TERMS = 16;
/** Longest search query, in characters. */
export const MAX_SEARCH_LENGTH = 256;

/**
 * A user's search text as an FTS5 query that cannot fail to parse: each whitespace-separated
 * term becomes a quoted phrase (quotes doubled) matched as a prefix, and all terms must match.
 * Operators typed by the user (AND, NEAR, `*`, `:`, parentheses) are just text, and control
 * characters are spaces. Empty when nothing is left to search for.
 *
 * @example
 * ```ts
 * import { ftsQuery } from "./history.ts";
 * ftsQuery('say "hi" OR'); // '"say"* """hi"""* "OR"*'
 * ```
 */
export function ftsQuery(text: string): string {
  // A NUL would end the query early in SQLite's C string; control characters are no words.
  // deno-lint-ignore no-control-regex
  const clean = text.slice(0, MAX_SEARCH_LENGTH).replace(/[\x00-\x1f\x7f]/g, " ");
  return clean.split(/\s+/u).filter((t) => t !== "")
    .slice(0, MAX_SEARCH_TERMS).map((t) => `"${t.replaceAll('"', '""')}"*`).join(" ");
}

/**
 * The data directory: `$XDG_DATA_HOME/jim`, else `~/.local/share/jim`.
 *
 * @example
 * ```ts
 * import { defaultDataDir } from "./history.ts";
 * defaultDataDir({ XDG_DATA_HOME: "/tmp/xdg" }); // "/tmp/xdg/jim"
 * ```
 * @throws {Error} when neither XDG_DATA_HOME nor HOME is set.
 */
export function defaultDataDir(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg) return join(xdg, "jim");
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) {
    throw new Error("Cannot find the data directory: set XDG_DATA_HOME or HOME, or --data-dir");
  }
  return join(home, ".local", "share", "jim");
}

/**
 * The database file of an account on a server, e.g. `alice@127.0.0.1_7777.db`. Characters
 * that a file name cannot hold safely are percent-encoded, so different servers never share
 * a file.
 *
 * @example
 * ```ts
 * import { historyPath } from "./history.ts";
 * historyPath("/data", "alice", "::1", 7777); // "/data/alice@%3A%3A1_7777.db"
 * ```
 */
export function historyPath(dataDir: string, account: string, host: string, port: number): string {
  const safe = (s: string) =>
    s.replace(
      /[^\p{L}\p{N}._-]/gu,
      (c) =>
        [...new TextEncoder().encode(c)].map((b) => `%${b.toString(16).toUpperCase()}`).join(""),
    );
  return join(dataDir, `${safe(account)}@${safe(host.toLowerCase())}_${port}.db`);
}

interface MessageRow {
  id: number;
  contact: string;
  direction: Direction;
  text: string;
  time: number;
  status: MessageStatus;
  error: string | null;
  server_id: number | null;
  sender: string | null;
}

interface RoomRow {
  room: string;
  owner: string | null;
  invite_only: number;
  history_visible: number;
  members: number | null;
}

function toRoom(row: RoomRow): RoomRecord {
  const room: RoomRecord = {
    room: row.room,
    inviteOnly: Number(row.invite_only) === 1,
    historyVisible: Number(row.history_visible) === 1,
  };
  if (row.owner !== null) room.owner = row.owner;
  if (row.members !== null) room.members = Number(row.members);
  return room;
}

function toRecord(row: MessageRow): MessageRecord {
  const record: MessageRecord = {
    id: Number(row.id),
    contact: row.contact,
    direction: row.direction,
    text: row.text,
    time: Number(row.time),
    status: row.status,
  };
  if (row.server_id !== null) record.serverId = Number(row.server_id);
  if (row.error !== null) record.error = row.error;
  if (row.sender !== null && row.sender !== undefined) record.sender = row.sender;
  return record;
}

/**
 * The local history of one account on one server: a mirror of the contact list and every
 * message sent or received, in a SQLite file. The schema is versioned with PRAGMA
 * user_version and migrated on open.
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * using history = History.open({ dataDir: "/tmp/jim", account: "alice", host: "127.0.0.1", port: 7777 });
 * const m = history.addMessage({ contact: "bob", direction: "out", text: "hi", status: "sent" });
 * history.setStatus(m.id, "delivered");
 * console.log(history.messages("bob", { limit: 20 }));
 * ```
 */
export class History {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync | undefined;
  #statements = new Map<string, StatementSync>();

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Opens (creating if needed) a history database and brings its schema up to date.
   *
   * @throws {Error} when the file was written by a newer version, or cannot be opened.
   */
  static open(location: HistoryLocation): History {
    let path: string;
    if ("path" in location) {
      path = location.path;
    } else {
      const dir = location.dataDir ?? defaultDataDir();
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      path = historyPath(dir, location.account, location.host, location.port);
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new Error(`Cannot open history: ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      // WAL with synchronous=NORMAL: a power cut may lose the last messages but never
      // corrupts the file, and a send no longer waits for two fsyncs.
      db.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
      );
      migrate(db, {
        migrations: MIGRATIONS,
        tooNew: (found, latest) =>
          new Error(
            `Cannot open history: ${path} has schema version ${found}, newer than this ` +
              `client's ${latest}`,
          ),
      });
    } catch (error) {
      db.close();
      throw error;
    }
    return new History(path, db);
  }

  #stmt(sql: string): StatementSync {
    const db = this.#db;
    if (!db) throw new Error("Cannot use history: it is closed");
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** The contacts mirror, sorted by login. */
  contacts(): string[] {
    const rows = this.#stmt("SELECT login FROM contacts ORDER BY login").all() as {
      login: string;
    }[];
    return rows.map((r) => r.login);
  }

  /** Whether `login` is in the contacts mirror. */
  hasContact(login: string): boolean {
    return this.#stmt("SELECT 1 FROM contacts WHERE login = ?").get(login) !== undefined;
  }

  /** Adds a contact to the mirror; returns false when it was there already. */
  addContact(login: string): boolean {
    const result = this.#stmt("INSERT OR IGNORE INTO contacts (login, added) VALUES (?, ?)").run(
      login,
      Date.now(),
    );
    return Number(result.changes) > 0;
  }

  /** Removes a contact from the mirror; its messages stay. Returns false when it was absent. */
  removeContact(login: string): boolean {
    const result = this.#stmt("DELETE FROM contacts WHERE login = ?").run(login);
    return Number(result.changes) > 0;
  }

  /**
   * Makes the mirror equal to `logins` (the server's list, the source of truth), in one
   * transaction. Returns what was added and removed.
   */
  setContacts(logins: readonly string[]): { added: string[]; removed: string[] } {
    const db = this.#db;
    if (!db) throw new Error("Cannot use history: it is closed");
    const wanted = new Set(logins);
    const added: string[] = [];
    const removed: string[] = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = new Set(this.contacts());
      for (const login of current) {
        if (!wanted.has(login)) {
          this.removeContact(login);
          removed.push(login);
        }
      }
      for (const login of wanted) {
        if (!current.has(login)) {
          this.addContact(login);
          added.push(login);
        }
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return { added, removed };
  }

  /**
   * Stores a message and returns it with its id.
   *
   * @throws {Error} when `serverId` is cached already (see {@linkcode storeServerMessage}).
   */
  addMessage(message: NewMessage): MessageRecord {
    const time = message.time ?? Date.now();
    const row = this.#stmt(
      `INSERT INTO messages (contact, direction, text, time, status, error, server_id, sender)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(
      message.contact,
      message.direction,
      message.text,
      Math.round(time),
      message.status,
      message.error ?? null,
      message.serverId ?? null,
      message.sender ?? null,
    ) as unknown as MessageRow;
    return toRecord(row);
  }

  /**
   * Updates a message's status, and its error (cleared unless given) and time (kept unless
   * given); returns the new record, or undefined for an unknown id. `uncertain` marks a
   * failure after which the server may have the message all the same (the connection was
   * lost while it waited): a copy of it found in the server's history takes its place.
   */
  setStatus(
    id: number,
    status: MessageStatus,
    options: { error?: string; time?: number; uncertain?: boolean } = {},
  ): MessageRecord | undefined {
    const row = this.#stmt(
      `UPDATE messages SET status = ?, error = ?, time = coalesce(?, time), uncertain = ?
       WHERE id = ? RETURNING *`,
    ).get(
      status,
      options.error ?? null,
      options.time === undefined ? null : Math.round(options.time),
      options.uncertain ? 1 : 0,
      id,
    ) as unknown as MessageRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /**
   * Records the server's answer to a send: its id, time and state. Should another row hold
   * that id already (the server's copy arrived first: a carbon stored by another process on
   * this file, or a history page), that row stays, takes the answer's state, and this one is
   * deleted: its local id is returned as `replaced`, and `record` is the one that stays.
   */
  confirmSent(
    id: number,
    answer: { status: "stored" | "delivered" | "read"; serverId?: number; time?: number },
  ): { record: MessageRecord | undefined; replaced?: number } {
    return this.#transaction(() => {
      if (answer.serverId !== undefined) {
        const other = this.messageByServerId(answer.serverId);
        if (other && other.id !== id && this.message(id)) {
          this.#stmt("DELETE FROM messages WHERE id = ?").run(id);
          return { record: this.#advance(other.id, answer.status) ?? other, replaced: id };
        }
      }
      const row = this.#stmt(
        `UPDATE messages SET status = ?, error = NULL, uncertain = 0,
           server_id = coalesce(?, server_id), time = coalesce(?, time)
         WHERE id = ? RETURNING *`,
      ).get(
        answer.status,
        answer.serverId ?? null,
        answer.time === undefined ? null : Math.round(answer.time),
        id,
      ) as unknown as MessageRow | undefined;
      return { record: row ? toRecord(row) : undefined };
    });
  }

  /**
   * Caches a message the server gave (a push, a carbon or a history item), deduplicated by
   * its server id: a message cached already only has its state moved forward (never back).
   * With `adopt`, an outgoing message whose reply was lost (still "sent", or failed with the
   * connection) with the same contact and text takes the id instead of a second copy being
   * added.
   */
  storeServerMessage(message: ServerMessage, options: { adopt?: boolean } = {}): StoreOutcome {
    return this.#transaction(() => {
      const cached = this.messageByServerId(message.serverId);
      if (cached) {
        if (cached.contact !== message.contact || cached.direction !== message.direction) {
          // The same id for another conversation: the first one stays; nothing is changed.
          return { record: cached, outcome: "same" };
        }
        const moved = this.#advance(cached.id, message.status);
        return moved ? { record: moved, outcome: "updated" } : { record: cached, outcome: "same" };
      }
      if (options.adopt && message.direction === "out") {
        const row = this.#stmt(
          `UPDATE messages SET server_id = ?, status = ?, time = ?, error = NULL, uncertain = 0
           WHERE id = (
             SELECT id FROM messages
             WHERE direction = 'out' AND server_id IS NULL AND contact = ? AND text = ?
               AND (status = 'sent' OR (status = 'failed' AND uncertain = 1))
             ORDER BY id LIMIT 1
           ) RETURNING *`,
        ).get(
          message.serverId,
          message.status,
          Math.round(message.time),
          message.contact,
          message.text,
        ) as unknown as MessageRow | undefined;
        if (row) return { record: toRecord(row), outcome: "adopted" };
      }
      const record = this.addMessage({
        contact: message.contact,
        direction: message.direction,
        text: message.text,
        time: message.time,
        status: message.status,
        serverId: message.serverId,
        ...(message.sender === undefined ? {} : { sender: message.sender }),
      });
      return { record, outcome: "added" };
    });
  }

  /** Moves a message's state forward to `status`; undefined when it is there or beyond. */
  #advance(id: number, status: MessageStatus): MessageRecord | undefined {
    const row = this.#stmt(
      `UPDATE messages SET status = ?, error = NULL, uncertain = 0
       WHERE id = ? AND ${RANK_SQL} < ? RETURNING *`,
    ).get(status, id, RANK[status]) as unknown as MessageRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The rooms mirror, sorted by name. */
  rooms(): RoomRecord[] {
    const rows = this.#stmt("SELECT * FROM rooms ORDER BY lower(room)")
      .all() as unknown as RoomRow[];
    return rows.map(toRoom);
  }

  /** One room of the mirror, matched as the server matches names (any case). */
  room(name: string): RoomRecord | undefined {
    const row = this.#stmt("SELECT * FROM rooms WHERE lower(room) = lower(?)").get(name) as
      | unknown
      | undefined;
    return row ? toRoom(row as RoomRow) : undefined;
  }

  /**
   * Adds a room to the mirror, or updates what is known of it; returns whether it was new.
   * The name is kept as given (the server's spelling).
   */
  putRoom(room: RoomRecord): boolean {
    const known = this.room(room.room);
    if (known) {
      this.#stmt(
        `UPDATE rooms SET room = ?, owner = ?, invite_only = ?, history_visible = ?, members = ?
         WHERE lower(room) = lower(?)`,
      ).run(
        room.room,
        room.owner ?? known.owner ?? null,
        room.inviteOnly ? 1 : 0,
        room.historyVisible ? 1 : 0,
        room.members ?? known.members ?? null,
        room.room,
      );
      return false;
    }
    this.#stmt(
      `INSERT INTO rooms (room, owner, invite_only, history_visible, members, joined)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(
      room.room,
      room.owner ?? null,
      room.inviteOnly ? 1 : 0,
      room.historyVisible ? 1 : 0,
      room.members ?? null,
      Date.now(),
    );
    return true;
  }

  /** Takes a room off the mirror (left, kicked, deleted); its messages stay. */
  removeRoom(name: string): boolean {
    const result = this.#stmt("DELETE FROM rooms WHERE lower(room) = lower(?)").run(name);
    return Number(result.changes) > 0;
  }

  /**
   * Makes the rooms mirror equal to `rooms` (the server's list), in one transaction.
   * Returns the names added and removed.
   */
  setRooms(rooms: readonly RoomRecord[]): { added: string[]; removed: string[] } {
    return this.#transaction(() => {
      const wanted = new Map(rooms.map((r) => [r.room.toLowerCase(), r]));
      const removed: string[] = [];
      const added: string[] = [];
      for (const r of this.rooms()) {
        if (!wanted.has(r.room.toLowerCase())) {
          this.removeRoom(r.room);
          removed.push(r.room);
        }
      }
      for (const r of rooms) if (this.putRoom(r)) added.push(r.room);
      return { added, removed };
    });
  }

  /** The highest server id cached with `contact` (a login or a room), or 0. */
  newestServerId(contact: string): number {
    const row = this.#stmt(
      "SELECT max(server_id) AS id FROM messages WHERE contact = ? AND server_id IS NOT NULL",
    ).get(contact) as { id: number | null };
    return Number(row.id ?? 0);
  }

  /** One message by its server id. */
  messageByServerId(serverId: number): MessageRecord | undefined {
    const row = this.#stmt("SELECT * FROM messages WHERE server_id = ?").get(serverId) as
      | unknown
      | undefined;
    return row ? toRecord(row as MessageRow) : undefined;
  }

  /**
   * A delivery receipt: the message this account sent to `contact` with `serverId` moves to
   * "delivered" (from "stored"). Undefined when there is no such message, or it is further.
   */
  markDelivered(contact: string, serverId: number): MessageRecord | undefined {
    const m = this.messageByServerId(serverId);
    if (!m || m.direction !== "out" || m.contact !== contact) return undefined;
    return this.#advance(m.id, "delivered");
  }

  /**
   * A read receipt: everything this account sent to `contact` up to `serverId` is read.
   * Returns the messages that changed.
   */
  markReadByPeer(contact: string, serverId: number): MessageRecord[] {
    const rows = this.#stmt(
      `UPDATE messages SET status = 'read', error = NULL, uncertain = 0
       WHERE direction = 'out' AND contact = ? AND server_id IS NOT NULL AND server_id <= ?
         AND status IN ('stored', 'delivered') RETURNING *`,
    ).all(contact, serverId) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /**
   * Marks what `contact` sent read: up to the server id `upTo` when given (a read mark made
   * elsewhere), else all of it. Returns how many messages changed.
   */
  markConversationRead(contact: string, upTo?: number): number {
    const result = upTo === undefined
      ? this.#stmt(
        `UPDATE messages SET status = 'read'
         WHERE direction = 'in' AND contact = ? AND status = 'delivered'`,
      ).run(contact)
      : this.#stmt(
        `UPDATE messages SET status = 'read'
         WHERE direction = 'in' AND contact = ? AND status = 'delivered'
           AND server_id IS NOT NULL AND server_id <= ?`,
      ).run(contact, upTo);
    return Number(result.changes);
  }

  /** The highest server id among what `contact` sent that is marked read here, or 0. */
  lastReadIncoming(contact: string): number {
    const row = this.#stmt(
      `SELECT max(server_id) AS id FROM messages
       WHERE direction = 'in' AND contact = ? AND status = 'read'`,
    ).get(contact) as { id: number | null };
    return Number(row.id ?? 0);
  }

  /** Unread incoming messages per contact (only contacts with some). */
  unreadCounts(): Map<string, number> {
    const rows = this.#stmt(
      `SELECT contact, count(*) AS n FROM messages
       WHERE direction = 'in' AND status = 'delivered' GROUP BY contact`,
    ).all() as { contact: string; n: number }[];
    return new Map(rows.map((r) => [r.contact, Number(r.n)]));
  }

  /** The highest incoming id the server is known to have as read for `contact`, or 0. */
  readMark(contact: string): number {
    const row = this.#stmt("SELECT read_mark FROM conversations WHERE contact = ?").get(
      contact,
    ) as { read_mark: number } | undefined;
    return Number(row?.read_mark ?? 0);
  }

  /** Raises the read mark of `contact` to `serverId` (never lowers it). */
  setReadMark(contact: string, serverId: number): void {
    this.#stmt(
      `INSERT INTO conversations (contact, read_mark) VALUES (?, ?)
       ON CONFLICT (contact) DO UPDATE SET read_mark = max(read_mark, excluded.read_mark)`,
    ).run(contact, serverId);
  }

  /** Conversations whose read mark here is ahead of the one the server has. */
  unsentReadMarks(): { contact: string; serverId: number }[] {
    const rows = this.#stmt(
      `SELECT m.contact AS contact, max(m.server_id) AS id FROM messages m
       LEFT JOIN conversations c ON c.contact = m.contact
       WHERE m.direction = 'in' AND m.status = 'read' AND m.server_id IS NOT NULL
       GROUP BY m.contact HAVING max(m.server_id) > coalesce(max(c.read_mark), 0)`,
    ).all() as { contact: string; id: number }[];
    return rows.map((r) => ({ contact: r.contact, serverId: Number(r.id) }));
  }

  /** Whether the server has nothing older with `contact` than what is cached. */
  isComplete(contact: string): boolean {
    const all = this.#stmt("SELECT value FROM sync WHERE key = 'complete'").get() as
      | { value: number }
      | undefined;
    if (all?.value === 1) return true;
    const row = this.#stmt("SELECT complete FROM conversations WHERE contact = ?").get(
      contact,
    ) as { complete: number } | undefined;
    return row?.complete === 1;
  }

  /** Records that the server has nothing older in any conversation than what is cached. */
  setAllComplete(): void {
    this.#stmt(
      `INSERT INTO sync (key, value) VALUES ('complete', 1)
       ON CONFLICT (key) DO UPDATE SET value = 1`,
    ).run();
  }

  /** Records that the server has nothing older with `contact` than what is cached. */
  setComplete(contact: string): void {
    this.#stmt(
      `INSERT INTO conversations (contact, complete) VALUES (?, 1)
       ON CONFLICT (contact) DO UPDATE SET complete = 1`,
    ).run(contact);
  }

  /** The lowest server id cached with `contact`, or undefined. */
  oldestServerId(contact: string): number | undefined {
    const row = this.#stmt(
      "SELECT min(server_id) AS id FROM messages WHERE contact = ? AND server_id IS NOT NULL",
    ).get(contact) as { id: number | null };
    return row.id === null ? undefined : Number(row.id);
  }

  /**
   * How far the server's history has been fetched without a gap: every message up to this id
   * is cached (0 before the first fetch). Live messages do not move it; only history pages do.
   */
  syncCursor(): number {
    const row = this.#stmt("SELECT value FROM sync WHERE key = 'cursor'").get() as
      | { value: number }
      | undefined;
    return Number(row?.value ?? 0);
  }

  /** Moves the sync cursor forward to `serverId` (never back). */
  setSyncCursor(serverId: number): void {
    this.#stmt(
      `INSERT INTO sync (key, value) VALUES ('cursor', ?)
       ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
    ).run(serverId);
  }

  /**
   * Messages whose text has every term of `query` (as word prefixes, any case, accents
   * ignored), newest first. The query is plain text: nothing in it is syntax (see
   * {@linkcode ftsQuery}), so no input makes it fail.
   *
   * @example
   * ```ts
   * import { History } from "./history.ts";
   * using history = History.open({ path: ":memory:" });
   * history.addMessage({ contact: "bob", direction: "in", text: "Lunch at noon?", status: "read" });
   * history.search("lunch"); // [{ contact: "bob", text: "Lunch at noon?", … }]
   * ```
   */
  search(query: string, options: { limit?: number; contact?: string } = {}): SearchHit[] {
    const match = ftsQuery(query);
    if (match === "") return [];
    const limit = Math.max(1, Math.min(options.limit ?? 50, 500));
    const rows = (options.contact === undefined
      ? this.#stmt(
        `SELECT m.* FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
         WHERE messages_fts MATCH ? ORDER BY m.time DESC, m.id DESC LIMIT ?`,
      ).all(match, limit)
      : this.#stmt(
        `SELECT m.* FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
         WHERE messages_fts MATCH ? AND m.contact = ? ORDER BY m.time DESC, m.id DESC LIMIT ?`,
      ).all(match, options.contact, limit)) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /**
   * Imports a message from elsewhere (a seed client's database) once: `key` says where it
   * came from, and a message imported under that key before is not added again. Returns
   * whether it was added.
   */
  importMessage(message: NewMessage, key: string): boolean {
    const result = this.#stmt(
      `INSERT INTO messages (contact, direction, text, time, status, import_key)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (import_key) DO NOTHING`,
    ).run(
      message.contact,
      message.direction,
      message.text,
      Math.round(message.time ?? Date.now()),
      message.status,
      key,
    );
    return Number(result.changes) > 0;
  }

  /** Contacts to add on the server at the next login (imported ones). */
  pendingContacts(): string[] {
    const rows = this.#stmt("SELECT login FROM pending_contacts ORDER BY login").all() as {
      login: string;
    }[];
    return rows.map((r) => r.login);
  }

  /** Queues `login` to be added on the server at the next login; false when queued already. */
  addPendingContact(login: string): boolean {
    const result = this.#stmt("INSERT OR IGNORE INTO pending_contacts (login) VALUES (?)").run(
      login,
    );
    return Number(result.changes) > 0;
  }

  /** Takes `login` off the queue of {@linkcode pendingContacts}. */
  removePendingContact(login: string): void {
    this.#stmt("DELETE FROM pending_contacts WHERE login = ?").run(login);
  }

  /** Runs `work` in one transaction (or inside the one already open). */
  transaction<T>(work: () => T): T {
    return this.#transaction(work);
  }

  #transaction<T>(work: () => T): T {
    const db = this.#db;
    if (!db) throw new Error("Cannot use history: it is closed");
    if (db.isTransaction) return work();
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  /** One message by id. */
  message(id: number): MessageRecord | undefined {
    const row = this.#stmt("SELECT * FROM messages WHERE id = ?").get(id) as unknown as
      | MessageRow
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  /**
   * The last `limit` messages with `contact` (default 50), oldest first. With `before` (a
   * message, or its time, server id and id), the last `limit` that sort before it: the page
   * before that one; with `after`, the first `limit` that sort after it. The order is time,
   * then the server's id (many messages can share a millisecond), then the local id.
   *
   * @example
   * ```ts
   * import { History } from "./history.ts";
   * using history = History.open({ path: ":memory:" });
   * const latest = history.messages("bob", { limit: 20 });
   * const older = latest[0] ? history.messages("bob", { limit: 20, before: latest[0] }) : [];
   * ```
   */
  messages(
    contact: string,
    options: {
      limit?: number;
      before?: { time: number; id: number; serverId?: number };
      after?: { time: number; id: number; serverId?: number };
    } = {},
  ): MessageRecord[] {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError("Invalid limit: must be a positive integer");
    }
    const { before, after } = options;
    if (after !== undefined) {
      // The first `limit` after it: the page below, towards the newest.
      const rows = this.#stmt(
        `SELECT * FROM messages
         WHERE contact = ? AND (time, coalesce(server_id, 0), id) > (?, ?, ?)
         ORDER BY time, coalesce(server_id, 0), id LIMIT ?`,
      ).all(
        contact,
        Math.round(after.time),
        after.serverId ?? 0,
        after.id,
        limit,
      ) as unknown as MessageRow[];
      return rows.map(toRecord);
    }
    const rows = (before === undefined
      ? this.#stmt(
        `SELECT * FROM (
           SELECT * FROM messages WHERE contact = ?
           ORDER BY time DESC, coalesce(server_id, 0) DESC, id DESC LIMIT ?
         ) ORDER BY time, coalesce(server_id, 0), id`,
      ).all(contact, limit)
      : this.#stmt(
        `SELECT * FROM (
           SELECT * FROM messages
           WHERE contact = ? AND (time, coalesce(server_id, 0), id) < (?, ?, ?)
           ORDER BY time DESC, coalesce(server_id, 0) DESC, id DESC LIMIT ?
         ) ORDER BY time, coalesce(server_id, 0), id`,
      ).all(
        contact,
        Math.round(before.time),
        before.serverId ?? 0,
        before.id,
        limit,
      )) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /** Outgoing messages that failed, oldest first. */
  failed(contact?: string): MessageRecord[] {
    const rows = (contact === undefined
      ? this.#stmt(
        "SELECT * FROM messages WHERE direction = 'out' AND status = 'failed' ORDER BY id",
      ).all()
      : this.#stmt(
        `SELECT * FROM messages WHERE direction = 'out' AND status = 'failed' AND contact = ?
         ORDER BY id`,
      ).all(contact)) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /** Closes the database. Idempotent. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#statements.clear();
    db?.close();
  }

  /** Closes the database, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
