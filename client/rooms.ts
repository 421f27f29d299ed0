/**
 * Rooms as the client sees them (issue 13): room names, what `get_rooms` and `members` list,
 * and the `room_event` pushes, checked as they come off the wire. The server's own checks
 * live on the server; these keep a malformed push from reaching the history or a screen.
 *
 * @module
 */
import {
  accountNameProblem,
  isAccountName,
  isRoomName,
  JimError,
  roomNameProblem,
  Status,
} from "../protocol/mod.ts";

// The name rules are the protocol's: one check on both sides of the wire.
export { isRoomName, roomNameProblem };

/** The most characters of a room name after its `#`, as for logins. */
export const MAX_ROOM_NAME = 25;

/**
 * Throws a 400 {@linkcode JimError} unless `name` is a room name.
 *
 * @example
 * ```ts
 * import { requireRoomName } from "./rooms.ts";
 * requireRoomName("#general"); // fine
 * ```
 */
export function requireRoomName(name: unknown, field = "room"): asserts name is string {
  if (!isRoomName(name)) throw new JimError(Status.BAD_REQUEST, roomNameProblem(field, name));
}

/**
 * Whether `name` is a conversation: a login or a room name.
 *
 * @example
 * ```ts
 * import { isConversationName } from "./rooms.ts";
 * isConversationName("bob"); // true
 * isConversationName("#general"); // true
 * ```
 */
export function isConversationName(name: unknown): name is string {
  return isAccountName(name) || isRoomName(name);
}

/** One room of `get_rooms`: one this account is a member of. */
export interface RoomInfo {
  /** `#name`, as the server spells it. */
  room: string;
  /** The owner's login, when the server says. */
  owner?: string;
  /** How many members it has, when the server says. */
  members?: number;
  /** Whether only invited logins may join. */
  inviteOnly: boolean;
  /** Whether a new member sees the whole history, when the server says. */
  historyVisible?: boolean;
  /** The newest message id of the room this account may read, absent when there is none. */
  lastId?: number;
}

/** One member of a room (`members`). */
export interface RoomMember {
  /** The member's login. */
  login: string;
  /** Whether a session of the member is connected, when the server says. */
  online: boolean;
  /** Whether the member owns the room. */
  owner: boolean;
}

/** What happened in a room, as `room_event` says it. */
export type RoomEventKind =
  | "joined"
  | "left"
  | "kicked"
  | "invited"
  | "deleted"
  | "owner"
  | "config";

/** A room event pushed by the server (sessions with `rooms`). */
export interface RoomEvent {
  /** The room. */
  room: string;
  /** What happened. */
  event: RoomEventKind;
  /** Who it happened to: who joined, left, was kicked or invited, the new owner. */
  user?: string;
  /** Who did it (the owner who kicked, the member who invited), when the server says. */
  by?: string;
  /** For `config`: whether new members see the whole history. */
  historyVisible?: boolean;
  /** For `config`: whether only invited logins may join. */
  inviteOnly?: boolean;
}

const EVENTS: readonly RoomEventKind[] = [
  "joined",
  "left",
  "kicked",
  "invited",
  "deleted",
  "owner",
  "config",
];

type Obj = Record<string, unknown>;

/** A room frame as read: an item, an event, or one that could not be read, with the reason. */
export type RoomFrame =
  | { kind: "room_list"; value: RoomInfo }
  | { kind: "room_member"; value: RoomMember }
  | { kind: "room_event"; value: RoomEvent }
  | { kind: "invalid"; action: string; error: string };

function login(obj: Obj, key: string): string | undefined {
  const v = obj[key];
  return isAccountName(v) ? v : undefined;
}

function bool(obj: Obj, key: string): boolean | undefined {
  return typeof obj[key] === "boolean" ? obj[key] as boolean : undefined;
}

/** The actions {@linkcode parseRoomFrame} reads. */
export const ROOM_PUSH_ACTIONS: ReadonlySet<string> = new Set([
  "room_list",
  "room_member",
  "room_event",
]);

