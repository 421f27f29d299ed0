import { JimError } from "./errors.ts";
import {
  DEFAULT_LIMITS,
  MAX_ACTION_LENGTH,
  MAX_NAME_LENGTH,
  type ProtocolLimits,
} from "./limits.ts";
import {
  type Action,
  ACTIONS,
  type ContactListMessage,
  HMAC_MD5,
  type JimRequest,
  type JimResponse,
  type Mechanism,
  type MsgMessage,
  type ProbeMessage,
  SCRAM_SHA_256,
} from "./messages.ts";
import { Status } from "./status.ts";
import {
  type HistoryItemMessage,
  isDeliveryState,
  isMessageId,
  isServerTime,
  type PresencePushMessage,
  type ReceiptMessage,
} from "./conversation.ts";
import { isRoomName, isRoomTarget, roomNameProblem } from "./room_name.ts";

/** The outcome of {@linkcode validateRequest}. */
export type ValidationResult =
  | { ok: true; request: JimRequest }
  | { ok: false; error: JimError };

const ACCOUNT_NAME = new RegExp(`^[\\p{L}\\p{M}\\p{Nd}_.\\-]{1,${MAX_NAME_LENGTH}}$`, "u");
const NUMERIC = /^\s*-?\d+(\.\d+)?\s*$/;
/** Upper bound on a base64 SCRAM message; real ones are under 200 characters. */
const MAX_SCRAM_DATA = 1024;
/** Upper bound on a legacy digest field; real ones are 32 hex characters. */
const MAX_PASSWORD_FIELD = 256;
const MAX_SHORT_FIELD = 64;

/**
 * Whether `name` is a valid account name: 1 to 25 letters (any script), digits, `_`, `-`
 * or `.`.
 *
 * @example
 * ```ts
 * import { isAccountName } from "./validate.ts";
 * isAccountName("Клиент_5"); // true
 * isAccountName("a b"); // false
 * ```
 */
export function isAccountName(name: unknown): name is string {
  return typeof name === "string" && ACCOUNT_NAME.test(name);
}

/** The error text for an invalid account name in `field`. */
export function accountNameProblem(field: string, name: unknown): string {
  if (typeof name !== "string") return `Invalid field: ${field} must be a string`;
  if (name.length === 0) return `Invalid field: ${field} must not be empty`;
  if ([...name].length > MAX_NAME_LENGTH) {
    return `Invalid field: ${field} exceeds ${MAX_NAME_LENGTH} characters`;
  }
  return `Invalid field: ${field} may hold only letters, digits, "_", "-" and "."`;
}

/** Thrown inside validation only; turned into a result at the boundary. */
class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(obj: Obj, name: string, path = name): unknown {
  const value = obj[name];
  if (value === undefined || value === null) fail(`Missing field: ${path}`);
  return value;
}

function stringField(obj: Obj, name: string, max: number, path = name): string {
  const value = field(obj, name, path);
  if (typeof value !== "string") fail(`Invalid field: ${path} must be a string`);
  if (value.length > max) fail(`Invalid field: ${path} exceeds ${max} characters`);
  return value;
}

function optionalString(obj: Obj, name: string, max: number, path = name): string | undefined {
  if (obj[name] === undefined || obj[name] === null) return undefined;
  return stringField(obj, name, max, path);
}

function accountName(obj: Obj, name: string, path = name): string {
  const value = field(obj, name, path);
  if (!isAccountName(value)) fail(accountNameProblem(path, value));
  return value;
}

function timeField(obj: Obj): number {
  const value = field(obj, "time");
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && NUMERIC.test(value)) return Number(value);
  return fail("Invalid field: time must be a number or a numeric string");
}

function userObject(obj: Obj): Obj {
  const user = field(obj, "user");
  if (!isObject(user)) fail("Invalid field: user must be an object");
  return user;
}

