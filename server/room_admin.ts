/**
 * The admin side of rooms (issue 13), shared by `jim-server room list|show|delete` and the
 * admin GUI: the table of rooms, one room's details, and deleting a room with its members
 * told.
 *
 * @module
 */
import {
  isRoomName,
  JimError,
  loginKey,
  type RoomEventMessage,
  roomKey,
  Status,
} from "../protocol/mod.ts";
import { Envelope } from "./hub/envelope.ts";
import type { Hub } from "./hub/hub.ts";
import type { RoomStore } from "./storage/ports.ts";
import { formatTable, formatTime } from "./_table.ts";

/**
 * A room name as an admin typed it: `#general`, or `general` (a shell takes an unquoted
 * `#general` for a comment).
 *
 * @example
 * ```ts
 * import { adminRoomName } from "./room_admin.ts";
 * adminRoomName("general"); // "#general"
 * ```
 * @throws {JimError} 400 for a name no room can have.
 */
export function adminRoomName(name: string): string {
  const room = name.startsWith("#") ? name : `#${name}`;
  if (!isRoomName(room)) throw new JimError(Status.BAD_REQUEST, `Invalid room name: ${name}`);
  return room;
}

/**
 * Deletes a room as an admin and tells its members' `rooms` sessions online on `hub`
 * (`room_event` deleted, no `by`). Returns the logins that were members.
 *
 * @example
 * ```ts ignore
 * import { deleteRoomAsAdmin } from "./room_admin.ts";
 * const members = await deleteRoomAsAdmin(storage.rooms, server.hub, "#general");
 * ```
 * @throws {JimError} 404 "No such room: #x".
 */
export async function deleteRoomAsAdmin(
  rooms: RoomStore,
  hub: Hub | undefined,
  name: string,
): Promise<{ room: string; members: string[] }> {
  const room = adminRoomName(name);
  const row = await rooms.get(room);
  if (!row) throw new JimError(Status.NOT_FOUND, `No such room: ${room}`);
  const members = await rooms.delete(room);
  if (hub) {
    const message: RoomEventMessage = {
      action: "room_event",
      time: Math.floor(Date.now() / 1000),
      room: row.name,
      event: "deleted",
    };
    hub.sendToRoom(roomKey(row.name), members.map(loginKey), new Envelope(message));
  }
  return { room: row.name, members };
}

/**
 * What `jim-server room list|show|delete` prints, one string per line.
 *
 * @example
 * ```ts ignore
 * import { roomCommand } from "./room_admin.ts";
 * for (const line of await roomCommand(storage.rooms, "room list")) console.log(line);
 * ```
 * @throws {JimError} 404 for no such room, 400 for a bad name.
 */
export async function roomCommand(
  rooms: RoomStore,
  command: string,
  name?: string,
): Promise<string[]> {
  switch (command) {
    case "room list": {
      const list = await rooms.list();
      if (list.length === 0) return ["(no rooms)"];
      return formatTable([
        ["ROOM", "OWNER", "MEMBERS", "MESSAGES", "LAST ACTIVITY", "INVITE-ONLY"],
        ...list.map((r) => [
          r.name,
          r.owner,
          String(r.members),
          String(r.messages),
          formatTime(r.lastActivity),
          r.inviteOnly ? "yes" : "no",
        ]),
      ]);
    }
    case "room show": {
      const room = adminRoomName(name ?? "");
      const row = (await rooms.list()).find((r) => roomKey(r.name) === roomKey(room));
      if (!row) throw new JimError(Status.NOT_FOUND, `No such room: ${room}`);
      const members = await rooms.members(room);
      return [
        `Room:            ${row.name}`,
        `Owner:           ${row.owner}`,
        `Created:         ${formatTime(row.created)}`,
        `Invite-only:     ${row.inviteOnly ? "yes" : "no"}`,
        `History visible: ${row.historyVisible ? "yes" : "no"}`,
        `Messages:        ${row.messages}`,
        `Last activity:   ${formatTime(row.lastActivity)}`,
        `Members (${members.length}):`,
        ...formatTable([
          ["  LOGIN", "JOINED", "ROLE"],
          ...members.map((m) => [`  ${m.login}`, formatTime(m.joined), m.owner ? "owner" : ""]),
        ]),
      ];
    }
    case "room delete": {
      const { room, members } = await deleteRoomAsAdmin(rooms, undefined, name ?? "");
      return [`Deleted room ${room} (${members.length} members)`];
    }
    default:
      throw new JimError(Status.BAD_REQUEST, `Unknown command: ${command}`);
  }
}