/**
 * Reads a room frame from the server: a `room_list` or `room_member` item after a 202, or a
 * `room_event` push. Unknown extra fields are ignored; a bad room or login makes it
 * `invalid` with the reason.
 *
 * @example
 * ```ts
 * import { parseRoomFrame } from "./rooms.ts";
 * parseRoomFrame({ action: "room_event", room: "#team", event: "joined", user_id: "bob" });
 * // { kind: "room_event", value: { room: "#team", event: "joined", user: "bob" } }
 * ```
 */
export function parseRoomFrame(frame: Record<string, unknown>): RoomFrame {
  const action = String(frame.action);
  const room = frame.room;
  if (!isRoomName(room)) {
    return { kind: "invalid", action, error: roomNameProblem("room", room) };
  }
  switch (action) {
    case "room_list": {
      const members = frame.members;
      const info: RoomInfo = {
        room,
        inviteOnly: bool(frame, "invite_only") ?? false,
      };
      const owner = login(frame, "owner");
      if (owner !== undefined) info.owner = owner;
      if (typeof members === "number" && Number.isSafeInteger(members) && members >= 0) {
        info.members = members;
      }
      const visible = bool(frame, "history_visible");
      if (visible !== undefined) info.historyVisible = visible;
      const last = frame.last_id;
      if (typeof last === "number" && Number.isSafeInteger(last) && last > 0) info.lastId = last;
      return { kind: "room_list", value: info };
    }
    case "room_member": {
      const who = login(frame, "user_id");
      if (who === undefined) {
        return { kind: "invalid", action, error: accountNameProblem("user_id", frame.user_id) };
      }
      return {
        kind: "room_member",
        value: {
          login: who,
          online: bool(frame, "online") ?? false,
          owner: bool(frame, "owner") ?? false,
        },
      };
    }
    case "room_event": {
      const event = frame.event;
      if (!(EVENTS as readonly unknown[]).includes(event)) {
        return { kind: "invalid", action, error: `Invalid field: event ${String(event)}` };
      }
      const value: RoomEvent = { room, event: event as RoomEventKind };
      if (frame.user_id !== undefined) {
        const who = login(frame, "user_id");
        if (who === undefined) {
          return { kind: "invalid", action, error: accountNameProblem("user_id", frame.user_id) };
        }
        value.user = who;
      }
      const by = login(frame, "by");
      if (by !== undefined) value.by = by;
      const visible = bool(frame, "history_visible");
      if (visible !== undefined) value.historyVisible = visible;
      const inviteOnly = bool(frame, "invite_only");
      if (inviteOnly !== undefined) value.inviteOnly = inviteOnly;
      return { kind: "room_event", value };
    }
    default:
      return { kind: "invalid", action, error: `Unknown action: ${action}` };
  }
}

/**
 * A room event in words, from this account's point of view: "bob joined #team", "You were
 * removed from #team by alice", "#team was deleted".
 *
 * @example
 * ```ts
 * import { describeRoomEvent } from "./rooms.ts";
 * describeRoomEvent({ room: "#team", event: "joined", user: "bob" }, "alice"); // "bob joined #team"
 * ```
 */
export function describeRoomEvent(event: RoomEvent, me: string): string {
  const who = event.user === undefined
    ? "someone"
    : event.user.toLowerCase() === me.toLowerCase()
    ? "You"
    : event.user;
  const by = event.by === undefined ? "" : ` by ${event.by}`;
  switch (event.event) {
    case "joined":
      return `${who} joined ${event.room}`;
    case "left":
      return `${who} left ${event.room}`;
    case "kicked":
      return who === "You"
        ? `You were removed from ${event.room}${by}`
        : `${who} was removed from ${event.room}${by}`;
    case "invited":
      return who === "You"
        ? `You were invited to ${event.room}${by}: /join ${event.room}`
        : `${who} was invited to ${event.room}${by}`;
    case "owner":
      return who === "You" ? `You own ${event.room} now` : `${who} owns ${event.room} now`;
    case "deleted":
      return `${event.room} was deleted${by}`;
    case "config": {
      const parts = [
        event.inviteOnly === undefined ? "" : event.inviteOnly ? "invite-only" : "public",
        event.historyVisible === undefined
          ? ""
          : event.historyVisible
          ? "whole history visible to new members"
          : "new members see messages from their joining",
      ].filter(Boolean);
      return `${event.room} is now ${parts.join(", ") || "changed"}`;
    }
  }
}
