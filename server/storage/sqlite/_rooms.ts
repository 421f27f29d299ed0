/**
 * SQLite rooms (issue 13): every change is one `BEGIN IMMEDIATE` transaction, so the rule
 * checks (member? owner? full? invited?) and the change cannot be split by another writer,
 * in this process or another. Room messages are written by group commit.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
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
import { settle, transaction } from "./_sql.ts";

type Row = Record<string, unknown>;

interface DbRoom {
  id: number;
  ownerId: number;
  row: RoomRow;
}

const ROOM_COLUMNS = `r.id, r.name, r.owner_id, o.login AS owner, r.invite_only,
  r.history_visible, r.created,
  (SELECT count(*) FROM room_members c WHERE c.room_id = r.id) AS members`;

function toRoom(row: Row): DbRoom {
  return {
    id: row.id as number,
    ownerId: row.owner_id as number,
    row: {
      name: row.name as string,
      owner: row.owner as string,
      inviteOnly: row.invite_only === 1,
      historyVisible: row.history_visible === 1,
      created: row.created as number,
      members: row.members as number,
    },
  };
}

function toMessage(row: Row, room: string): StoredMessage & { state: "delivered" } {
  return {
    id: row.id as number,
    ts: row.ts as number,
    time: row.time as number,
    from: row.sender as string,
    to: room,
    room,
    message: JSON.parse(row.body_json as string),
    state: "delivered",
  };
}

/** The SQLite {@linkcode RoomStore}. Created by `SqliteStorage`. */
export class SqliteRooms implements RoomStore {
  readonly #db: DatabaseSync;
  readonly #q: ReturnType<typeof prepare>;
  readonly #group: GroupCommit<StoredMessage & { room: string }>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#q = prepare(db);
    this.#group = new GroupCommit(
      (batch) => Promise.resolve(transaction(this.#db, () => batch.map((m) => this.#insert(m)))),
      () =>
        new JimError(
          Status.UNAVAILABLE,
          "Message not stored: the database is not keeping up; try again later",
        ),
    );
  }