function codePointLength(text: string, atLeast: number): number {
  // A UTF-16 length within the limit is within it in code points too, so most texts skip the count.
  if (text.length <= atLeast) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function parse(value: unknown, limits: ProtocolLimits): JimRequest {
  if (!isObject(value)) fail("Invalid request: expected a JSON object");
  const action = field(value, "action");
  if (typeof action !== "string") fail("Invalid field: action must be a string");
  if (action.length > MAX_ACTION_LENGTH) {
    fail(`Invalid field: action exceeds ${MAX_ACTION_LENGTH} characters`);
  }
  const name = (action === "exit" ? "quit" : action) as Action;
  if (!ACTIONS.includes(name)) fail(`Unknown action: ${action}`);
  const time = timeField(value);
  switch (name) {
    case "presence": {
      const user = userObject(value);
      const status = optionalString(user, "status", MAX_SHORT_FIELD, "user.status");
      const type = optionalString(value, "type", MAX_SHORT_FIELD);
      return {
        action: name,
        time,
        ...(type === undefined ? {} : { type }),
        user: {
          account_name: accountName(user, "account_name", "user.account_name"),
          ...(status === undefined ? {} : { status }),
        },
      };
    }
    case "authenticate": {
      const user = userObject(value);
      const account = accountName(user, "account_name", "user.account_name");
      const mechanism = optionalString(value, "mechanism", MAX_SHORT_FIELD);
      if (mechanism === undefined || mechanism === HMAC_MD5) {
        const password = stringField(user, "password", MAX_PASSWORD_FIELD, "user.password");
        return { action: name, time, user: { account_name: account, password } };
      }
      if (mechanism !== SCRAM_SHA_256) {
        fail(`Invalid field: mechanism must be "${SCRAM_SHA_256}" or "${HMAC_MD5}"`);
      }
      const data = stringField(value, "data", MAX_SCRAM_DATA);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) fail("Invalid field: data must be base64");
      return {
        action: name,
        time,
        user: { account_name: account },
        mechanism: mechanism as Mechanism,
        data,
      };
    }
    case "msg": {
      // A `to` that starts with "#" is a room (issue 13).
      const to = isRoomTarget(value.to) ? roomName(value, "to") : accountName(value, "to");
      const from = optionalString(value, "from", MAX_SHORT_FIELD) ?? "";
      const encoding = optionalString(value, "encoding", MAX_SHORT_FIELD) ?? "utf-8";
      if (!/^utf-?8$/i.test(encoding)) fail('Invalid field: encoding must be "utf-8"');
      const message = field(value, "message");
      if (typeof message !== "string") fail("Invalid field: message must be a string");
      if (codePointLength(message, limits.maxMessageLength) > limits.maxMessageLength) {
        fail(`Invalid field: message exceeds ${limits.maxMessageLength} characters`);
      }
      return { action: name, time, to, from, encoding: "utf-8", message };
    }
    case "add_contact":
    case "del_contact":
      return { action: name, time, user_id: accountName(value, "user_id") };
    case "get_users": {
      const after = optionalString(value, "after", MAX_SHORT_FIELD);
      return after === undefined ? { action: name, time } : { action: name, time, after };
    }
    case "get_contacts":
    case "quit":
      return { action: name, time };
    // Rooms (issue 13).
    case "join": {
      const room = roomName(value, "room");
      const inviteOnly = optionalFlag(value, "invite_only");
      return { action: name, time, room, ...(inviteOnly ? { invite_only: true } : {}) };
    }
    case "leave":
    case "members":
    case "delete_room":
      return { action: name, time, room: roomName(value, "room") };
    case "get_rooms":
      return { action: name, time };
    case "invite":
    case "kick":
    case "set_owner":
      return {
        action: name,
        time,
        room: roomName(value, "room"),
        user_id: accountName(value, "user_id"),
      };
    case "room_config": {
      const room = roomName(value, "room");
      const inviteOnly = optionalFlag(value, "invite_only");
      const historyVisible = optionalFlag(value, "history_visible");
      if (inviteOnly === undefined && historyVisible === undefined) {
        fail("Missing field: invite_only or history_visible");
      }
      return {
        action: name,
        time,
        room,
        ...(inviteOnly === undefined ? {} : { invite_only: inviteOnly }),
        ...(historyVisible === undefined ? {} : { history_visible: historyVisible }),
      };
    }
  }
}

