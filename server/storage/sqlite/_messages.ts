/**
 * SQLite messages (issue 12's MessageStore), with group commit: `append()` only queues, and
 * one transaction, after a short window (once the appending code has routed the message and
 * returned), writes every message that arrived meanwhile. A busy server pays one commit for a
 * burst of messages, and routing never waits for the disk. Reads of delivery state
 * (`undelivered`, `markDelivered`, `markRead`) first commit what is queued, so that a login
 * never misses a message appended just before it.
 *
 * Messages a session took are staged: they go to `messages_recent`, which has no index but
 * its key, and move to the indexed `messages` in batches of about a thousand. Each commit
 * rewrites every page it touches, and an indexed row touches a leaf of each index in its own
 * conversation's part, so one commit of 20 messages in 20 conversations rewrote some 60 pages;
 * staged, it appends a page or two, and a move shares each leaf among the rows of a thousand
 * messages (docs/benchmarks.md has the measurements). Reads look in both tables; the staging
 * table stays small, so they scan it. Messages that wait for their recipient go straight to
 * `messages`, where the backlog index finds them.
 *
 * An indexed message costs one index entry of note, in `messages_conversation` (sender,
 * recipient, id); the backlog's partial index holds only waiting messages, and the time index
 * only appends. A page across all of an account's conversations is read conversation by
 * conversation through the `conversations` table, which a move or a batch of waiting messages
 * adds to once per conversation, not per message.
 *
 * A message belongs to its sender's and its recipient's accounts: removing either removes it
 * (a trigger, `users_leave_messages`, through the conversation index), so a new account with a
 * removed one's name, or its row id, sees none of the old conversations. The recipient's delivery state is a column: 0 stored, 1 delivered, 2 read.
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
  /** Staged messages from which they move to the indexed table; 1024 by default. */
  moveAt?: number;
  /** How long after the last commit what is staged moves anyway, ms; 1000 by default. */
  moveIdleMs?: number;
}

/** Conversations of staged rows that the move is told of at most; past it, it finds them. */
const MAX_TRACKED_PAIRS = 10_000;

/** Rows of one prepared multi-row INSERT, largest first; a batch is cut into these. */
const INSERT_CHUNKS = [64, 16, 4, 1] as const;
const INSERT_COLUMNS = 7;

/** The indexed table, and the staging table of messages a session took. */
const TABLES = ["messages", "messages_recent"] as const;
type Table = typeof TABLES[number];

const COLUMNS = `m.id, m.ts, m.time, m.sender_id, m.body_json, m.state,
  s.login AS sender, r.login AS recipient`;
const JOINS = "JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id";