  get(room: string): Promise<RoomRow | undefined> {
    return settle(() => this.#room(room)?.row);
  }

  join(room: string, login: string, options: JoinOptions): Promise<JoinResult> {
    return settle(() =>
      transaction(this.#db, () => {
        const user = this.#user(login);
        const max = options.maxRoomsPerUser ?? Number.MAX_SAFE_INTEGER;
        const found = this.#room(room);
        if (!found) {
          checkNewRoom(room, options.maxNameLength);
          const alike = this.#q.roomBySkeleton.get(roomSkeleton(room));
          if (alike) throw looksLikeRoom(alike.name as string);
          if ((this.#q.roomsOfCount.get(user.id)!.n as number) >= max) throw tooManyRooms(max);
          const name = normalizeRoom(room);
          const id = this.#q.insertRoom.get(
            name,
            roomKey(room),
            roomSkeleton(room),
            user.id,
            options.inviteOnly ? 1 : 0,
            options.now,
          )!.id as number;
          this.#q.insertMember.run(id, user.id, options.now);
          return { room: this.#roomById(id).row, created: true, joined: true };
        }
        if (this.#q.member.get(found.id, user.id)) {
          return { room: found.row, created: false, joined: false };
        }
        if (found.row.inviteOnly && !this.#q.invite.get(found.id, user.id)) {
          throw inviteOnly(found.row.name);
        }
        const maxMembers = options.maxMembers ?? Number.MAX_SAFE_INTEGER;
        if (found.row.members >= maxMembers) throw roomFull(found.row.name, maxMembers);
        if ((this.#q.roomsOfCount.get(user.id)!.n as number) >= max) throw tooManyRooms(max);
        this.#q.insertMember.run(found.id, user.id, options.now);
        this.#q.deleteInvite.run(found.id, user.id);
        return { room: this.#roomById(found.id).row, created: false, joined: true };
      })
    );
  }

  leave(room: string, login: string): Promise<LeaveResult> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = this.#existing(room);
        const userId = this.#memberId(found, login);
        const name = found.row.name;
        if (found.row.members <= 1) {
          this.#q.deleteRoom.run(found.id);
          return { name, deleted: true };
        }
        this.#q.deleteMember.run(found.id, userId);
        if (found.ownerId !== userId) return { name, deleted: false };
        const next = this.#q.earliestMember.get(found.id)!;
        this.#q.setOwner.run(next.id as number, found.id);
        return { name, newOwner: next.login as string, deleted: false };
      })
    );
  }

  audience(room: string, sender: string): Promise<{ name: string; keys: string[] }> {
    return settle(() => {
      const found = this.#existing(room);
      const senderKey = loginKey(sender);
      const keys = this.#q.memberKeys.all(found.id).map((r) => r.login_key as string);
      if (!keys.includes(senderKey)) throw notAMember(found.row.name);
      return { name: found.row.name, keys };
    });
  }

  members(room: string, caller?: string): Promise<RoomMemberRow[]> {
    return settle(() => {
      const found = this.#existing(room);
      if (caller !== undefined) this.#memberId(found, caller);
      return this.#q.membersOf.all(found.id).map((r) => ({
        login: r.login as string,
        joined: r.joined as number,
        owner: r.id === found.ownerId,
      }));
    });
  }

  roomsOf(login: string): Promise<MemberRoomRow[]> {
    return settle(() =>
      this.#q.roomsOf.all(loginKey(login)).map((r) => ({
        ...toRoom(r).row,
        joined: r.joined as number,
        lastId: (r.last_id as number | null) ?? undefined,
      }))
    );
  }

  invite(room: string, by: string, login: string): Promise<string> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = this.#existing(room);
        this.#memberId(found, by);
        const target = this.#user(login);
        if (this.#q.member.get(found.id, target.id)) {
          throw alreadyAMember(found.row.name, target.login);
        }
        this.#q.insertInvite.run(found.id, target.id, Date.now());
        return target.login;
      })
    );
  }

  kick(room: string, by: string, login: string): Promise<string> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = this.#owned(room, by);
        const target = this.#user(login);
        if (target.id === found.ownerId) throw cannotKickSelf();
        if (this.#q.deleteMember.run(found.id, target.id).changes === 0) {
          throw targetNotAMember(found.row.name, target.login);
        }
        this.#q.deleteInvite.run(found.id, target.id);
        return target.login;
      })
    );
  }

  setOwner(room: string, by: string, login: string): Promise<string> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = this.#owned(room, by);
        const target = this.#user(login);
        if (!this.#q.member.get(found.id, target.id)) {
          throw targetNotAMember(found.row.name, target.login);
        }
        this.#q.setOwner.run(target.id, found.id);
        return target.login;
      })
    );
  }

  configure(
    room: string,
    by: string,
    settings: { inviteOnly?: boolean; historyVisible?: boolean },
  ): Promise<RoomRow> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = this.#owned(room, by);
        const flag = (value: boolean | undefined) => value === undefined ? null : value ? 1 : 0;
        this.#q.configure.run(flag(settings.inviteOnly), flag(settings.historyVisible), found.id);
        return this.#roomById(found.id).row;
      })
    );
  }

  delete(room: string, by?: string): Promise<string[]> {
    return settle(() =>
      transaction(this.#db, () => {
        const found = by === undefined ? this.#existing(room) : this.#owned(room, by);
        const logins = this.#q.membersOf.all(found.id).map((r) => r.login as string);
        this.#q.deleteRoom.run(found.id);
        return logins;
      })
    );
  }

  list(): Promise<AdminRoomRow[]> {
    return settle(() =>
      this.#q.list.all().map((r) => ({
        ...toRoom(r).row,
        messages: r.messages as number,
        lastActivity: r.last_activity as number,
      }))
    );
  }

  append(message: StoredMessage & { room: string }): Promise<void> {
    try {
      checkRoomMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#group.add(message);
  }

  history(query: RoomHistoryQuery): Promise<HistoryPage> {
    return settle(() => {
      checkPage(query);
      const found = this.#existing(query.room);
      const callerId = this.#memberId(found, query.caller);
      const since = found.row.historyVisible
        ? 0
        : this.#q.member.get(found.id, callerId)!.joined as number;
      const cursor = query.before ?? query.after;
      if (cursor !== undefined && !this.#q.visible.get(cursor, found.id, since)) {
        throw noSuchMessage(cursor);
      }
      const n = query.limit + 1;
      const rows = query.after !== undefined
        ? this.#q.pageAfter.all(found.id, since, query.after, n)
        : this.#q.pageBefore.all(found.id, since, query.before ?? Number.MAX_SAFE_INTEGER, n);
      const more = rows.length > query.limit;
      const page = rows.slice(0, query.limit);
      if (query.after === undefined) page.reverse();
      return { items: page.map((r) => toMessage(r, found.row.name)), more };
    });
  }

  /** Commits the queued messages; used at close. */
  settle(): Promise<void> {
    return this.#group.settle();
  }

  #insert(message: StoredMessage & { room: string }): unknown {
    const found = this.#q.roomIdByKey.get(roomKey(message.room));
    if (!found) return noSuchRoom(message.room);
    this.#q.insertMessage.run(
      message.id,
      found.id as number,
      Math.trunc(message.ts),
      message.time,
      message.from,
      // JSON keeps every JIM text, lone surrogates included.
      JSON.stringify(message.message),
    );
    return undefined;
  }

  #room(room: string): DbRoom | undefined {
    const row = this.#q.roomByKey.get(roomKey(room));
    return row ? toRoom(row) : undefined;
  }

  #roomById(id: number): DbRoom {
    return toRoom(this.#q.roomById.get(id)!);
  }

  #existing(room: string): DbRoom {
    const found = this.#room(room);
    if (!found) throw noSuchRoom(room);
    return found;
  }

  #user(login: string): { id: number; login: string } {
    const row = this.#q.userByKey.get(loginKey(login));
    if (!row) throw noSuchClient(login);
    return { id: row.id as number, login: row.login as string };
  }

  /** The id of `login`, a member of `room`; 403 when it is not one. */
  #memberId(room: DbRoom, login: string): number {
    const row = this.#q.userByKey.get(loginKey(login));
    if (!row || !this.#q.member.get(room.id, row.id as number)) throw notAMember(room.row.name);
    return row.id as number;
  }

  /** The room, when `by` owns it; 403 for a member who does not, or a non-member. */
  #owned(room: string, by: string): DbRoom {
    const found = this.#existing(room);
    const id = this.#memberId(found, by);
    if (id !== found.ownerId) throw notTheOwner(found.row.name);
    return found;
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  const room = `SELECT ${ROOM_COLUMNS} FROM rooms r JOIN users o ON o.id = r.owner_id`;
  return {
    userByKey: p("SELECT id, login FROM users WHERE login_key = ?"),
    roomByKey: p(`${room} WHERE r.name_key = ?`),
    roomById: p(`${room} WHERE r.id = ?`),
    roomIdByKey: p("SELECT id FROM rooms WHERE name_key = ?"),
    roomBySkeleton: p("SELECT name FROM rooms WHERE name_skeleton = ?"),
    roomsOfCount: p("SELECT count(*) AS n FROM room_members WHERE user_id = ?"),
    insertRoom: p(
      `INSERT INTO rooms (name, name_key, name_skeleton, owner_id, invite_only, history_visible,
       created) VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING id`,
    ),
    insertMember: p("INSERT INTO room_members (room_id, user_id, joined) VALUES (?, ?, ?)"),
    member: p("SELECT joined FROM room_members WHERE room_id = ? AND user_id = ?"),
    deleteMember: p("DELETE FROM room_members WHERE room_id = ? AND user_id = ?"),
    invite: p("SELECT 1 AS yes FROM room_invites WHERE room_id = ? AND user_id = ?"),
    insertInvite: p(
      `INSERT INTO room_invites (room_id, user_id, invited) VALUES (?, ?, ?)
       ON CONFLICT DO UPDATE SET invited = excluded.invited`,
    ),
    deleteInvite: p("DELETE FROM room_invites WHERE room_id = ? AND user_id = ?"),
    deleteRoom: p("DELETE FROM rooms WHERE id = ?"),
    earliestMember: p(
      `SELECT u.id, u.login FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = ? ORDER BY m.joined, m.user_id LIMIT 1`,
    ),
    setOwner: p("UPDATE rooms SET owner_id = ? WHERE id = ?"),
    configure: p(
      `UPDATE rooms SET invite_only = coalesce(?, invite_only),
       history_visible = coalesce(?, history_visible) WHERE id = ?`,
    ),
    memberKeys: p(
      `SELECT u.login_key FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = ?`,
    ),
    membersOf: p(
      `SELECT u.id, u.login, m.joined FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = ? ORDER BY u.login_key`,
    ),
    roomsOf: p(
      `SELECT ${ROOM_COLUMNS}, m.joined, (SELECT x.id FROM room_messages x
         WHERE x.room_id = r.id AND (r.history_visible = 1 OR x.ts >= m.joined)
         ORDER BY x.id DESC LIMIT 1) AS last_id
       FROM users u JOIN room_members m ON m.user_id = u.id JOIN rooms r ON r.id = m.room_id
       JOIN users o ON o.id = r.owner_id WHERE u.login_key = ? ORDER BY r.name_key`,
    ),
    list: p(
      `SELECT ${ROOM_COLUMNS},
       (SELECT count(*) FROM room_messages x WHERE x.room_id = r.id) AS messages,
       coalesce((SELECT x.ts FROM room_messages x WHERE x.room_id = r.id
         ORDER BY x.id DESC LIMIT 1), r.created) AS last_activity
       FROM rooms r JOIN users o ON o.id = r.owner_id ORDER BY r.name_key`,
    ),
    insertMessage: p(
      `INSERT INTO room_messages (id, room_id, ts, time, sender, body_json)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    visible: p(
      "SELECT 1 AS yes FROM room_messages WHERE id = ? AND room_id = ? AND ts >= ?",
    ),
    pageBefore: p(
      `SELECT id, ts, time, sender, body_json FROM room_messages
       WHERE room_id = ? AND ts >= ? AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    pageAfter: p(
      `SELECT id, ts, time, sender, body_json FROM room_messages
       WHERE room_id = ? AND ts >= ? AND id > ? ORDER BY id ASC LIMIT ?`,
    ),
  };
}
