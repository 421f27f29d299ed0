/**
 * The server database's schema: its versioned migrations and the refresh of the columns that
 * the name rules derive. Run by {@linkcode openDatabase} through the one migrator
 * (common/sqlite_migrations.ts).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { migrate, type Migration, type Schema } from "../../../common/sqlite_migrations.ts";
import { loginKey, loginSkeleton } from "../../../protocol/mod.ts";
import { NAME_RULES_VERSION } from "../name_rules.ts";

// One version for every adapter: a rules change refreshes SQLite and PostgreSQL alike.
export { NAME_RULES_VERSION };

/**
 * SQL that rebuilds a message table of schema 6 with the same rows and no foreign keys, its
 * states from `lowestState` to 2 (migration 7). Its indexes are dropped with it.
 */
function withoutForeignKeys(table: string, lowestState: "0" | "1"): string {
  return `
  CREATE TABLE ${table}_v7 (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    time REAL NOT NULL,
    sender_id INTEGER NOT NULL,
    recipient_id INTEGER NOT NULL,
    body_json TEXT NOT NULL,
    state INTEGER NOT NULL CHECK (state BETWEEN ${lowestState} AND 2)
  ) STRICT;
  INSERT INTO ${table}_v7 (id, ts, time, sender_id, recipient_id, body_json, state)
    SELECT id, ts, time, sender_id, recipient_id, body_json, state FROM ${table};
  DROP TABLE ${table};
  ALTER TABLE ${table}_v7 RENAME TO ${table};`;
}

