/**
 * What every MessageStore adapter checks and how it answers, in one place: the ids, the
 * messages it is given, the 404 for an id the caller cannot see, and the 503 of a full
 * backlog. The texts are the protocol's (PROTOCOL_12, docs/protocol.md). Also the shapes
 * both adapters share: a queued append and a message row as their queries select it.
 *
 * @module
 */
import { JimError, Status } from "../../protocol/mod.ts";
import type { DeliveryState, HistoryQuery, StoredMessage } from "./ports.ts";

/** The sender's view of a stored state column: 0 stored, 1 delivered, 2 read. */
export const SENT_STATES: readonly DeliveryState[] = ["stored", "delivered", "read"];

/**
 * `404 No such message: ID`: an id that is not a message the caller may see, whether it
 * exists elsewhere or not (the answer tells nothing of other conversations).
 *
 * @example
 * ```ts
 * import { noSuchMessage } from "./message_checks.ts";
 * console.log(noSuchMessage(7).message); // "No such message: 7"
 * ```
 */
export function noSuchMessage(id: number): JimError {
  return new JimError(Status.NOT_FOUND, `No such message: ${id}`);
}

/**
 * `503 Message not stored: LOGIN has N messages waiting`: the recipient's backlog is full.
 *
 * @example
 * ```ts
 * import { backlogFull } from "./message_checks.ts";
 * console.log(backlogFull("bob", 1000).code); // 503
 * ```
 */
export function backlogFull(login: string, waiting: number): JimError {
  return new JimError(
    Status.UNAVAILABLE,
    `Message not stored: ${login} has ${waiting} messages waiting`,
  );
}

/**
 * `id` when it is a message id (a positive integer below 2^53), else 400 naming `what`.
 *
 * @example
 * ```ts
 * import { checkId } from "./message_checks.ts";
 * checkId(5, "message id"); // 5
 * ```
 */
export function checkId(id: unknown, what: string): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
    throw new JimError(Status.BAD_REQUEST, `Invalid ${what}: must be a positive integer id`);
  }
  return id;
}

/**
 * Refuses a message that no handler would build: a bad id, times or texts.
 *
 * @example
 * ```ts
 * import { checkMessage } from "./message_checks.ts";
 * checkMessage({ id: 1, ts: 2, time: 3, from: "a", to: "b", message: "hi" });
 * ```
 */
export function checkMessage(m: StoredMessage): void {
  checkId(m.id, "message id");
  if (!Number.isFinite(m.ts) || !Number.isFinite(m.time)) {
    throw new JimError(Status.BAD_REQUEST, "Invalid message: ts and time must be numbers");
  }
  if (typeof m.from !== "string" || typeof m.to !== "string" || typeof m.message !== "string") {
    throw new JimError(Status.BAD_REQUEST, "Invalid message: from, to and message must be text");
  }
}

/**
 * Refuses a history query no handler would send: a limit below 1, both cursors, a bad id.
 * Returns the cursor, if any.
 *
 * @example
 * ```ts
 * import { checkHistoryQuery } from "./message_checks.ts";
 * checkHistoryQuery({ caller: "alice", before: 9, limit: 10 }); // 9
 * ```
 */
export function checkHistoryQuery(query: HistoryQuery): number | undefined {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) {
    throw new JimError(Status.BAD_REQUEST, "Invalid limit: must be a whole number from 1");
  }
  if (query.before !== undefined && query.after !== undefined) {
    throw new JimError(Status.BAD_REQUEST, "Invalid history query: before or after, not both");
  }
  const cursor = query.before ?? query.after;
  if (cursor !== undefined) checkId(cursor, "history cursor");
  return cursor;
}

/**
 * Refuses a purge time that is not a number.
 *
 * @example
 * ```ts
 * import { checkPurgeTime } from "./message_checks.ts";
 * checkPurgeTime(1.5); // 1
 * ```
 */
export function checkPurgeTime(olderThan: number): number {
  if (!Number.isFinite(olderThan)) {
    throw new JimError(Status.BAD_REQUEST, "Invalid purge time: must be a number");
  }
  return Math.trunc(olderThan);
}

/** An append as a group commit takes it. */
export interface QueuedAppend {
  message: StoredMessage;
  delivered: boolean;
  maxBacklog: number | undefined;
}

/** An append waiting for its group commit, with the promise it settles. */
export interface PendingAppend extends QueuedAppend {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A message as both adapters' queries select it, with the logins joined in. */
export interface MessageRow {
  id: number;
  ts: number;
  time: number;
  sender_id: number;
  body_json: string;
  state: number;
  sender: string;
  recipient: string;
}

/**
 * The {@linkcode StoredMessage} of a selected row.
 *
 * @example
 * ```ts
 * import { toStoredMessage } from "./message_checks.ts";
 * const row = {
 *   id: 1, ts: 2, time: 3, sender_id: 4, body_json: '"hi"', state: 0,
 *   sender: "alice", recipient: "bob",
 * };
 * console.log(toStoredMessage(row).message); // "hi"
 * ```
 */
export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    ts: row.ts,
    time: row.time,
    from: row.sender,
    to: row.recipient,
    message: JSON.parse(row.body_json),
  };
}
