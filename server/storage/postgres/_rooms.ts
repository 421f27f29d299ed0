/**
 * PostgreSQL rooms (issue 13). Every change runs in one transaction that first locks the
 * room's row (FOR UPDATE), so that the rule checks (member? owner? full? invited?) and the
 * change are one step even when several nodes change the same room. Room messages are
 * written by group commit.
 *
 * @module
 */
import {
  JimError,
  loginKey,
  normalizeRoom,
  roomKey,
  roomSkeleton,
  Status,
} from "../../../protocol/mod.ts";
import { GroupCommit } from "../_group_commit.ts";
import {
  alreadyAMember,
  cannotKickSelf,
  checkNewRoom,
  checkPage,
  checkRoomMessage,
  inviteOnly,
  looksLikeRoom,
  noSuchClient,
  noSuchMessage,
  noSuchRoom,
  notAMember,
  notTheOwner,
  roomFull,
  targetNotAMember,
  tooManyRooms,
} from "../_room_errors.ts";
import type {
  AdminRoomRow,
  HistoryItem,
  HistoryPage,
  JoinOptions,
  JoinResult,
  LeaveResult,
  MemberRoomRow,
  RoomHistoryQuery,
  RoomMemberRow,
  RoomRow,
  RoomStore,
  StoredMessage,
} from "../ports.ts";
import { isUniqueViolation, type PgContext, type Queryable, type Tx } from "./_client.ts";

interface DbRoomRow {
  id: number;
  name: string;
  owner_id: number;
  owner: string;
  invite_only: boolean;
  history_visible: boolean;
  created: number;
  members: number;
}

interface DbRoom {
  id: number;
  ownerId: number;
  row: RoomRow;
}

interface DbMessage {
  id: number;
  ts: number;
  time: number;
  sender: string;
  body_json: string;
}

type RoomMessage = StoredMessage & { room: string };

function toRoom(r: DbRoomRow): DbRoom {
  return {
    id: r.id,
    ownerId: r.owner_id,
    row: {
      name: r.name,
      owner: r.owner,
      inviteOnly: r.invite_only,
      historyVisible: r.history_visible,
      created: r.created,
      members: r.members,
    },
  };
}