/** Every migration, oldest first; exported for the tests of upgrades. */
export const MIGRATIONS: readonly Migration<DatabaseSync>[] = [
  // 1: initial schema.
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE COLLATE NOCASE,
    login_key TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    legacy_hash TEXT,
    created INTEGER NOT NULL,
    last_seen INTEGER,
    last_ip TEXT
  ) STRICT;
  CREATE TABLE contacts (
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added INTEGER NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX contacts_contact ON contacts(contact_id);
  CREATE TABLE login_history (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    time INTEGER NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX login_history_user_time ON login_history(user_id, time);
  `,
  // 2: look-alike names. The skeleton is unique where set; a row whose name collides with an
  // older one keeps a NULL skeleton and says with whom in name_conflict. The columns are
  // filled by refreshNameKeys(), which runs after the migrations whenever the rules changed.
  `
  ALTER TABLE users ADD COLUMN login_skeleton TEXT;
  ALTER TABLE users ADD COLUMN name_conflict TEXT;
  CREATE UNIQUE INDEX users_login_skeleton ON users(login_skeleton);
  CREATE TABLE name_rules (id INTEGER PRIMARY KEY CHECK (id = 1), version TEXT NOT NULL) STRICT;
  `,
  // 3: secrets the server keeps across restarts (the key of the decoy SCRAM salts).
  `
  CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 4: messages (issue 12's MessageStore), as in the PostgreSQL schema. One recipient account
  // per message, so its delivery state is a column: 0 stored, 1 delivered, 2 read. The text is
  // a JSON string literal, which keeps U+0000 and lone surrogates that UTF-8 TEXT would not.
  // A message goes with either account. Each index costs every insert, so there are only as
  // many as the queries need: a conversation's two sides (messages_conversation), what an
  // account received (messages_received; what it sent, across conversations, is read from
  // messages_conversation by its sender prefix), the backlog, and retention.
  `
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    time REAL NOT NULL,
    sender_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    recipient_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body_json TEXT NOT NULL,
    state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2)
  ) STRICT;
  CREATE INDEX messages_conversation ON messages(sender_id, recipient_id, id);
  CREATE INDEX messages_received ON messages(recipient_id, id);
  CREATE INDEX messages_undelivered ON messages(recipient_id, id) WHERE state = 0;
  CREATE INDEX messages_ts ON messages(ts);
  `,
  // 5: Rooms (issue 13): rooms, members with their joined time, invites and room messages.
  // The owner is always a member. Removing a user first hands the rooms it owns to the
  // member who joined earliest and deletes those it was alone in; the cascades then drop its
  // memberships and invites. Room messages keep the sender's login as text, so they stay.
  `
  CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    name_skeleton TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    invite_only INTEGER NOT NULL CHECK (invite_only IN (0, 1)),
    history_visible INTEGER NOT NULL CHECK (history_visible IN (0, 1)),
    created INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX rooms_owner ON rooms(owner_id);
  CREATE TABLE room_members (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX room_members_user ON room_members(user_id);
  CREATE TABLE room_invites (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invited INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX room_invites_user ON room_invites(user_id);
  CREATE TABLE room_messages (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    time REAL NOT NULL,
    sender TEXT NOT NULL,
    body_json TEXT NOT NULL
  ) STRICT;
  CREATE INDEX room_messages_room ON room_messages(room_id, id);
  CREATE TRIGGER users_leave_rooms BEFORE DELETE ON users BEGIN
    DELETE FROM rooms WHERE owner_id = OLD.id AND NOT EXISTS (
      SELECT 1 FROM room_members m WHERE m.room_id = rooms.id AND m.user_id <> OLD.id);
    UPDATE rooms SET owner_id = (
      SELECT m.user_id FROM room_members m WHERE m.room_id = rooms.id AND m.user_id <> OLD.id
      ORDER BY m.joined, m.user_id LIMIT 1) WHERE owner_id = OLD.id;
  END;
  `,
  // 6: the staging table of messages a session took (see storage/sqlite/_messages.ts): the
  // columns of messages with no index but the key, so that a commit appends to its last
  // pages; they move to messages in batches. Only delivered or read messages are staged.
  `
  CREATE TABLE messages_recent (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    time REAL NOT NULL,
    sender_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    recipient_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body_json TEXT NOT NULL,
    state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 2)
  ) STRICT;
  `,
  // 7: one index per message, not three (docs/benchmarks.md, "One index per message"). What
  // an account sent or received across its conversations is read conversation by conversation
  // from messages_conversation, whose peers the conversations table lists (both ways round),
  // so messages_received goes. Its foreign keys go too: each cost every insert two lookups, and
  // a cascade by recipient would scan the table without messages_received. A trigger removes a
  // user's messages instead, through the same index. Rebuilt, since SQLite cannot drop a
  // foreign key in place.
  `
  ${withoutForeignKeys("messages", "0")}
  CREATE INDEX messages_conversation ON messages(sender_id, recipient_id, id);
  CREATE INDEX messages_undelivered ON messages(recipient_id, id) WHERE state = 0;
  CREATE INDEX messages_ts ON messages(ts);
  ${withoutForeignKeys("messages_recent", "1")}
  CREATE TABLE conversations (
    user_id INTEGER NOT NULL,
    peer_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, peer_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO conversations (user_id, peer_id)
    SELECT sender_id, recipient_id FROM messages
    UNION SELECT recipient_id, sender_id FROM messages;
  CREATE TRIGGER users_leave_messages BEFORE DELETE ON users BEGIN
    DELETE FROM messages WHERE sender_id = OLD.id;
    DELETE FROM messages WHERE recipient_id = OLD.id
      AND sender_id IN (SELECT peer_id FROM conversations WHERE user_id = OLD.id);
    DELETE FROM messages_recent WHERE sender_id = OLD.id OR recipient_id = OLD.id;
    DELETE FROM conversations WHERE peer_id = OLD.id
      AND user_id IN (SELECT peer_id FROM conversations WHERE user_id = OLD.id);
    DELETE FROM conversations WHERE user_id = OLD.id;
  END;
  `,
  // 8: each message written once (docs/benchmarks.md, "Indexing in batches"). The staging
  // table's rows join messages; the conversation index becomes a table of its own,
  // message_index, which the server extends in batches; message_index_state.upto is the id up
  // to which every message is in it, and reads scan the tail above. The trigger removes a
  // user's messages through the index and the tail. users_version counts changes to which
  // login has which id, by any connection, so that the message store may keep what it looked
  // up from one commit to the next and ask one number per commit instead.
  `
  INSERT INTO messages (id, ts, time, sender_id, recipient_id, body_json, state)
    SELECT id, ts, time, sender_id, recipient_id, body_json, state FROM messages_recent
    WHERE true ON CONFLICT (id) DO NOTHING;
  INSERT OR IGNORE INTO conversations (user_id, peer_id)
    SELECT sender_id, recipient_id FROM messages_recent
    UNION SELECT recipient_id, sender_id FROM messages_recent;
  DROP TABLE messages_recent;
  CREATE TABLE message_index (
    sender_id INTEGER NOT NULL,
    recipient_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (sender_id, recipient_id, id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO message_index (sender_id, recipient_id, id)
    SELECT sender_id, recipient_id, id FROM messages ORDER BY sender_id, recipient_id, id;
  DROP INDEX messages_conversation;
  CREATE TABLE message_index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
  ) STRICT;
  INSERT INTO message_index_state (id, upto)
    VALUES (1, coalesce((SELECT max(id) FROM messages), 0));
  DROP TRIGGER users_leave_messages;
  CREATE TRIGGER users_leave_messages BEFORE DELETE ON users BEGIN
    DELETE FROM messages WHERE id IN (SELECT id FROM message_index WHERE sender_id = OLD.id);
    DELETE FROM messages WHERE id IN (
      SELECT id FROM message_index WHERE recipient_id = OLD.id
        AND sender_id IN (SELECT peer_id FROM conversations WHERE user_id = OLD.id));
    DELETE FROM messages WHERE id > (SELECT upto FROM message_index_state)
      AND (sender_id = OLD.id OR recipient_id = OLD.id);
    DELETE FROM message_index WHERE sender_id = OLD.id;
    DELETE FROM message_index WHERE recipient_id = OLD.id
      AND sender_id IN (SELECT peer_id FROM conversations WHERE user_id = OLD.id);
    DELETE FROM conversations WHERE peer_id = OLD.id
      AND user_id IN (SELECT peer_id FROM conversations WHERE user_id = OLD.id);
    DELETE FROM conversations WHERE user_id = OLD.id;
  END;
  CREATE TABLE users_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
  ) STRICT;
  INSERT INTO users_version (id, n) VALUES (1, 0);
  CREATE TRIGGER users_version_insert AFTER INSERT ON users BEGIN
    UPDATE users_version SET n = n + 1;
  END;
  CREATE TRIGGER users_version_delete AFTER DELETE ON users BEGIN
    UPDATE users_version SET n = n + 1;
  END;
  CREATE TRIGGER users_version_update AFTER UPDATE OF id, login, login_key ON users BEGIN
    UPDATE users_version SET n = n + 1;
  END;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

const SCHEMA: Schema<DatabaseSync> = {
  migrations: MIGRATIONS,
  tooNew: (found, latest) =>
    new Error(
      `Cannot open database: schema version ${found} is newer than this program's ${latest}`,
    ),
  refresh: {
    needed: (db) => nameRulesVersion(db) !== NAME_RULES_VERSION,
    run: refreshNameKeys,
  },
};

/** Options for {@linkcode openDatabase}. */
export interface DatabaseOptions {
  /** Milliseconds to wait for another process's write lock; 5000 by default. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) and migrates the database at `path`.
 *
 * @throws {Error} when the file cannot be opened or its schema is newer than this code.
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.exec("PRAGMA journal_mode = WAL");
    // NORMAL is durable across application crashes in WAL mode; only a power cut may lose the
    // last commits, which for login history and last-seen is acceptable.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    // SQLite builds a multi-row INSERT's rows in a temporary b-tree; on disk (the default)
    // that costs every group commit of messages a temporary file's writes.
    db.exec("PRAGMA temp_store = MEMORY");
    migrate(db, SCHEMA);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function nameRulesVersion(db: DatabaseSync): string | undefined {
  return db.prepare("SELECT version FROM name_rules WHERE id = 1").get()?.version as
    | string
    | undefined;
}

/**
 * Recomputes login_key and login_skeleton of every user under the current name rules, oldest
 * first, and records collisions instead of failing. A row whose new key another row holds
 * keeps its old key (nothing is lost; the name now reaches the other account); so an account
 * whose key does not change never loses its name, and among changed ones the older wins. A
 * row whose skeleton an older row has keeps a NULL skeleton. Both get name_conflict.
 */
function refreshNameKeys(db: DatabaseSync): void {
  const rows = db.prepare("SELECT id, login FROM users ORDER BY created, id").all();
  db.exec("UPDATE users SET login_skeleton = NULL, name_conflict = NULL");
  const setKey = db.prepare("UPDATE users SET login_key = ? WHERE id = ?");
  const setSkeleton = db.prepare("UPDATE users SET login_skeleton = ? WHERE id = ?");
  const setConflict = db.prepare("UPDATE users SET name_conflict = ? WHERE id = ?");
  const byKey = db.prepare("SELECT login FROM users WHERE login_key = ? AND id != ?");
  const bySkeleton = db.prepare("SELECT login FROM users WHERE login_skeleton = ?");
  for (const row of rows) {
    const id = row.id as number;
    const login = row.login as string;
    const key = loginKey(login);
    const skeleton = loginSkeleton(login);
    const sameName = byKey.get(key, id);
    if (sameName) {
      setConflict.run(sameName.login as string, id);
      continue;
    }
    setKey.run(key, id);
    const alike = bySkeleton.get(skeleton);
    if (alike) setConflict.run(alike.login as string, id);
    else setSkeleton.run(skeleton, id);
  }
  db.prepare(
    "INSERT INTO name_rules (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
  ).run(NAME_RULES_VERSION);
}
