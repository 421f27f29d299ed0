/**
 * The PostgreSQL schema: versioned migrations, applied by one migrator in one transaction
 * under an advisory lock, so that several nodes starting at once migrate once: the first
 * takes the lock and migrates, the others wait for it, then find nothing left to do. DDL is
 * transactional in PostgreSQL, so a failed migration leaves the schema as it was.
 *
 * The version lives in `schema_migrations` (one row per applied migration). A database
 * migrated by a newer program is refused rather than used.
 *
 * @module
 */
import { NAME_RULES_VERSION, type NameRow, planNameKeys } from "../name_rules.ts";
import type { Sql, Tx } from "./_client.ts";

/** The channel of the change feed's notifications. */
export const CHANGES_CHANNEL = "jim_changes";

/**
 * The advisory lock the migrator holds, as two int4 keys: "jim\0" and 1. Other programs on
 * the same database are unlikely to pick the same pair.
 */
const MIGRATION_LOCK: readonly [number, number] = [0x6a696d00, 1];

/**
 * Each migration is constant DDL, run as it is. Keys compare in the "C" collation, so that
 * pages of users and contact lists come in the same order as on SQLite whatever the
 * database's locale.
 */
const MIGRATIONS: readonly string[] = [
  // 1: users, contacts, login history, name rules, secrets.
  `
  CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login text NOT NULL UNIQUE,
    login_key text COLLATE "C" NOT NULL UNIQUE,
    login_skeleton text COLLATE "C" UNIQUE,
    name_conflict text,
    salt bytea NOT NULL,
    iterations integer NOT NULL,
    stored_key bytea NOT NULL,
    server_key bytea NOT NULL,
    legacy_hash text,
    created bigint NOT NULL,
    last_seen bigint,
    last_ip text
  );
  CREATE TABLE contacts (
    owner_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added bigint NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
  );
  CREATE INDEX contacts_contact ON contacts (contact_id);
  CREATE TABLE login_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    time bigint NOT NULL,
    ip text NOT NULL,
    port integer NOT NULL
  );
  CREATE INDEX login_history_user_time ON login_history (user_id, time);
  CREATE INDEX login_history_time ON login_history (time);
  CREATE TABLE name_rules (id integer PRIMARY KEY CHECK (id = 1), version text NOT NULL);
  CREATE TABLE server_secrets (name text PRIMARY KEY, value bytea NOT NULL);
  `,
  // 2: messages (issue 12's MessageStore). One recipient account per message, so its
  // delivery state is a column: 0 stored, 1 delivered, 2 read. The text is kept as a JSON
  // string literal, because PostgreSQL text cannot hold U+0000 and JIM text can.
  `
  CREATE TABLE messages (
    id bigint PRIMARY KEY,
    ts bigint NOT NULL,
    time double precision NOT NULL,
    sender_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    recipient_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body_json text NOT NULL,
    state smallint NOT NULL CHECK (state BETWEEN 0 AND 2)
  );
  CREATE INDEX messages_conversation ON messages (sender_id, recipient_id, id);
  CREATE INDEX messages_sent ON messages (sender_id, id);
  CREATE INDEX messages_received ON messages (recipient_id, id);
  CREATE INDEX messages_undelivered ON messages (recipient_id, id) WHERE state = 0;
  CREATE INDEX messages_ts ON messages USING brin (ts);
  `,
  // Rooms (issue 13): rooms, members with their joined time, invites and room messages, as
  // on SQLite. The owner is always a member; removing a user first hands the rooms it owns
  // to the member who joined earliest and deletes those it was alone in (the trigger), then
  // the cascades drop its memberships and invites. Room messages keep the sender as text.
  `
  CREATE TABLE rooms (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    name_key text COLLATE "C" NOT NULL UNIQUE,
    name_skeleton text COLLATE "C" NOT NULL UNIQUE,
    owner_id bigint NOT NULL REFERENCES users(id),
    invite_only boolean NOT NULL,
    history_visible boolean NOT NULL,
    created bigint NOT NULL
  );
  CREATE INDEX rooms_owner ON rooms (owner_id);
  CREATE TABLE room_members (
    room_id bigint NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined bigint NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_members_user ON room_members (user_id);
  CREATE TABLE room_invites (
    room_id bigint NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invited bigint NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_invites_user ON room_invites (user_id);
  CREATE TABLE room_messages (
    id bigint PRIMARY KEY,
    room_id bigint NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    ts bigint NOT NULL,
    time double precision NOT NULL,
    sender text NOT NULL,
    body_json text NOT NULL
  );
  CREATE INDEX room_messages_room ON room_messages (room_id, id);
  CREATE FUNCTION users_leave_rooms() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM rooms r WHERE r.owner_id = OLD.id AND NOT EXISTS (
      SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id <> OLD.id);
    UPDATE rooms r SET owner_id = (
      SELECT m.user_id FROM room_members m WHERE m.room_id = r.id AND m.user_id <> OLD.id
      ORDER BY m.joined, m.user_id LIMIT 1) WHERE r.owner_id = OLD.id;
    RETURN OLD;
  END $$;
  CREATE TRIGGER users_leave_rooms BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_leave_rooms();
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Brings the database to {@linkcode SCHEMA_VERSION}, and recomputes the name keys when the
 * name rules changed: all in one transaction under the migration lock.
 *
 * @throws {Error} when the database's schema is newer than this code.
 */
export async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK[0]}::int4, ${MIGRATION_LOCK[1]}::int4)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      applied bigint NOT NULL
    )`;
    const [row] = await tx<{ version: number }[]>`
      SELECT coalesce(max(version), 0)::int4 AS version FROM schema_migrations`;
    const found = row!.version;
    if (found > SCHEMA_VERSION) {
      throw new Error(
        `Cannot open database: schema version ${found} is newer than this program's ${SCHEMA_VERSION}`,
      );
    }
    for (let version = found + 1; version <= SCHEMA_VERSION; version++) {
      await tx.unsafe(MIGRATIONS[version - 1]!);
      await tx`INSERT INTO schema_migrations (version, applied) VALUES (${version}, ${Date.now()})`;
    }
    const [rules] = await tx<{ version: string }[]>`SELECT version FROM name_rules WHERE id = 1`;
    if (rules?.version !== NAME_RULES_VERSION) await refreshNameKeys(tx);
  });
}

/** Applies {@linkcode planNameKeys} to every user, oldest first, one row at a time. */
async function refreshNameKeys(tx: Tx): Promise<void> {
  const rows = await tx<NameRow[]>`
    SELECT id, login, login_key AS key FROM users ORDER BY created, id`;
  await tx`UPDATE users SET login_skeleton = NULL, name_conflict = NULL`;
  for (const step of planNameKeys(rows)) {
    await tx`UPDATE users SET login_key = ${step.key}, login_skeleton = ${step.skeleton},
      name_conflict = ${step.conflict} WHERE id = ${step.id}`;
  }
  await tx`INSERT INTO name_rules (id, version) VALUES (1, ${NAME_RULES_VERSION})
    ON CONFLICT (id) DO UPDATE SET version = excluded.version`;
}