/** The PostgreSQL {@linkcode RoomStore}. Created by `PostgresStorage`. */
export class PostgresRooms implements RoomStore {
  readonly #ctx: PgContext;
  readonly #group: GroupCommit<RoomMessage>;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
    this.#group = new GroupCommit(
      (batch) => this.#ctx.write((sql) => sql.begin((tx) => this.#insert(tx, batch))),
      () =>
        new JimError(
          Status.UNAVAILABLE,
          "Message not stored: the database is not keeping up; try again later",
        ),
    );
  }

  get(room: string): Promise<RoomRow | undefined> {
    return this.#ctx.run(async (sql) => (await this.#room(sql, room))?.row);
  }

  join(room: string, login: string, options: JoinOptions): Promise<JoinResult> {
    return this.#ctx.run(async (sql) => {
      try {
        return await sql.begin((tx) => this.#join(tx, room, login, options));
      } catch (error) {
        // Two nodes created the same room at once: the loser joins the winner's room; a
        // look-alike created meanwhile is refused as the check would have.
        if (!isUniqueViolation(error)) throw error;
        return await sql.begin((tx) => this.#join(tx, room, login, options));
      }
    });
  }

  async #join(tx: Tx, room: string, login: string, options: JoinOptions): Promise<JoinResult> {
    const user = await this.#user(tx, login, { lock: true });
    const max = options.maxRoomsPerUser ?? Number.MAX_SAFE_INTEGER;
    const found = await this.#room(tx, room, { lock: true });
    const [counted] = await tx<{ n: number }[]>`
      SELECT count(*)::int4 AS n FROM room_members WHERE user_id = ${user.id}`;
    const mine = counted!.n;
    if (!found) {
      checkNewRoom(room, options.maxNameLength);
      const [alike] = await tx<{ name: string }[]>`
        SELECT name FROM rooms WHERE name_skeleton = ${roomSkeleton(room)}`;
      if (alike) throw looksLikeRoom(alike.name);
      if (mine >= max) throw tooManyRooms(max);
      const [inserted] = await tx<{ id: number }[]>`
        INSERT INTO rooms (name, name_key, name_skeleton, owner_id, invite_only,
          history_visible, created)
        VALUES (${normalizeRoom(room)}, ${roomKey(room)}, ${roomSkeleton(room)}, ${user.id},
          ${options.inviteOnly === true}, false, ${options.now})
        RETURNING id`;
      const id = inserted!.id;
      await tx`INSERT INTO room_members (room_id, user_id, joined)
        VALUES (${id}, ${user.id}, ${options.now})`;
      return { room: (await this.#roomById(tx, id)).row, created: true, joined: true };
    }
    if (await this.#isMember(tx, found.id, user.id)) {
      return { room: found.row, created: false, joined: false };
    }
    if (found.row.inviteOnly) {
      const invited = await tx`SELECT 1 FROM room_invites
        WHERE room_id = ${found.id} AND user_id = ${user.id}`;
      if (invited.length === 0) throw inviteOnly(found.row.name);
    }
    const maxMembers = options.maxMembers ?? Number.MAX_SAFE_INTEGER;
    if (found.row.members >= maxMembers) throw roomFull(found.row.name, maxMembers);
    if (mine >= max) throw tooManyRooms(max);
    await tx`INSERT INTO room_members (room_id, user_id, joined)
      VALUES (${found.id}, ${user.id}, ${options.now})`;
    await tx`DELETE FROM room_invites WHERE room_id = ${found.id} AND user_id = ${user.id}`;
    return { room: (await this.#roomById(tx, found.id)).row, created: false, joined: true };
  }

  leave(room: string, login: string): Promise<LeaveResult> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = await this.#existing(tx, room, { lock: true });
        const userId = await this.#memberId(tx, found, login);
        const name = found.row.name;
        if (found.row.members <= 1) {
          await tx`DELETE FROM rooms WHERE id = ${found.id}`;
          return { name, deleted: true };
        }
        await tx`DELETE FROM room_members WHERE room_id = ${found.id} AND user_id = ${userId}`;
        if (found.ownerId !== userId) return { name, deleted: false };
        const [next] = await tx<{ id: number; login: string }[]>`
          SELECT u.id, u.login FROM room_members m JOIN users u ON u.id = m.user_id
          WHERE m.room_id = ${found.id} ORDER BY m.joined, m.user_id LIMIT 1`;
        await tx`UPDATE rooms SET owner_id = ${next!.id} WHERE id = ${found.id}`;
        return { name, newOwner: next!.login, deleted: false };
      })
    );
  }

  audience(room: string, sender: string): Promise<{ name: string; keys: string[] }> {
    return this.#ctx.run(async (sql) => {
      const found = await this.#existing(sql, room);
      const rows = await sql<{ key: string }[]>`
        SELECT u.login_key AS key FROM room_members m JOIN users u ON u.id = m.user_id
        WHERE m.room_id = ${found.id}`;
      const keys = rows.map((r) => r.key);
      if (!keys.includes(loginKey(sender))) throw notAMember(found.row.name);
      return { name: found.row.name, keys };
    });
  }

  members(room: string, caller?: string): Promise<RoomMemberRow[]> {
    return this.#ctx.run(async (sql) => {
      const found = await this.#existing(sql, room);
      if (caller !== undefined) await this.#memberId(sql, found, caller);
      return (await this.#membersOf(sql, found.id)).map((r) => ({
        login: r.login,
        joined: r.joined,
        owner: r.id === found.ownerId,
      }));
    });
  }

  roomsOf(login: string): Promise<MemberRoomRow[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<(DbRoomRow & { joined: number; last_id: number | null })[]>`
        SELECT r.id, r.name, r.owner_id, o.login AS owner, r.invite_only, r.history_visible,
          r.created, (SELECT count(*)::int4 FROM room_members c WHERE c.room_id = r.id)
            AS members,
          m.joined, (SELECT x.id FROM room_messages x WHERE x.room_id = r.id
            AND (r.history_visible OR x.ts >= m.joined) ORDER BY x.id DESC LIMIT 1) AS last_id
        FROM users u JOIN room_members m ON m.user_id = u.id JOIN rooms r ON r.id = m.room_id
        JOIN users o ON o.id = r.owner_id
        WHERE u.login_key = ${loginKey(login)} ORDER BY r.name_key`;
      return rows.map((r) => ({
        ...toRoom(r).row,
        joined: r.joined,
        lastId: r.last_id ?? undefined,
      }));
    });
  }

  invite(room: string, by: string, login: string): Promise<string> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = await this.#existing(tx, room, { lock: true });
        await this.#memberId(tx, found, by);
        const target = await this.#user(tx, login);
        if (await this.#isMember(tx, found.id, target.id)) {
          throw alreadyAMember(found.row.name, target.login);
        }
        await tx`INSERT INTO room_invites (room_id, user_id, invited)
          VALUES (${found.id}, ${target.id}, ${Date.now()})
          ON CONFLICT (room_id, user_id) DO UPDATE SET invited = excluded.invited`;
        return target.login;
      })
    );
  }

  kick(room: string, by: string, login: string): Promise<string> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = await this.#owned(tx, room, by);
        const target = await this.#user(tx, login);
        if (target.id === found.ownerId) throw cannotKickSelf();
        const result = await tx`DELETE FROM room_members
          WHERE room_id = ${found.id} AND user_id = ${target.id}`;
        if (result.count === 0) throw targetNotAMember(found.row.name, target.login);
        await tx`DELETE FROM room_invites WHERE room_id = ${found.id} AND user_id = ${target.id}`;
        return target.login;
      })
    );
  }

  setOwner(room: string, by: string, login: string): Promise<string> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = await this.#owned(tx, room, by);
        const target = await this.#user(tx, login);
        if (!await this.#isMember(tx, found.id, target.id)) {
          throw targetNotAMember(found.row.name, target.login);
        }
        await tx`UPDATE rooms SET owner_id = ${target.id} WHERE id = ${found.id}`;
        return target.login;
      })
    );
  }

  configure(
    room: string,
    by: string,
    settings: { inviteOnly?: boolean; historyVisible?: boolean },
  ): Promise<RoomRow> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = await this.#owned(tx, room, by);
        await tx`UPDATE rooms SET
          invite_only = coalesce(${settings.inviteOnly ?? null}::boolean, invite_only),
          history_visible = coalesce(${settings.historyVisible ?? null}::boolean, history_visible)
          WHERE id = ${found.id}`;
        return (await this.#roomById(tx, found.id)).row;
      })
    );
  }

  delete(room: string, by?: string): Promise<string[]> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const found = by === undefined
          ? await this.#existing(tx, room, { lock: true })
          : await this.#owned(tx, room, by);
        const logins = (await this.#membersOf(tx, found.id)).map((r) => r.login);
        await tx`DELETE FROM rooms WHERE id = ${found.id}`;
        return logins;
      })
    );
  }

  list(): Promise<AdminRoomRow[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<(DbRoomRow & { messages: number; last_activity: number })[]>`
        SELECT r.id, r.name, r.owner_id, o.login AS owner, r.invite_only, r.history_visible,
          r.created, (SELECT count(*)::int4 FROM room_members c WHERE c.room_id = r.id)
            AS members,
          (SELECT count(*)::int4 FROM room_messages x WHERE x.room_id = r.id) AS messages,
          coalesce((SELECT x.ts FROM room_messages x WHERE x.room_id = r.id
            ORDER BY x.id DESC LIMIT 1), r.created) AS last_activity
        FROM rooms r JOIN users o ON o.id = r.owner_id ORDER BY r.name_key`;
      return rows.map((r) => ({
        ...toRoom(r).row,
        messages: r.messages,
        lastActivity: r.last_activity,
      }));
    });
  }

  append(message: RoomMessage): Promise<void> {
    try {
      if (this.#ctx.closed) throw new Error("Cannot use storage: it is closed");
      checkRoomMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#group.add(message);
  }

  history(query: RoomHistoryQuery): Promise<HistoryPage> {
    return this.#ctx.run(async (sql) => {
      checkPage(query);
      const found = await this.#existing(sql, query.room);
      const callerId = await this.#memberId(sql, found, query.caller);
      let since = 0;
      if (!found.row.historyVisible) {
        const [m] = await sql<{ joined: number }[]>`SELECT joined FROM room_members
          WHERE room_id = ${found.id} AND user_id = ${callerId}`;
        since = m!.joined;
      }
      const cursor = query.before ?? query.after;
      if (cursor !== undefined) {
        const seen = await sql`SELECT 1 FROM room_messages
          WHERE id = ${cursor} AND room_id = ${found.id} AND ts >= ${since}`;
        if (seen.length === 0) throw noSuchMessage(cursor);
      }
      const n = query.limit + 1;
      const rows = query.after !== undefined
        ? await sql<DbMessage[]>`SELECT id, ts, time, sender, body_json FROM room_messages
          WHERE room_id = ${found.id} AND ts >= ${since} AND id > ${query.after}
          ORDER BY id ASC LIMIT ${n}`
        : await sql<DbMessage[]>`SELECT id, ts, time, sender, body_json FROM room_messages
          WHERE room_id = ${found.id} AND ts >= ${since}
            AND id < ${query.before ?? Number.MAX_SAFE_INTEGER}
          ORDER BY id DESC LIMIT ${n}`;
      const more = rows.length > query.limit;
      const page = rows.slice(0, query.limit);
      if (query.after === undefined) page.reverse();
      const name = found.row.name;
      const items: HistoryItem[] = page.map((r) => ({
        id: r.id,
        ts: r.ts,
        time: r.time,
        from: r.sender,
        to: name,
        room: name,
        message: JSON.parse(r.body_json),
        state: "delivered",
      }));
      return { items, more };
    });
  }

  /** Commits the queued messages and waits for it; used at close. */
  settle(): Promise<void> {
    return this.#group.settle();
  }

  async #insert(tx: Tx, batch: readonly RoomMessage[]): Promise<(unknown | undefined)[]> {
    const keys = [...new Set(batch.map((m) => roomKey(m.room)))];
    const found = await tx<{ id: number; key: string }[]>`
      SELECT id, name_key AS key FROM rooms
      WHERE name_key IN (SELECT jsonb_array_elements_text(${tx.json(keys)}))`;
    const byKey = new Map(found.map((r) => [r.key, r.id]));
    const errors: (unknown | undefined)[] = [];
    const rows = [];
    for (const m of batch) {
      const roomId = byKey.get(roomKey(m.room));
      if (roomId === undefined) {
        errors.push(noSuchRoom(m.room));
        continue;
      }
      errors.push(undefined);
      rows.push({
        id: m.id,
        room_id: roomId,
        ts: Math.trunc(m.ts),
        time: m.time,
        sender: m.from,
        // JSON keeps every JIM text, U+0000 and lone surrogates included.
        body_json: JSON.stringify(m.message),
      });
    }
    if (rows.length > 0) {
      await tx`INSERT INTO room_messages (id, room_id, ts, time, sender, body_json)
        SELECT id, room_id, ts, time, sender, body_json
        FROM jsonb_to_recordset(${tx.json(rows)}) AS r(id int8, room_id int8, ts int8,
          time float8, sender text, body_json text)
        ON CONFLICT (id) DO NOTHING`;
    }
    return errors;
  }

  async #room(
    sql: Queryable,
    room: string,
    options: { lock?: boolean } = {},
  ): Promise<DbRoom | undefined> {
    const key = roomKey(room);
    if (options.lock) {
      // Lock the room itself first; the count is read after, under the lock.
      const locked = await sql`SELECT id FROM rooms WHERE name_key = ${key} FOR UPDATE`;
      if (locked.length === 0) return undefined;
    }
    const [row] = await sql<DbRoomRow[]>`
      SELECT r.id, r.name, r.owner_id, o.login AS owner, r.invite_only, r.history_visible,
        r.created, (SELECT count(*)::int4 FROM room_members c WHERE c.room_id = r.id) AS members
      FROM rooms r JOIN users o ON o.id = r.owner_id WHERE r.name_key = ${key}`;
    return row ? toRoom(row) : undefined;
  }

  async #roomById(sql: Queryable, id: number): Promise<DbRoom> {
    const [row] = await sql<DbRoomRow[]>`
      SELECT r.id, r.name, r.owner_id, o.login AS owner, r.invite_only, r.history_visible,
        r.created, (SELECT count(*)::int4 FROM room_members c WHERE c.room_id = r.id) AS members
      FROM rooms r JOIN users o ON o.id = r.owner_id WHERE r.id = ${id}`;
    return toRoom(row!);
  }

  async #existing(sql: Queryable, room: string, options: { lock?: boolean } = {}) {
    const found = await this.#room(sql, room, options);
    if (!found) throw noSuchRoom(room);
    return found;
  }

  async #user(
    sql: Queryable,
    login: string,
    options: { lock?: boolean } = {},
  ): Promise<{ id: number; login: string }> {
    // Locking the joiner's row makes its count of rooms and the insert one step.
    const [row] = options.lock
      ? await sql<{ id: number; login: string }[]>`
        SELECT id, login FROM users WHERE login_key = ${loginKey(login)} FOR NO KEY UPDATE`
      : await sql<{ id: number; login: string }[]>`
        SELECT id, login FROM users WHERE login_key = ${loginKey(login)}`;
    if (!row) throw noSuchClient(login);
    return row;
  }

  async #isMember(sql: Queryable, roomId: number, userId: number): Promise<boolean> {
    const rows = await sql`SELECT 1 FROM room_members
      WHERE room_id = ${roomId} AND user_id = ${userId}`;
    return rows.length > 0;
  }

  /** The id of `login`, a member of `room`; 403 when it is not one. */
  async #memberId(sql: Queryable, room: DbRoom, login: string): Promise<number> {
    const [row] = await sql<{ id: number }[]>`
      SELECT u.id FROM users u JOIN room_members m ON m.user_id = u.id
      WHERE u.login_key = ${loginKey(login)} AND m.room_id = ${room.id}`;
    if (!row) throw notAMember(room.row.name);
    return row.id;
  }

  /** The room locked, when `by` owns it; 403 for a member who does not, or a non-member. */
  async #owned(tx: Tx, room: string, by: string): Promise<DbRoom> {
    const found = await this.#existing(tx, room, { lock: true });
    const id = await this.#memberId(tx, found, by);
    if (id !== found.ownerId) throw notTheOwner(found.row.name);
    return found;
  }

  #membersOf(sql: Queryable, roomId: number) {
    return sql<{ id: number; login: string; joined: number }[]>`
      SELECT u.id, u.login, m.joined FROM room_members m JOIN users u ON u.id = m.user_id
      WHERE m.room_id = ${roomId} ORDER BY u.login_key`;
  }
}
