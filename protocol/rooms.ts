/**
 * The room additions to JIM (issue 13): the requests that enter, leave, list and moderate
 * rooms, and what the server sends about them. Room messages are ordinary `msg` requests
 * whose `to` is a room name (room_name.ts); room history is `history` with `with` set to one.
 * /work/team/PROTOCOL_13.md and docs/protocol.md have the wire text with examples.
 *
 * @module
 */
import type { RequestBase } from "./messages.ts";

/** Enters a room, creating it (with the caller as owner) when it does not exist. */
export interface JoinRequest extends RequestBase {
  /** The action name. */
  action: "join";
  /** `#` and the room's name. */
  room: string;
  /** Only when creating: whether only invited users may join (false). */
  invite_only?: boolean;
}

/** Leaves a room. */
export interface LeaveRequest extends RequestBase {
  /** The action name. */
  action: "leave";
  /** The room. */
  room: string;
}

/** Asks for the caller's rooms: 202 with `quantity`, then `room_list` pushes. */
export interface GetRoomsRequest extends RequestBase {
  /** The action name. */
  action: "get_rooms";
}

/** Asks for a room's members: 202 with `quantity`, then `room_member` pushes. */
export interface MembersRequest extends RequestBase {
  /** The action name. */
  action: "members";
  /** The room. */
  room: string;
}

/** A member invites a user by login. */
export interface InviteRequest extends RequestBase {
  /** The action name. */
  action: "invite";
  /** The room. */
  room: string;
  /** The user invited. */
  user_id: string;
}

/** The owner removes a member. */
export interface KickRequest extends RequestBase {
  /** The action name. */
  action: "kick";
  /** The room. */
  room: string;
  /** The member removed. */
  user_id: string;
}

/** The owner hands the room over to another member. */
export interface SetOwnerRequest extends RequestBase {
  /** The action name. */
  action: "set_owner";
  /** The room. */
  room: string;
  /** The new owner, a member. */
  user_id: string;
}

/** The owner deletes the room, its memberships, invites and messages. */
export interface DeleteRoomRequest extends RequestBase {
  /** The action name. */
  action: "delete_room";
  /** The room. */
  room: string;
}

/** The owner changes the room's settings; at least one of them is given. */
export interface RoomConfigRequest extends RequestBase {
  /** The action name. */
  action: "room_config";
  /** The room. */
  room: string;
  /** Whether only invited users may join. */
  invite_only?: boolean;
  /** Whether new members see the messages from before they joined. */
  history_visible?: boolean;
}

/** Any room request. */
export type RoomRequest =
  | JoinRequest
  | LeaveRequest
  | GetRoomsRequest
  | MembersRequest
  | InviteRequest
  | KickRequest
  | SetOwnerRequest
  | DeleteRoomRequest
  | RoomConfigRequest;

/** Every room action, as validation accepts them. */
export const ROOM_ACTIONS: readonly RoomRequest["action"][] = [
  "join",
  "leave",
  "get_rooms",
  "members",
  "invite",
  "kick",
  "set_owner",
  "delete_room",
  "room_config",
];

/** One of the caller's rooms, pushed after a 202 to get_rooms. */
export interface RoomListMessage {
  /** The action name. */
  action: "room_list";
  /** The room's name in display case. */
  room: string;
  /** The owner's login. */
  owner: string;
  /** How many members it has. */
  members: number;
  /** Whether only invited users may join. */
  invite_only: boolean;
  /** Whether new members see the messages from before they joined. */
  history_visible: boolean;
  /** The highest message id the caller may read in it; absent when there is none. */
  last_id?: number;
}

/** One member of a room, pushed after a 202 to members. */
export interface RoomMemberMessage {
  /** The action name. */
  action: "room_member";
  /** The room. */
  room: string;
  /** The member's login. */
  user_id: string;
  /** Whether the member owns the room. */
  owner: boolean;
  /** Whether the member has a live session now. */
  online: boolean;
}

/** What happened in a room. */
export type RoomEventKind =
  | "joined"
  | "left"
  | "kicked"
  | "invited"
  | "owner"
  | "deleted"
  | "config";

/** Every room event kind. */
export const ROOM_EVENTS: readonly RoomEventKind[] = [
  "joined",
  "left",
  "kicked",
  "invited",
  "owner",
  "deleted",
  "config",
];

/** A change in a room, pushed to the `rooms` sessions of its members. */
export interface RoomEventMessage {
  /** The action name. */
  action: "room_event";
  /** When the server sent it, Unix seconds. */
  time: number;
  /** The room. */
  room: string;
  /** What happened. */
  event: RoomEventKind;
  /** Who joined, left, was kicked, invited or made owner; absent for deleted and config. */
  user_id?: string;
  /** Who did it (kicked, invited, deleted by a member); absent for an admin's delete. */
  by?: string;
  /** config: the setting now. */
  invite_only?: boolean;
  /** config: the setting now. */
  history_visible?: boolean;
}
