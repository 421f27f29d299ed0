/**
 * SQLite messages (issue 12's MessageStore), with group commit: `append()` only queues, and
 * one transaction, after a short window (once the appending code has routed the message and
 * returned), writes every message that arrived meanwhile. A busy server pays one commit for a
 * burst of messages, and routing never waits for the disk. Reads of delivery state
 * (`undelivered`, `markDelivered`, `markRead`) first commit what is queued, so that a login
 * never misses a message appended just before it.
 *
 * A commit writes each message once, to `messages`, keyed by its id, so it appends to the
 * table's last pages. The conversation index (`message_index`: sender, recipient, id) is built
 * in batches of about a thousand messages, after the commit's replies are out, after a quiet
 * second, and at open and close: each commit rewrites every page it touches, and an index entry
 * touches a leaf in its own conversation's part, so indexing at every commit rewrote some 60
 * pages per commit of 20 messages in 20 conversations, where a batch shares each leaf among a
 * thousand messages (docs/benchmarks.md has the measurements). `message_index_state.upto` is
 * the id up to which every message is indexed; reads seek the index and scan the short tail
 * above it. A message with an id at or below it (an append retried late) is indexed in its own
 * commit. The backlog has its own partial index, which holds only waiting messages, and the
 * time index only appends.
 *
 * A page across all of an account's conversations is read conversation by conversation
 * through the `conversations` table, which each index batch adds to once per conversation.
 *
 * A message belongs to its sender's and its recipient's accounts: removing either removes it
 * (a trigger, `users_leave_messages`, through the conversation index and the tail), so a new
 * account with a removed one's name, or its row id, sees none of the old conversations. The
 * recipient's delivery state is a column: 0 stored, 1 delivered, 2 read.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { JimError, loginKey, Status } from "../../../protocol/mod.ts";
import {
  backlogFull,
  checkHistoryQuery,
  checkId,
  checkMessage,
  checkPurgeTime,
  type MessageRow,
  noSuchMessage,
  type PendingAppend,
  SENT_STATES,
  toStoredMessage,
} from "../message_checks.ts";
import type {
  HistoryItem,
  HistoryPage,
  HistoryQuery,
  MessageStore,
  StoredMessage,
} from "../ports.ts";
import { settle, transaction } from "./_sql.ts";

/** Options of the group commit. */
export interface SqliteGroupCommitOptions {
  /** Messages in one transaction at most; 1000 by default. */
  maxBatch?: number;
  /**
   * Appends waiting for their commit at most; past it an append is refused with 503 at once.
   * 100,000 by default.
   */
  maxQueued?: number;
  /**
   * How long the first append of a group waits for others before they are committed
   * together, ms; 4 by default. Routing does not wait for it: only the sender's 200 does, so
   * a longer window would hold back clients that keep a few messages in flight and wait for
   * their answers (measured in docs/benchmarks.md).
   */
  commitWindowMs?: number;
  /** Messages above the conversation index from which it is extended; 1024 by default. */
  indexBatch?: number;
  /** How long after the last commit the index is extended anyway, ms; 1000 by default. */
  indexIdleMs?: number;
}

/** Conversations of the tail an index batch is told of at most; past it, it finds them. */
const MAX_TRACKED_PAIRS = 10_000;
/**
 * A conversation's key is sender id * PAIR_SPAN + recipient id: a number, which costs a
 * message less than a string would. Larger user ids leave the batch to find them in the tail.
 */
const PAIR_SPAN = 2 ** 26;
const UNTRACKED = -1;
/** Users the append path keeps looked up at most. */
const MAX_CACHED_USERS = 10_000;

/** Rows of one prepared multi-row INSERT, largest first; a batch is cut into these. */
const INSERT_CHUNKS = [64, 16, 4, 1] as const;
const INSERT_COLUMNS = 7;

