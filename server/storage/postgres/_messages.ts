/**
 * PostgreSQL messages (issue 12's MessageStore): appends are committed in groups, one
 * transaction for everything that arrived while the previous commit was in flight, so the
 * cost of a commit is shared and routing never waits for one.
 *
 * A message belongs to its sender's and its recipient's accounts: removing either account
 * removes it, so that a new account with a removed one's name sees nothing of the old
 * conversations. The recipient's delivery state is a column (0 stored, 1 delivered, 2 read).
 *
 * @module
 */
import { JimError, loginKey, Status } from "../../../protocol/mod.ts";
import {
  backlogFull,
  checkHistoryQuery,
  checkId,
  checkMessage,
  checkPurgeTime,
  type MessageRow,
  noSuchMessage,
  type QueuedAppend,
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
import { GroupCommit } from "../_group_commit.ts";
import { intArray, type PgContext, type Queryable, type Tx } from "./_client.ts";

/** Options of the group commit. */
export interface GroupCommitOptions {
  /** Messages in one commit at most; 1000 by default. */
  maxBatch?: number;
  /**
   * Appends waiting for a commit at most; past it an append is refused with 503 at once
   * (the database is slower than the traffic). 100,000 by default.
   */
  maxQueued?: number;
}

/** The PostgreSQL {@linkcode MessageStore}. Created by `PostgresStorage`. */
export class PostgresMessages implements MessageStore {
  readonly #ctx: PgContext;
  readonly #group: GroupCommit<QueuedAppend>;

  constructor(ctx: PgContext, options: GroupCommitOptions = {}) {
    this.#ctx = ctx;
    this.#group = new GroupCommit(
      (batch) => this.#commit(batch),
      () =>
        new JimError(
          Status.UNAVAILABLE,
          "Message not stored: the database is not keeping up; try again later",
        ),
      options,
    );
  }

  /** Group commits made so far. */
  get commits(): number {
    return this.#group.commits;
  }

  /** Appends waiting for their commit. */
  get pending(): number {
    return this.#group.pending;
  }

  append(
    message: StoredMessage,
    options: { delivered: boolean; maxBacklog?: number },
  ): Promise<void> {
    try {
      if (this.#ctx.closed) throw new Error("Cannot use storage: it is closed");
      checkMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#group.add({
      message,
      delivered: options.delivered,
      maxBacklog: options.maxBacklog,
    });
  }

  markDelivered(recipient: string, ids: readonly number[]): Promise<void> {
    return this.#ctx.run(async (sql) => {
      for (const id of ids) checkId(id, "message id");
      if (ids.length === 0) return;
      await sql`UPDATE messages SET state = 1
        WHERE recipient_id = (SELECT id FROM users WHERE login_key = ${loginKey(recipient)})
          AND id = ANY(${intArray(ids)}::int8[]) AND state = 0`;
    });
  }

  markRead(reader: string, peer: string, id: number): Promise<{ changed: boolean }> {
    return this.#ctx.run(async (sql) => {
      checkId(id, "message id");
      const [row] = await sql<{ found: boolean; changed: number }[]>`
        WITH pair AS (
          SELECT (SELECT id FROM users WHERE login_key = ${loginKey(reader)}) AS reader,
            (SELECT id FROM users WHERE login_key = ${loginKey(peer)}) AS peer
        ), target AS (
          SELECT 1 FROM messages m, pair
          WHERE m.id = ${id} AND m.sender_id = pair.peer AND m.recipient_id = pair.reader
        ), marked AS (
          UPDATE messages m SET state = 2 FROM pair
          WHERE m.recipient_id = pair.reader AND m.sender_id = pair.peer AND m.id <= ${id}
            AND m.state < 2 AND EXISTS (SELECT 1 FROM target)
          RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM target) AS found,
          (SELECT count(*) FROM marked)::int4 AS changed`;
      if (!row!.found) throw noSuchMessage(id);
      return { changed: row!.changed > 0 };
    });
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    return this.#ctx.run(async (sql) => {
      const { limit } = query;
      const cursor = checkHistoryQuery(query);
      const ids = await sql<{ caller: number | null; peer: number | null }[]>`
        SELECT (SELECT id FROM users WHERE login_key = ${loginKey(query.caller)}) AS caller,
          (SELECT id FROM users WHERE login_key = ${loginKey(query.with ?? "")}) AS peer`;
      const caller = ids[0]!.caller;
      const peer = query.with === undefined ? undefined : ids[0]!.peer;
      if (caller === null || peer === null) {
        // No such caller or peer: no conversation to show, and no id is visible.
        if (cursor !== undefined) throw noSuchMessage(cursor);
        return { items: [], more: false };
      }
      if (cursor !== undefined && !await this.#visible(sql, cursor, caller, peer)) {
        throw noSuchMessage(cursor);
      }
      const ascending = query.after !== undefined;
      const rows = await this.#page(sql, caller, peer, query, limit + 1);
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
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
    return this.#ctx.run(async (sql) => {
      const after = options.after === undefined || options.after === 0
        ? 0
        : checkId(options.after, "cursor");
      const limit = Math.max(0, Math.trunc(options.limit));
      const rows = await sql<MessageRow[]>`
        SELECT m.*, s.login AS sender, r.login AS recipient FROM messages m
        JOIN users r ON r.id = m.recipient_id JOIN users s ON s.id = m.sender_id
        WHERE r.login_key = ${loginKey(recipient)} AND m.state = 0 AND m.id > ${after}
        ORDER BY m.id LIMIT ${limit}`;
      return rows.map(toStoredMessage);
    });
  }

  purge(olderThan: number): Promise<number> {
    return this.#ctx.run(async (sql) => {
      const result = await sql`DELETE FROM messages WHERE ts < ${checkPurgeTime(olderThan)}`;
      return result.count;
    });
  }

  async lastId(): Promise<number> {
    await this.settle();
    return await this.#ctx.run(async (sql) => {
      const [row] = await sql<{ id: string | null }[]>`SELECT max(id)::text AS id FROM messages`;
      return row?.id == null ? 0 : Number(row.id);
    });
  }

  /** Commits what is queued and waits for it; used at close. */
  settle(): Promise<void> {
    return this.#group.settle();
  }

  /** One batch in one transaction; each append refused alone gets its error. */
  async #commit(batch: readonly QueuedAppend[]): Promise<(unknown | undefined)[]> {
    const refused = new Map<QueuedAppend, unknown>();
    await this.#ctx.write((sql) =>
      sql.begin(async (tx) => {
        refused.clear();
        await this.#insertBatch(tx, batch, refused);
      })
    );
    return batch.map((append) => refused.get(append));
  }

  async #insertBatch(
    tx: Tx,
    batch: readonly QueuedAppend[],
    refused: Map<QueuedAppend, unknown>,
  ): Promise<void> {
    const keys = [
      ...new Set(batch.flatMap((p) => [loginKey(p.message.from), loginKey(p.message.to)])),
    ];
    const users = await tx<{ id: number; key: string; login: string }[]>`
      SELECT id, login_key AS key, login FROM users
      WHERE login_key IN (SELECT jsonb_array_elements_text(${tx.json(keys)}))`;
    const byKey = new Map(users.map((u) => [u.key, u]));
    const limited = [
      ...new Set(
        batch.filter((p) => !p.delivered && p.maxBacklog !== undefined)
          .map((p) => byKey.get(loginKey(p.message.to))?.id)
          .filter((id): id is number => id !== undefined),
      ),
    ].sort((a, b) => a - b);
    const waiting = new Map<number, number>();
    if (limited.length > 0) {
      // Recipients in id order, so that two nodes' batches cannot deadlock; the lock makes
      // the count and the insert one step for each recipient.
      await tx`SELECT id FROM users WHERE id = ANY(${intArray(limited)}::int8[])
        ORDER BY id FOR NO KEY UPDATE`;
      const counts = await tx<{ id: number; n: number }[]>`
        SELECT recipient_id AS id, count(*)::int4 AS n FROM messages
        WHERE state = 0 AND recipient_id = ANY(${intArray(limited)}::int8[])
        GROUP BY recipient_id`;
      for (const { id, n } of counts) waiting.set(id, n);
    }
    const rows = [];
    for (const pending of batch) {
      const { message } = pending;
      const sender = byKey.get(loginKey(message.from));
      const recipient = byKey.get(loginKey(message.to));
      if (!sender || !recipient) {
        const who = sender ? message.to : message.from;
        refused.set(pending, new JimError(Status.NOT_FOUND, `No such client: ${who}`));
        continue;
      }
      if (!pending.delivered && pending.maxBacklog !== undefined) {
        const n = waiting.get(recipient.id) ?? 0;
        if (n + 1 > pending.maxBacklog) {
          refused.set(pending, backlogFull(recipient.login, n));
          continue;
        }
        waiting.set(recipient.id, n + 1);
      }
      rows.push({
        id: message.id,
        ts: Math.trunc(message.ts),
        time: message.time,
        sender_id: sender.id,
        recipient_id: recipient.id,
        // JSON keeps every JIM text, U+0000 and lone surrogates included.
        body_json: JSON.stringify(message.message),
        state: pending.delivered ? 1 : 0,
      });
    }
    if (rows.length === 0) return;
    // An id stored already (an append retried after an unclear failure) changes nothing.
    await tx`INSERT INTO messages (id, ts, time, sender_id, recipient_id, body_json, state)
      SELECT id, ts, time, sender_id, recipient_id, body_json, state
      FROM jsonb_to_recordset(${tx.json(rows)}) AS r(id int8, ts int8,
        time float8, sender_id int8, recipient_id int8, body_json text, state int2)
      ON CONFLICT (id) DO NOTHING`;
  }

  async #visible(
    sql: Queryable,
    id: number,
    caller: number,
    peer: number | undefined,
  ): Promise<boolean> {
    const rows = peer === undefined
      ? await sql`SELECT 1 FROM messages WHERE id = ${id}
        AND (sender_id = ${caller} OR recipient_id = ${caller})`
      : await sql`SELECT 1 FROM messages WHERE id = ${id}
        AND ((sender_id = ${caller} AND recipient_id = ${peer})
          OR (sender_id = ${peer} AND recipient_id = ${caller}))`;
    return rows.length > 0;
  }

  /**
   * Up to `n` rows of the caller's conversations (with `peer`, or all), nearest the cursor
   * first: newest first for `before` and the latest page, oldest first for `after`. Each of
   * the two arms (sent, received) reads its own index in id order and stops at `n`.
   */
  #page(
    sql: Queryable,
    caller: number,
    peer: number | undefined,
    query: HistoryQuery,
    n: number,
  ): Promise<MessageRow[]> {
    const ascending = query.after !== undefined;
    const order = ascending ? sql`ORDER BY id ASC` : sql`ORDER BY id DESC`;
    const bound = query.before !== undefined
      ? sql`AND id < ${query.before}`
      : query.after !== undefined
      ? sql`AND id > ${query.after}`
      : sql``;
    const sent = peer === undefined
      ? sql`sender_id = ${caller}`
      : sql`sender_id = ${caller} AND recipient_id = ${peer}`;
    // A message to oneself is in the sent arm only.
    const received = peer === undefined
      ? sql`recipient_id = ${caller} AND sender_id <> ${caller}`
      : sql`recipient_id = ${caller} AND sender_id = ${peer} AND sender_id <> ${caller}`;
    return sql<MessageRow[]>`
      SELECT m.*, s.login AS sender, r.login AS recipient FROM (
        (SELECT * FROM messages WHERE ${sent} ${bound} ${order} LIMIT ${n})
        UNION ALL
        (SELECT * FROM messages WHERE ${received} ${bound} ${order} LIMIT ${n})
      ) m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id
      ${ascending ? sql`ORDER BY m.id ASC` : sql`ORDER BY m.id DESC`} LIMIT ${n}`;
  }
}