function roomName(obj: Obj, name: string): string {
  const value = field(obj, name);
  if (!isRoomName(value)) fail(roomNameProblem(name, value));
  return value;
}

function optionalFlag(obj: Obj, name: string): boolean | undefined {
  const value = obj[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") fail(`Invalid field: ${name} must be true or false`);
  return value;
}

/**
 * Turns an unknown parsed value into a typed request, or into a 400 {@linkcode JimError}
 * whose text names the offending field. Unknown extra fields are dropped; `time` may be a
 * number or a numeric string and comes out as a number; `exit` comes out as `quit`.
 *
 * @example
 * ```ts
 * import { validateRequest } from "./validate.ts";
 * const result = validateRequest({ action: "add_contact", time: "1560964883", user_id: "bob" });
 * if (result.ok) console.log(result.request.action); // "add_contact"
 * else console.log(result.error.message);
 * ```
 */
export function validateRequest(
  value: unknown,
  limits: Partial<ProtocolLimits> = {},
): ValidationResult {
  // A server passes complete limits with every request: no copy for it.
  const resolved = limits.maxFrameBytes !== undefined && limits.maxMessageLength !== undefined
    ? limits as ProtocolLimits
    : { ...DEFAULT_LIMITS, ...limits };
  try {
    return { ok: true, request: parse(value, resolved) };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { ok: false, error: new JimError(Status.BAD_REQUEST, error.message) };
  }
}

/** What a client receives, sorted by kind. */
export type ServerFrame =
  | { kind: "response"; message: JimResponse }
  | { kind: "msg"; message: MsgMessage }
  | { kind: "probe"; message: ProbeMessage }
  | { kind: "contact_list"; message: ContactListMessage }
  | { kind: "receipt"; message: ReceiptMessage }
  | { kind: "presence"; message: PresencePushMessage }
  | { kind: "history_item"; message: HistoryItemMessage };

/** The outcome of {@linkcode validateServerMessage}. */
export type ServerValidationResult =
  | { ok: true; frame: ServerFrame }
  | { ok: false; error: JimError };

function parseServer(value: unknown): ServerFrame {
  if (!isObject(value)) fail("Invalid server message: expected a JSON object");
  if ("response" in value) {
    const code = value.response;
    if (typeof code !== "number" || !Number.isInteger(code) || code < 100 || code > 599) {
      fail("Invalid field: response must be a JIM code");
    }
    for (const key of ["alert", "error", "token", "mechanism", "data", "next"]) {
      if (value[key] !== undefined && typeof value[key] !== "string") {
        fail(`Invalid field: ${key} must be a string`);
      }
    }
    if (value.quantity !== undefined && !Number.isInteger(value.quantity)) {
      fail("Invalid field: quantity must be an integer");
    }
    for (const key of ["users", "mechanisms", "capabilities"]) {
      const list = value[key];
      if (
        list !== undefined && !(Array.isArray(list) && list.every((u) => typeof u === "string"))
      ) {
        fail(`Invalid field: ${key} must be a list of strings`);
      }
    }
    if (value.id !== undefined) messageId(value, "id");
    if (value.ts !== undefined) serverTime(value);
    if (value.state !== undefined && !isDeliveryState(value.state)) {
      fail('Invalid field: state must be "stored", "delivered" or "read"');
    }
    if (value.more !== undefined && typeof value.more !== "boolean") {
      fail("Invalid field: more must be true or false");
    }
    return { kind: "response", message: value as unknown as JimResponse };
  }
  const action = field(value, "action");
  switch (action) {
    case "msg":
      return {
        kind: "msg",
        message: {
          action,
          time: timeField(value),
          to: stringField(value, "to", MAX_SHORT_FIELD),
          from: stringField(value, "from", MAX_SHORT_FIELD),
          encoding: "utf-8",
          message: stringField(value, "message", Number.MAX_SAFE_INTEGER),
          ...(value.id === undefined ? {} : { id: messageId(value, "id") }),
          ...(value.ts === undefined ? {} : { ts: serverTime(value) }),
          ...(flag(value, "stored") ? { stored: true } : {}),
          ...(flag(value, "carbon") ? { carbon: true } : {}),
        },
      };
    case "receipt": {
      const state = value.state;
      if (state !== "delivered" && state !== "read") {
        fail('Invalid field: state must be "delivered" or "read"');
      }
      return {
        kind: "receipt",
        message: {
          action,
          id: messageId(value, "id"),
          user_id: accountName(value, "user_id"),
          state,
          ...(flag(value, "own") ? { own: true } : {}),
        },
      };
    }
    case "presence": {
      const user = userObject(value);
      const status = field(user, "status", "user.status");
      if (status !== "online" && status !== "offline") {
        fail('Invalid field: user.status must be "online" or "offline"');
      }
      return {
        kind: "presence",
        message: {
          action,
          user: { account_name: accountName(user, "account_name", "user.account_name"), status },
        },
      };
    }
    case "history_item": {
      const state = value.state;
      if (state !== undefined && !isDeliveryState(state)) {
        fail('Invalid field: state must be "stored", "delivered" or "read"');
      }
      return {
        kind: "history_item",
        message: {
          action,
          id: messageId(value, "id"),
          ts: serverTime(value),
          time: value.time === undefined ? 0 : timeField(value),
          from: stringField(value, "from", MAX_SHORT_FIELD),
          to: stringField(value, "to", MAX_SHORT_FIELD),
          message: stringField(value, "message", Number.MAX_SAFE_INTEGER),
          ...(state === undefined ? {} : { state }),
        },
      };
    }
    case "probe":
      return { kind: "probe", message: { action, time: Date.now() / 1000 } };
    case "contact_list": {
      const online = value.online;
      return {
        kind: "contact_list",
        message: {
          action,
          user_id: stringField(value, "user_id", MAX_SHORT_FIELD),
          ...(typeof online === "boolean" ? { online } : {}),
        },
      };
    }
    default:
      return fail(`Unknown action: ${String(action)}`);
  }
}

function messageId(obj: Obj, name: string): number {
  const value = field(obj, name);
  if (!isMessageId(value)) fail(`Invalid field: ${name} must be a positive integer below 2^53`);
  return value;
}

function serverTime(obj: Obj): number {
  const value = field(obj, "ts");
  if (!isServerTime(value)) fail("Invalid field: ts must be Unix milliseconds");
  return value;
}

function flag(obj: Obj, name: string): boolean {
  const value = obj[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") fail(`Invalid field: ${name} must be true or false`);
  return value;
}

/**
 * Sorts and checks what a server sent: a response, a delivered msg, a probe, a
 * contact_list entry, and the conversation additions (receipt, presence push, history_item;
 * see conversation.ts). A msg push's `id`, `ts`, `stored` and `carbon` are checked when
 * present.
 *
 * @example
 * ```ts
 * import { validateServerMessage } from "./validate.ts";
 * const result = validateServerMessage({ response: 202, quantity: 1 });
 * if (result.ok && result.frame.kind === "response") console.log(result.frame.message.quantity);
 * ```
 */
export function validateServerMessage(value: unknown): ServerValidationResult {
  try {
    return { ok: true, frame: parseServer(value) };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { ok: false, error: new JimError(Status.BAD_REQUEST, error.message) };
  }
}