const COLUMNS = `m.id, m.ts, m.time, m.sender_id, m.body_json, m.state,
  s.login AS sender, r.login AS recipient`;
const JOINS = "JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id";

/** The SQLite {@linkcode MessageStore}. Created by `SqliteStorage`. */
export class SqliteMessages implements MessageStore {
  readonly #db: DatabaseSync;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  readonly #windowMs: number;
  readonly #indexBatch: number;
  readonly #indexIdleMs: number;
  readonly #inserts = new Map<number, StatementSync>();
  /** Messages above the conversation index. */
  #unindexed = 0;
  /** Every message with an id up to this one is in the conversation index. */
  #indexedUpTo = 0;
  /**
   * The conversations of what is above the index, for the next index batch to list; null when
   * they are not known (rows a process before this one wrote, or more conversations than are
   * worth keeping), and the batch finds them in the tail instead.
   */
  #tailPairs: Map<number, [number, number]> | null = new Map();
  /**
   * Users looked up by login for earlier commits, valid while `users_version` (which
   * triggers raise on any connection's change of a login's id) stays `#usersVersion`.
   */
  readonly #users = new Map<string, { id: number; login: string } | null>();
  #usersVersion = -1;
  #indexTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #q: ReturnType<typeof prepare>;
  readonly #pages = new Map<string, StatementSync>();
  #queue: PendingAppend[] = [];
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #commits = 0;
  #closed = false;

  constructor(db: DatabaseSync, options: SqliteGroupCommitOptions = {}) {
    this.#db = db;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.#maxQueued = Math.max(1, options.maxQueued ?? 100_000);
    this.#windowMs = Math.max(0, options.commitWindowMs ?? 4);
    this.#indexBatch = Math.max(1, options.indexBatch ?? 1024);
    this.#indexIdleMs = Math.max(0, options.indexIdleMs ?? 1000);
    this.#q = prepare(db);
    // What a process that stopped without closing left above the index.
    this.#indexedUpTo = this.#q.commitState.get()!.upto as number;
    this.#unindexed = this.#q.countTail.get()!.n as number;
    if (this.#unindexed > 0) {
      this.#tailPairs = null;
      this.#indexTail();
    }
  }

  /** Messages not yet in the conversation index, which reads find in the tail above it. */
  get unindexed(): number {
    return this.#unindexed;
  }

  /** Group commits made so far. */
  get commits(): number {
    return this.#commits;
  }

  /** Appends waiting for their commit. */
  get pending(): number {
    return this.#queue.length;
  }

