/**
 * The texts of the room rules, shared by every adapter of the RoomStore so that SQLite and
 * PostgreSQL refuse alike.
 *
 * @module
 */
import { JimError, newRoomProblem, Status } from "../../protocol/mod.ts";

/** 404 "No such room: #x". */
export function noSuchRoom(room: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such room: ${room}`);
}

/** 403 "Not a member of #x". */
export function notAMember(room: string): JimError {
  return new JimError(Status.FORBIDDEN, `Not a member of ${room}`);
}

/** 403 "Only the owner of #x can do that". */
export function notTheOwner(room: string): JimError {
  return new JimError(Status.FORBIDDEN, `Only the owner of ${room} can do that`);
}

/** 404 "Not a member of #x: bob", for the target of kick and set_owner. */
export function targetNotAMember(room: string, login: string): JimError {
  return new JimError(Status.NOT_FOUND, `Not a member of ${room}: ${login}`);
}

/** 404 "No such client: bob". */
export function noSuchClient(login: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such client: ${login}`);
}

/** 409 "Already a member of #x: bob". */
export function alreadyAMember(room: string, login: string): JimError {
  return new JimError(Status.CONFLICT, `Already a member of ${room}: ${login}`);
}

/** 400 "Cannot kick yourself: use leave". */
export function cannotKickSelf(): JimError {
  return new JimError(Status.BAD_REQUEST, "Cannot kick yourself: use leave");
}

/** 403 "Room is invite-only: #x". */
export function inviteOnly(room: string): JimError {
  return new JimError(Status.FORBIDDEN, `Room is invite-only: ${room}`);
}

/** 403 "Room is full: #x has N members". */
export function roomFull(room: string, members: number): JimError {
  return new JimError(Status.FORBIDDEN, `Room is full: ${room} has ${members} members`);
}

/** 403 "Too many rooms: the limit is N". */
export function tooManyRooms(max: number): JimError {
  return new JimError(Status.FORBIDDEN, `Too many rooms: the limit is ${max}`);
}

/** 409 "Invalid room: looks like existing room #X". */
export function looksLikeRoom(existing: string): JimError {
  return new JimError(Status.CONFLICT, `Invalid room: looks like existing room ${existing}`);
}

/** 404 "No such message: ID". */
export function noSuchMessage(id: number): JimError {
  return new JimError(Status.NOT_FOUND, `No such message: ${id}`);
}

/** 400 when a new room may not have `name` (strict rules, server's length), else nothing. */
export function checkNewRoom(name: string, maxLength: number | undefined): void {
  const problem = newRoomProblem(name, maxLength);
  if (problem !== null) throw new JimError(Status.BAD_REQUEST, problem);
}

/** 400 for a page limit or cursor the store cannot use (the handler checks them first). */
export function checkPage(query: { limit: number; before?: number; after?: number }): void {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) {
    throw new JimError(Status.BAD_REQUEST, "Invalid limit: must be a whole number from 1");
  }
  if (query.before !== undefined && query.after !== undefined) {
    throw new JimError(Status.BAD_REQUEST, "Invalid history query: before or after, not both");
  }
  const cursor = query.before ?? query.after;
  if (cursor !== undefined && (!Number.isSafeInteger(cursor) || cursor <= 0)) {
    throw new JimError(Status.BAD_REQUEST, "Invalid history cursor: must be a positive integer id");
  }
}

/** 400 for a room message the store cannot keep. */
export function checkRoomMessage(m: { id: number; ts: number; time: number }): void {
  if (!Number.isSafeInteger(m.id) || m.id <= 0) {
    throw new JimError(Status.BAD_REQUEST, "Invalid message id: must be a positive integer id");
  }
  if (!Number.isFinite(m.ts) || !Number.isFinite(m.time)) {
    throw new JimError(Status.BAD_REQUEST, "Invalid message: ts and time must be numbers");
  }
}