/** The SQLite {@linkcode MessageStore}. Created by `SqliteStorage`. */
export class SqliteMessages implements MessageStore {
  readonly #db: DatabaseSync;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  readonly #windowMs: number;
  readonly #moveAt: number;
  readonly #moveIdleMs: number;
  readonly #inserts = new Map<string, StatementSync>();
  #staged = 0;
  /**
   * The conversations of what is staged, for the next move to list; null when they are not
   * known (rows a process before this one staged, or more conversations than are worth
   * keeping), and the move finds them in the staging table instead.
   */
  #stagedPairs: Map<string, [number, number]> | null = new Map();
  #moveTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.#moveAt = Math.max(1, options.moveAt ?? 1024);
    this.#moveIdleMs = Math.max(0, options.moveIdleMs ?? 1000);
    this.#q = prepare(db);
    // What a process that stopped without closing had staged.
    this.#staged = this.#q.countStaged.get()!.n as number;
    if (this.#staged > 0) {
      this.#stagedPairs = null;
      this.#move();
    }
  }

  /** Messages staged in `messages_recent`, not yet moved to `messages`. */
  get staged(): number {
    return this.#staged;
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
        !this.#q.isFromTo.some((q) => q.get(id, p, r))
      ) {
        throw noSuchMessage(id);
      }
      const changes = transaction(this.#db, () => changed(this.#q.markRead, r, p, id));
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
      // Two arms, sent and received, each read in id order from the index and from the
      // staging table; a message to oneself is in the sent arm only.
      const sentArgs = peer === undefined ? [caller] : [caller, peer];
      const receivedArgs = peer === undefined ? [caller, caller] : [caller, peer, caller];
      const rows = peer === undefined
        ? this.#acrossConversations(caller, ascending, bound, n)
        : this.#conversation(caller, peer, ascending, bound, n);
      for (const [arm, args] of [["sent", sentArgs], ["received", receivedArgs]] as const) {
        const found = this.#page(arm, peer !== undefined, ascending)
          .all(...args, bound, n) as unknown as MessageRow[];
        for (const row of found) rows.push(row);
      }
      rows.sort((a, b) => ascending ? a.id - b.id : b.id - a.id);
      // An id in both tables (an append retried while the first was staged) shows once.
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
      return transaction(
        this.#db,
        () => changed(this.#q.purge, ts),
      );
    });
  }

  /** The highest message id stored, or 0: where a restarted id allocator must go on from. */
  lastId(): Promise<number> {
    return settle(() => {
      this.flush();
      return Math.max(...this.#q.lastId.map((q) => (q.get()?.id as number | null) ?? 0));
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
      const staged = { n: 0, pairs: new Map<string, [number, number]>() };
      try {
        transaction(this.#db, () => {
          outcome.length = 0;
          staged.pairs.clear();
          staged.n = this.#insertBatch(batch, outcome, staged.pairs);
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      this.#commits++;
      this.#staged += staged.n;
      this.#trackPairs(staged.pairs);
      for (const [pending, error] of outcome) {
        if (error === undefined) pending.resolve();
        else pending.reject(error);
      }
    }
    if (this.#staged > 0 && !this.#closed) {
      // A full stage moves once the replies of this commit are out; a partial one when the
      // server has been quiet for a while.
      clearTimeout(this.#moveTimer);
      this.#moveTimer = setTimeout(
        () => this.#move(),
        this.#staged >= this.#moveAt ? 0 : this.#moveIdleMs,
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
    clearTimeout(this.#moveTimer);
    this.#moveTimer = undefined;
    if (this.#staged > 0) this.#move();
    this.#closed = true;
  }

  /**
   * Moves every staged message to the indexed table in one transaction. A failure (the disk
   * is full, say) leaves them staged, where reads still find them, for the next move.
   */
  #move(): void {
    this.#moveTimer = undefined;
    const pairs = this.#stagedPairs;
    try {
      transaction(this.#db, () => {
        this.#q.move.run();
        // Listing the few dozen conversations the session code saw costs a seek each; finding
        // them in the staging table cost a sort of every staged row, a sixth of the move.
        if (pairs === null) this.#q.addStagedConversations.run();
        else for (const [from, to] of pairs.values()) this.#q.addMovedConversation.run(from, to);
        this.#q.clearStaged.run();
      });
      this.#staged = 0;
      this.#stagedPairs = new Map();
    } catch {
      this.#staged = this.#q.countStaged.get()!.n as number;
    }
  }

  /** Adds the conversations of a committed batch's staged rows to those the move lists. */
  #trackPairs(pairs: ReadonlyMap<string, [number, number]>): void {
    const known = this.#stagedPairs;
    if (known === null) return;
    for (const [key, pair] of pairs) known.set(key, pair);
    if (known.size > MAX_TRACKED_PAIRS) this.#stagedPairs = null;
  }

  /**
   * Writes `batch`, each append's result in `outcome` and the conversations of the rows it
   * staged in `pairs`; returns how many rows it staged.
   */
  #insertBatch(
    batch: readonly PendingAppend[],
    outcome: [PendingAppend, unknown][],
    pairs: Map<string, [number, number]>,
  ): number {
    const users = new Map<string, { id: number; login: string } | null>();
    const user = (login: string) => {
      const key = loginKey(login);
      let found = users.get(key);
      if (found === undefined) {
        const row = this.#q.userByKey.get(key);
        found = row ? { id: row.id as number, login: row.login as string } : null;
        users.set(key, found);
      }
      return found;
    };
    const waitingRows: SQLInputValue[] = [];
    // The conversations of what goes straight to the indexed table, once per batch.
    const conversations = new Map<string, [number, number]>();
    const stagedRows: SQLInputValue[] = [];
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
      const pair = `${sender.id}:${recipient.id}`;
      if (!pending.delivered) conversations.set(pair, [sender.id, recipient.id]);
      else if (!pairs.has(pair)) pairs.set(pair, [sender.id, recipient.id]);
      (pending.delivered ? stagedRows : waitingRows).push(
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
    this.#insertRows("messages", waitingRows);
    for (const [from, to] of conversations.values()) {
      this.#q.addConversation.run(from, to, to, from);
    }
    return this.#insertRows("messages_recent", stagedRows);
  }

  /**
   * Inserts `rows` (INSERT_COLUMNS values each) with as few statement calls as the prepared
   * chunk sizes allow: each call costs more than the rows it binds.
   */
  #insertRows(table: Table, rows: readonly SQLInputValue[]): number {
    let at = 0;
    let left = rows.length / INSERT_COLUMNS;
    let inserted = 0;
    for (const size of INSERT_CHUNKS) {
      const statement = left >= size ? this.#insert(table, size) : undefined;
      for (; statement && left >= size; left -= size) {
        const end = at + size * INSERT_COLUMNS;
        inserted += Number(statement.run(...rows.slice(at, end)).changes);
        at = end;
      }
    }
    return inserted;
  }

  /** The INSERT of `size` rows into `table`, prepared once. */
  #insert(table: Table, size: number): StatementSync {
    const name = `${table}/${size}`;
    let statement = this.#inserts.get(name);
    if (!statement) {
      const values = Array.from({ length: size }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ");
      // An id stored already (an append retried after an unclear failure) changes nothing.
      statement = this.#db.prepare(
        `INSERT INTO ${table} (id, ts, time, sender_id, recipient_id, body_json, state)
         VALUES ${values} ON CONFLICT (id) DO NOTHING`,
      );
      this.#inserts.set(name, statement);
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
      ? this.#q.visibleToCaller.get(id, caller, caller, id, caller, caller) !== undefined
      : this.#q.visibleInConversation.get(
        id,
        caller,
        peer,
        peer,
        caller,
        id,
        caller,
        peer,
        peer,
        caller,
      ) !==
        undefined;
  }

  /** One arm of a history page in the staging table, which has no index to seek. */
  #page(arm: "sent" | "received", withPeer: boolean, ascending: boolean): StatementSync {
    const name = `${arm}/${withPeer}/${ascending}`;
    let statement = this.#pages.get(name);
    if (!statement) {
      const who = arm === "sent"
        ? withPeer ? "m.sender_id = ? AND m.recipient_id = ?" : "m.sender_id = ?"
        : withPeer
        ? "m.recipient_id = ? AND m.sender_id = ? AND m.sender_id <> ?"
        : "m.recipient_id = ? AND m.sender_id <> ?";
      const bound = ascending ? "m.id > ?" : "m.id < ?";
      statement = this.#db.prepare(
        `SELECT ${COLUMNS} FROM messages_recent m ${JOINS} WHERE ${who} AND ${bound}
         ORDER BY m.id ${ascending ? "ASC" : "DESC"} LIMIT ?`,
      );
      this.#pages.set(name, statement);
    }
    return statement;
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  // The same statement on the indexed table and on the staging table.
  const each = (sql: string): StatementSync[] =>
    TABLES.map((table) => p(sql.replaceAll("$table", table)));
  return {
    userByKey: p("SELECT id, login FROM users WHERE login_key = ?"),
    countWaiting: p("SELECT count(*) AS n FROM messages WHERE recipient_id = ? AND state = 0"),
    markDelivered: p(
      "UPDATE messages SET state = 1 WHERE id = ? AND recipient_id = ? AND state = 0",
    ),
    isFromTo: each(
      "SELECT 1 AS x FROM $table WHERE id = ? AND sender_id = ? AND recipient_id = ?",
    ),
    markRead: each(
      `UPDATE $table SET state = 2
       WHERE recipient_id = ? AND sender_id = ? AND id <= ? AND state < 2`,
    ),
    visibleToCaller: p(
      `SELECT 1 AS x FROM messages WHERE id = ? AND (sender_id = ? OR recipient_id = ?)
       UNION ALL
       SELECT 1 AS x FROM messages_recent WHERE id = ? AND (sender_id = ? OR recipient_id = ?)`,
    ),
    visibleInConversation: p(
      `SELECT 1 AS x FROM messages WHERE id = ?
       AND ((sender_id = ? AND recipient_id = ?) OR (sender_id = ? AND recipient_id = ?))
       UNION ALL
       SELECT 1 AS x FROM messages_recent WHERE id = ?
       AND ((sender_id = ? AND recipient_id = ?) OR (sender_id = ? AND recipient_id = ?))`,
    ),
    // A conversation's messages one way round, with ids strictly between two bounds; newest
    // first, then oldest first.
    between: (["DESC", "ASC"] as const).map((order) =>
      p(
        `SELECT ${COLUMNS} FROM messages m ${JOINS}
         WHERE m.sender_id = ? AND m.recipient_id = ? AND m.id > ? AND m.id < ?
         ORDER BY m.id ${order} LIMIT ?`,
      )
    ),
    peers: p("SELECT peer_id FROM conversations WHERE user_id = ?"),
    addConversation: p(
      "INSERT OR IGNORE INTO conversations (user_id, peer_id) VALUES (?, ?), (?, ?)",
    ),
    // After a move: both ways round, if the conversation has messages (a user removed since
    // has none, and lists no conversation).
    addMovedConversation: p(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT a, b FROM (SELECT ?1 AS a, ?2 AS b UNION ALL SELECT ?2, ?1)
       WHERE EXISTS (SELECT 1 FROM messages WHERE sender_id = ?1 AND recipient_id = ?2)`,
    ),
    countStaged: p("SELECT count(*) AS n FROM messages_recent"),
    move: p(
      `INSERT INTO messages (id, ts, time, sender_id, recipient_id, body_json, state)
       SELECT id, ts, time, sender_id, recipient_id, body_json, state FROM messages_recent
       WHERE true ORDER BY id ON CONFLICT (id) DO NOTHING`,
    ),
    // Once per move, not per row: the conversations of a thousand messages are a few dozen.
    addStagedConversations: p(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT sender_id, recipient_id FROM messages_recent
       UNION SELECT recipient_id, sender_id FROM messages_recent`,
    ),
    clearStaged: p("DELETE FROM messages_recent"),
    undelivered: p(
      `SELECT ${COLUMNS} FROM messages m ${JOINS}
       WHERE m.recipient_id = (SELECT id FROM users WHERE login_key = ?) AND m.state = 0
         AND m.id > ?
       ORDER BY m.id LIMIT ?`,
    ),
    purge: each("DELETE FROM $table WHERE ts < ?"),
    lastId: each("SELECT max(id) AS id FROM $table"),
  };
}

/** Rows that `statements` (one per table) changed, run with the same parameters. */
function changed(statements: readonly StatementSync[], ...params: SQLInputValue[]): number {
  let total = 0;
  for (const statement of statements) total += Number(statement.run(...params).changes);
  return total;
}