  append(
    message: StoredMessage,
    options: { delivered: boolean; maxBacklog?: number },
  ): Promise<void> {
    try {
      if (this.#closed) throw new Error("Cannot use storage: it is closed");
      checkMessage(message);
      if (this.#queue.length >= this.#maxQueued) {
        throw new JimError(
          Status.UNAVAILABLE,
          "Message not stored: the database is not keeping up; try again later",
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({
      message,
      delivered: options.delivered,
      maxBacklog: options.maxBacklog,
      resolve,
      reject,
    });
    if (this.#queue.length >= this.#maxBatch) {
      // A full batch does not wait out the window.
      clearTimeout(this.#timer);
      this.#schedule(0);
    } else if (!this.#scheduled) {
      // After the window: the appending code has routed the message and returned, and what
      // every connection appends meanwhile joins the transaction.
      this.#schedule(this.#windowMs);
    }
    return promise;
  }

  #schedule(delay: number): void {
    this.#scheduled = true;
    this.#timer = setTimeout(() => this.flush(), delay);
  }

  markDelivered(recipient: string, ids: readonly number[]): Promise<void> {
    return settle(() => {
      for (const id of ids) checkId(id, "message id");
      this.flush();
      if (ids.length === 0) return;
      const user = this.#q.userByKey.get(loginKey(recipient));
      if (!user) return;
      transaction(this.#db, () => {
        for (const id of ids) this.#q.markDelivered.run(id, user.id as number);
      });
    });
  }

  markRead(reader: string, peer: string, id: number): Promise<{ changed: boolean }> {
    return settle(() => {
      checkId(id, "message id");
      this.flush();
      const r = this.#q.userByKey.get(loginKey(reader))?.id as number | undefined;
      const p = this.#q.userByKey.get(loginKey(peer))?.id as number | undefined;
      if (
        r === undefined || p === undefined ||
        this.#q.isFromTo.get(id, p, r) === undefined
      ) {
        throw noSuchMessage(id);
      }
      const changes = transaction(this.#db, () =>
        Number(this.#q.markRead.run(p, r, id).changes) +
        Number(this.#q.markReadTail.run(this.#indexedUpTo, id, r, p).changes));
      return { changed: changes > 0 };
    });
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    return settle(() => {
      const cursor = checkHistoryQuery(query);
      const caller = this.#q.userByKey.get(loginKey(query.caller))?.id as number | undefined;
      const peer = query.with === undefined
        ? undefined
        : this.#q.userByKey.get(loginKey(query.with))?.id as number | undefined;
      if (caller === undefined || (query.with !== undefined && peer === undefined)) {
        // No such caller or peer: no conversation to show, and no id is visible.
        if (cursor !== undefined) throw noSuchMessage(cursor);
        return { items: [], more: false };
      }
      if (cursor !== undefined && !this.#visible(cursor, caller, peer)) {
        throw noSuchMessage(cursor);
      }
      const ascending = query.after !== undefined;
      const n = query.limit + 1;
      const bound = query.before ?? query.after ?? Number.MAX_SAFE_INTEGER;
      // Two arms, sent and received, each read in id order from the index and from the tail
      // above it; a message to oneself is in the sent arm only.
      const sentArgs = peer === undefined ? [caller] : [caller, peer];
      const receivedArgs = peer === undefined ? [caller, caller] : [caller, peer, caller];
      const rows = peer === undefined
        ? this.#acrossConversations(caller, ascending, bound, n)
        : this.#conversation(caller, peer, ascending, bound, n);
      const lo = Math.max(this.#indexedUpTo, ascending ? bound : 0);
      const hi = ascending ? Number.MAX_SAFE_INTEGER : bound;
      for (const [arm, args] of [["sent", sentArgs], ["received", receivedArgs]] as const) {
        const found = this.#page(arm, peer !== undefined, ascending)
          .all(...args, lo, hi, n) as unknown as MessageRow[];
        for (const row of found) rows.push(row);
      }
      rows.sort((a, b) => ascending ? a.id - b.id : b.id - a.id);
      // An id both in the index and in the tail (which another process's index batch has
      // indexed since this one last looked) shows once.
      for (let i = rows.length - 1; i > 0; i--) {
        if (rows[i]!.id === rows[i - 1]!.id) rows.splice(i, 1);
      }
      const more = rows.length > query.limit;
      const page = rows.slice(0, query.limit);
      if (!ascending) page.reverse();
      const items: HistoryItem[] = page.map((row) => ({
        ...toStoredMessage(row),
        state: row.sender_id === caller
          ? SENT_STATES[row.state]!
          : row.state === 2
          ? "read"
          : "delivered",
      }));
      return { items, more };
    });
  }

  undelivered(
    recipient: string,
    options: { after?: number; limit: number },
  ): Promise<StoredMessage[]> {
    return settle(() => {
      const after = options.after === undefined || options.after === 0
        ? 0
        : checkId(options.after, "cursor");
      const limit = Math.max(0, Math.trunc(options.limit));
      this.flush();
      const rows = this.#q.undelivered.all(
        loginKey(recipient),
        after,
        limit,
      ) as unknown as MessageRow[];
      return rows.map(toStoredMessage);
    });
  }

  purge(olderThan: number): Promise<number> {
    return settle(() => {
      const ts = checkPurgeTime(olderThan);
      this.flush();
      return transaction(this.#db, () => {
        this.#q.purgeIndex.run(ts);
        return Number(this.#q.purge.run(ts).changes);
      });
    });
  }

  /** The highest message id stored, or 0: where a restarted id allocator must go on from. */
  lastId(): Promise<number> {
    return settle(() => {
      this.flush();
      return (this.#q.lastId.get()?.id as number | null) ?? 0;
    });
  }

  /**
   * Commits every queued append now, in batches of at most `maxBatch`, and settles their
   * promises. Called by the scheduled microtask, before reads of delivery state, and at close.
   */
  flush(): void {
    // Nothing is left to wait for: the next append opens a new window.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      const outcome: [PendingAppend, unknown][] = [];
      const written = { n: 0, pairs: new Map<number, [number, number]>() };
      try {
        transaction(this.#db, () => {
          outcome.length = 0;
          written.pairs.clear();
          written.n = this.#insertBatch(batch, outcome, written.pairs);
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      this.#commits++;
      this.#unindexed += written.n;
      this.#trackPairs(written.pairs);
      for (const [pending, error] of outcome) {
        if (error === undefined) pending.resolve();
        else pending.reject(error);
      }
    }
    if (this.#unindexed > 0 && !this.#closed) {
      // A full batch is indexed once the replies of this commit are out; a partial one when
      // the server has been quiet for a while.
      clearTimeout(this.#indexTimer);
      this.#indexTimer = setTimeout(
        () => this.#indexTail(),
        this.#unindexed >= this.#indexBatch ? 0 : this.#indexIdleMs,
      );
    }
  }

  /** Commits what is queued and takes no more appends; the database closes after. */
  close(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#scheduled = false;
    this.flush();
    clearTimeout(this.#indexTimer);
    this.#indexTimer = undefined;
    if (this.#unindexed > 0) this.#indexTail();
    this.#closed = true;
  }

  /**
   * Adds every message above the conversation index to it, in one transaction. A failure (the
   * disk is full, say) leaves them in the tail, where reads still find them, for the next one.
   */
  #indexTail(): void {
    this.#indexTimer = undefined;
    const pairs = this.#tailPairs;
    try {
      this.#indexedUpTo = transaction(this.#db, () => {
        this.#q.extendIndex.run();
        // Listing the few dozen conversations the session code saw costs a seek each; finding
        // them in the tail costs a sort of every row in it.
        if (pairs === null) this.#q.addTailConversations.run();
        else for (const [from, to] of pairs.values()) this.#q.addIndexedConversation.run(from, to);
        return this.#q.raiseIndexedUpTo.get()!.upto as number;
      });
      this.#unindexed = 0;
      this.#tailPairs = new Map();
    } catch {
      this.#unindexed = this.#q.countTail.get()!.n as number;
    }
  }

  /** Adds the conversations of a committed batch to those the next index batch lists. */
  #trackPairs(pairs: ReadonlyMap<number, [number, number]>): void {
    const known = this.#tailPairs;
    if (known === null) return;
    if (pairs.has(UNTRACKED)) {
      this.#tailPairs = null;
      return;
    }
    for (const [key, pair] of pairs) known.set(key, pair);
    if (known.size > MAX_TRACKED_PAIRS) this.#tailPairs = null;
  }

  /**
   * Writes `batch`, each append's result in `outcome` and the conversations of the rows it
   * left above the index in `pairs`; returns how many rows it wrote.
   */
  #insertBatch(
    batch: readonly PendingAppend[],
    outcome: [PendingAppend, unknown][],
    pairs: Map<number, [number, number]>,
  ): number {
    // Read inside this write transaction, so no other connection's change can come between:
    // another process (jim-server user list, say) indexes the tail when it opens the file.
    const state = this.#q.commitState.get()!;
    this.#indexedUpTo = state.upto as number;
    const version = state.users as number;
    if (version !== this.#usersVersion || this.#users.size > MAX_CACHED_USERS) {
      this.#users.clear();
      this.#usersVersion = version;
    }
    const users = this.#users;
    // By the login as sent, which saves computing its key again.
    const user = (login: string) => {
      let found = users.get(login);
      if (found === undefined) {
        const row = this.#q.userByKey.get(loginKey(login));
        found = row ? { id: row.id as number, login: row.login as string } : null;
        users.set(login, found);
      }
      return found;
    };
    const rows: SQLInputValue[] = [];
    // Ids the index has passed already: an append retried late. Indexed in this commit.
    const late: number[] = [];
    // Counted once per recipient per batch, then kept up to date as the batch goes on.
    const waiting = new Map<number, number>();
    for (const pending of batch) {
      const { message } = pending;
      const sender = user(message.from);
      const recipient = user(message.to);
      if (!sender || !recipient) {
        const who = sender ? message.to : message.from;
        outcome.push([pending, new JimError(Status.NOT_FOUND, `No such client: ${who}`)]);
        continue;
      }
      if (!pending.delivered && pending.maxBacklog !== undefined) {
        let n = waiting.get(recipient.id);
        if (n === undefined) n = this.#q.countWaiting.get(recipient.id)!.n as number;
        if (n + 1 > pending.maxBacklog) {
          waiting.set(recipient.id, n);
          outcome.push([pending, backlogFull(recipient.login, n)]);
          continue;
        }
        waiting.set(recipient.id, n + 1);
      }
      if (message.id <= this.#indexedUpTo) late.push(message.id);
      else if (sender.id < PAIR_SPAN && recipient.id < PAIR_SPAN) {
        const pair = sender.id * PAIR_SPAN + recipient.id;
        if (!pairs.has(pair)) pairs.set(pair, [sender.id, recipient.id]);
      } else pairs.set(UNTRACKED, [0, 0]);
      rows.push(
        message.id,
        Math.trunc(message.ts),
        message.time,
        sender.id,
        recipient.id,
        JSON.stringify(message.message),
        pending.delivered ? 1 : 0,
      );
      outcome.push([pending, undefined]);
    }
    const inserted = this.#insertRows(rows);
    for (const id of late) {
      this.#q.indexOne.run(id);
      this.#q.addConversationOf.run(id);
    }
    return inserted;
  }

  /**
   * Inserts `rows` (INSERT_COLUMNS values each) with as few statement calls as the prepared
   * chunk sizes allow: each call costs more than the rows it binds.
   */
  #insertRows(rows: readonly SQLInputValue[]): number {
    let at = 0;
    let left = rows.length / INSERT_COLUMNS;
    let inserted = 0;
    for (const size of INSERT_CHUNKS) {
      const statement = left >= size ? this.#insert(size) : undefined;
      for (; statement && left >= size; left -= size) {
        const end = at + size * INSERT_COLUMNS;
        inserted += Number(statement.run(...rows.slice(at, end)).changes);
        at = end;
      }
    }
    return inserted;
  }

  /** The INSERT of `size` rows, prepared once. */
  #insert(size: number): StatementSync {
    let statement = this.#inserts.get(size);
    if (!statement) {
      const values = Array.from({ length: size }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ");
      // An id stored already (an append retried after an unclear failure) changes nothing.
      statement = this.#db.prepare(
        `INSERT INTO messages (id, ts, time, sender_id, recipient_id, body_json, state)
         VALUES ${values} ON CONFLICT (id) DO NOTHING`,
      );
      this.#inserts.set(size, statement);
    }
    return statement;
  }

  /** Up to `n` indexed messages between `caller` and `peer` beyond `bound`, both ways. */
  #conversation(
    caller: number,
    peer: number,
    ascending: boolean,
    bound: number,
    n: number,
  ): MessageRow[] {
    const [lo, hi] = ascending ? [bound, Number.MAX_SAFE_INTEGER] : [0, bound];
    const rows: MessageRow[] = [];
    this.#bothWays(rows, caller, peer, ascending, lo, hi, n);
    return rows;
  }

  /**
   * Up to `n` indexed messages that `caller` sent or received beyond `bound`, read one
   * conversation at a time from the conversation index, so a page costs a seek per peer and
   * never a sort of everything the account ever sent. The `n` best found so far narrow the
   * range that the next conversation is asked for.
   */
  #acrossConversations(
    caller: number,
    ascending: boolean,
    bound: number,
    n: number,
  ): MessageRow[] {
    let [lo, hi] = ascending ? [bound, Number.MAX_SAFE_INTEGER] : [0, bound];
    let rows: MessageRow[] = [];
    for (const { peer_id } of this.#q.peers.all(caller)) {
      this.#bothWays(rows, caller, peer_id as number, ascending, lo, hi, n);
      if (rows.length > n) {
        rows.sort((a, b) => ascending ? a.id - b.id : b.id - a.id);
        rows = rows.slice(0, n);
        if (ascending) hi = rows[n - 1]!.id;
        else lo = rows[n - 1]!.id;
      }
    }
    return rows;
  }

  /**
   * Appends to `rows` up to `n` messages each way between `caller` and `peer` with ids
   * strictly between `lo` and `hi`; a message to oneself is in one way round only.
   */
  #bothWays(
    rows: MessageRow[],
    caller: number,
    peer: number,
    ascending: boolean,
    lo: number,
    hi: number,
    n: number,
  ): void {
    const between = this.#q.between[ascending ? 1 : 0]!;
    for (
      const [from, to] of peer === caller ? [[caller, caller]] : [[caller, peer], [peer, caller]]
    ) {
      const found = between.all(from!, to!, lo, hi, n) as unknown as MessageRow[];
      for (const row of found) rows.push(row);
    }
  }

  #visible(id: number, caller: number, peer: number | undefined): boolean {
    return peer === undefined
      ? this.#q.visibleToCaller.get(id, caller, caller) !== undefined
      : this.#q.visibleInConversation.get(id, caller, peer, peer, caller) !== undefined;
  }

