/**
 * Room names: `#` followed by 1 to 25 characters under the same rules as logins (issue 13).
 * The part after `#` goes through the login family of functions, so a room is stored in
 * `normalizeLogin` form, matched by `loginKey`, and refused when its `loginSkeleton` is
 * another room's.
 *
 * - {@linkcode isRoomName}: the lenient wire check (as `isAccountName` is for logins).
 * - {@linkcode roomNameProblem}: the 400 text for a name the wire check refuses.
 * - {@linkcode newRoomProblem}: why a *new* room's name is refused (the strict login rules).
 * - {@linkcode normalizeRoom}, {@linkcode roomKey}, {@linkcode roomSkeleton}: display form,
 *   lookup key and look-alike key.
 *
 * @module
 */
import { MAX_NAME_LENGTH } from "./limits.ts";
import { loginKey, loginProblem, normalizeLogin } from "./login_name.ts";
import { loginSkeleton } from "./login_skeleton.ts";
import { isAccountName } from "./validate.ts";

/** Longest room name after the `#`, in characters (the server may allow fewer). */
export const MAX_ROOM_NAME_LENGTH: number = MAX_NAME_LENGTH;

/** What starts every room name, and tells a room apart from a login in `msg.to`. */
export const ROOM_PREFIX = "#";

/**
 * Whether `value` could name a room: `#` and a lenient account name (1 to 25 letters of any
 * script, digits, `_`, `-`, `.`).
 *
 * @example
 * ```ts
 * import { isRoomName } from "./room_name.ts";
 * isRoomName("#general"); // true
 * isRoomName("general"); // false
 * isRoomName("#"); // false
 * ```
 */
export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(ROOM_PREFIX) &&
    isAccountName(value.slice(1));
}

/**
 * Whether `value` is meant as a room (starts with `#`), valid or not: `msg.to` and
 * `history.with` name a room exactly when this holds.
 *
 * @example
 * ```ts
 * import { isRoomTarget } from "./room_name.ts";
 * isRoomTarget("#bad name"); // true: a room, though not a valid name
 * isRoomTarget("bob"); // false
 * ```
 */
export function isRoomTarget(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(ROOM_PREFIX);
}

/**
 * The 400 text for a room name in `field` that {@linkcode isRoomName} refuses, with the
 * length counted after the `#` against `max`.
 *
 * @example
 * ```ts
 * import { roomNameProblem } from "./room_name.ts";
 * roomNameProblem("room", "general"); // 'Invalid field: room must start with "#"'
 * ```
 */
export function roomNameProblem(
  field: string,
  name: unknown,
  max: number = MAX_ROOM_NAME_LENGTH,
): string {
  if (typeof name !== "string") return `Invalid field: ${field} must be a string`;
  if (!name.startsWith(ROOM_PREFIX)) return `Invalid field: ${field} must start with "#"`;
  const rest = name.slice(1);
  if (rest.length === 0) return `Invalid field: ${field} must not be empty`;
  if ([...rest].length > max) return `Invalid field: ${field} exceeds ${max} characters`;
  return `Invalid field: ${field} may hold only letters, digits, "_", "-" and "." after "#"`;
}

/**
 * Why a new room may not be called `name`, or null: longer than `max` characters after the
 * `#`, or refused by the strict login rules (`loginProblem`: PRECIS, Bidi, mixed scripts,
 * invisible characters), with "Invalid login" read as "Invalid room".
 *
 * @example
 * ```ts
 * import { newRoomProblem } from "./room_name.ts";
 * newRoomProblem("#general"); // null
 * newRoomProblem("#аdmins"); // "Invalid room: mixes Latin and Cyrillic"
 * newRoomProblem("#general", 3); // "Invalid field: room exceeds 3 characters"
 * ```
 */
export function newRoomProblem(name: string, max: number = MAX_ROOM_NAME_LENGTH): string | null {
  if (!isRoomName(name)) return roomNameProblem("room", name, Math.min(max, MAX_ROOM_NAME_LENGTH));
  const rest = normalizeLogin(name.slice(1));
  if ([...rest].length > max) return `Invalid field: room exceeds ${max} characters`;
  const problem = loginProblem(rest);
  return problem === null ? null : problem.replace(/^Invalid login/, "Invalid room");
}

/**
 * The form a room's name is stored and shown in: `#` and the `normalizeLogin` form.
 *
 * @example
 * ```ts
 * import { normalizeRoom } from "./room_name.ts";
 * normalizeRoom("#ｔeam"); // "#team"
 * ```
 */
export function normalizeRoom(name: string): string {
  return ROOM_PREFIX + normalizeLogin(name.slice(1));
}

/**
 * The key rooms are unique and looked up by: `#` and the `loginKey` of the rest.
 *
 * @example
 * ```ts
 * import { roomKey } from "./room_name.ts";
 * roomKey("#General") === roomKey("#general"); // true
 * ```
 */
export function roomKey(name: string): string {
  return ROOM_PREFIX + loginKey(name.slice(1));
}

/**
 * The key look-alike rooms share: `#` and the `loginSkeleton` of the rest.
 *
 * @example
 * ```ts
 * import { roomSkeleton } from "./room_name.ts";
 * roomSkeleton("#аdmins") === roomSkeleton("#admins"); // true: Cyrillic а
 * ```
 */
export function roomSkeleton(name: string): string {
  return ROOM_PREFIX + loginSkeleton(name.slice(1));
}