  /**
   * One arm of a history page in the tail above the conversation index, read in id order
   * between two bounds: the tail is short, and its rows are in id order already.
   */
  #page(arm: "sent" | "received", withPeer: boolean, ascending: boolean): StatementSync {
    const name = `${arm}/${withPeer}/${ascending}`;
    let statement = this.#pages.get(name);
    if (!statement) {
      const who = arm === "sent"
        ? withPeer ? "m.sender_id = ? AND m.recipient_id = ?" : "m.sender_id = ?"
        : withPeer
        ? "m.recipient_id = ? AND m.sender_id = ? AND m.sender_id <> ?"
        : "m.recipient_id = ? AND m.sender_id <> ?";
      statement = this.#db.prepare(
        `SELECT ${COLUMNS} FROM messages m ${JOINS} WHERE ${who} AND m.id > ? AND m.id < ?
         ORDER BY m.id ${ascending ? "ASC" : "DESC"} LIMIT ?`,
      );
      this.#pages.set(name, statement);
    }
    return statement;
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  const upTo = "(SELECT upto FROM message_index_state)";
  return {
    userByKey: p("SELECT id, login FROM users WHERE login_key = ?"),
    commitState: p(`SELECT (SELECT n FROM users_version) AS users, ${upTo} AS upto`),
    countWaiting: p("SELECT count(*) AS n FROM messages WHERE recipient_id = ? AND state = 0"),
    markDelivered: p(
      "UPDATE messages SET state = 1 WHERE id = ? AND recipient_id = ? AND state = 0",
    ),
    isFromTo: p("SELECT 1 AS x FROM messages WHERE id = ? AND sender_id = ? AND recipient_id = ?"),
    // A read mark, through the index and then in the tail above it.
    markRead: p(
      `UPDATE messages SET state = 2 WHERE id IN (
         SELECT id FROM message_index WHERE sender_id = ? AND recipient_id = ? AND id <= ?)
       AND state < 2`,
    ),
    markReadTail: p(
      `UPDATE messages SET state = 2
       WHERE id > ? AND id <= ? AND recipient_id = ? AND sender_id = ? AND state < 2`,
    ),
    visibleToCaller: p(
      "SELECT 1 AS x FROM messages WHERE id = ? AND (sender_id = ? OR recipient_id = ?)",
    ),
    visibleInConversation: p(
      `SELECT 1 AS x FROM messages WHERE id = ?
       AND ((sender_id = ? AND recipient_id = ?) OR (sender_id = ? AND recipient_id = ?))`,
    ),
    // A conversation's indexed messages one way round, with ids strictly between two bounds;
    // newest first, then oldest first.
    between: (["DESC", "ASC"] as const).map((order) =>
      p(
        `SELECT ${COLUMNS} FROM message_index i JOIN messages m ON m.id = i.id ${JOINS}
         WHERE i.sender_id = ? AND i.recipient_id = ? AND i.id > ? AND i.id < ?
         ORDER BY i.id ${order} LIMIT ?`,
      )
    ),
    peers: p("SELECT peer_id FROM conversations WHERE user_id = ?"),
    // A message indexed in its own commit, and its conversation both ways round.
    indexOne: p(
      `INSERT OR IGNORE INTO message_index (sender_id, recipient_id, id)
       SELECT sender_id, recipient_id, id FROM messages WHERE id = ?`,
    ),
    addConversationOf: p(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT sender_id, recipient_id FROM messages WHERE id = ?1
       UNION ALL SELECT recipient_id, sender_id FROM messages WHERE id = ?1`,
    ),
    // After an index batch: both ways round, if the conversation has indexed messages (a user
    // removed since has none, and lists no conversation).
    addIndexedConversation: p(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT a, b FROM (SELECT ?1 AS a, ?2 AS b UNION ALL SELECT ?2, ?1)
       WHERE EXISTS (SELECT 1 FROM message_index WHERE sender_id = ?1 AND recipient_id = ?2)`,
    ),
    countTail: p(`SELECT count(*) AS n FROM messages WHERE id > ${upTo}`),
    // Sorted, so that the entries of one conversation go into its leaves together.
    extendIndex: p(
      `INSERT OR IGNORE INTO message_index (sender_id, recipient_id, id)
       SELECT sender_id, recipient_id, id FROM messages WHERE id > ${upTo}
       ORDER BY sender_id, recipient_id, id`,
    ),
    // The conversations of a tail this process did not write: a sort of its rows.
    addTailConversations: p(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT sender_id, recipient_id FROM messages WHERE id > ${upTo}
       UNION SELECT recipient_id, sender_id FROM messages WHERE id > ${upTo}`,
    ),
    raiseIndexedUpTo: p(
      `UPDATE message_index_state SET upto = max(upto, coalesce((SELECT max(id) FROM messages), 0))
       RETURNING upto`,
    ),
    undelivered: p(
      `SELECT ${COLUMNS} FROM messages m ${JOINS}
       WHERE m.recipient_id = (SELECT id FROM users WHERE login_key = ?) AND m.state = 0
         AND m.id > ?
       ORDER BY m.id LIMIT ?`,
    ),
    // Index entries first, while their messages still say which they are.
    purgeIndex: p(
      `DELETE FROM message_index WHERE (sender_id, recipient_id, id) IN (
         SELECT sender_id, recipient_id, id FROM messages WHERE ts < ?)`,
    ),
    purge: p("DELETE FROM messages WHERE ts < ?"),
    lastId: p("SELECT max(id) AS id FROM messages"),
  };
}
