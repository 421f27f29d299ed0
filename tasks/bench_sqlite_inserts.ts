/**
 * What storing a message costs in SQLite through `node:sqlite`, per row, away from the server:
 * the figures behind the write path of `server/storage/sqlite/_messages.ts`
 * (docs/benchmarks.md, "Staging what a session took" and "Indexing in batches"). Rows go to
 * 40 conversations in turn, as 20 chatting pairs would, into a WAL file with the server's
 * pragmas and the indexes of the messages table. CPU per row comes from `process.cpuUsage()`.
 *
 * - `direct`: one INSERT per row into the indexed table, as before the staging table.
 * - `batched`: schema 8, as the server does now: one INSERT per 64 rows into the table, which
 *   has no conversation index; every `--move` rows the index table is extended from the tail.
 * - `staged`: schema 7, one INSERT per 64 rows into an unindexed copy, moved to the indexed
 *   table every `--move` rows.
 * - `v6`: `staged` into schema 6's table: four indexes and two foreign keys, as before
 *   schema 7 kept one index per message.
 * - `bare`: one INSERT per 64 rows into the table with no secondary index at all.
 *
 * Not part of `deno task test`; run it by hand, pinned to one core:
 *
 *     taskset -c 0 deno run --allow-all tasks/bench_sqlite_inserts.ts [--batch 25]
 *         [--rows 60000] [--move 1024] [--only direct,batched,staged,v6,bare]
 *
 * @module
 */
import process from "node:process";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { parseArgs } from "node:util";

type Mode = "direct" | "batched" | "staged" | "v6" | "bare";

const COLUMNS = `id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, time REAL NOT NULL,
  sender_id INTEGER NOT NULL, recipient_id INTEGER NOT NULL,
  body_json TEXT NOT NULL, state INTEGER NOT NULL`;
const COLUMNS_V6 = COLUMNS.replace(
  /(sender_id|recipient_id) INTEGER NOT NULL/g,
  "$1 INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE",
);
const BODY = JSON.stringify("hello there, this is a ping-pong message of some length");

/** CPU µs per row of `rows` rows in commits of `batch`, after a warm-up of 4,000 rows. */
function measure(mode: Mode, batch: number, rows: number, moveEvery: number): number {
  const dir = Deno.makeTempDirSync({ prefix: "jim-bench-sqlite-" });
  const db = new DatabaseSync(`${dir}/bench.db`);
  try {
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
      PRAGMA temp_store = MEMORY`);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT NOT NULL) STRICT");
    const user = db.prepare("INSERT INTO users (login) VALUES (?)");
    for (let i = 0; i < 40; i++) user.run(`p${i}`);
    const columns = mode === "v6" ? COLUMNS_V6 : COLUMNS;
    db.exec(`CREATE TABLE messages (${columns}) STRICT`);
    db.exec(`CREATE TABLE messages_recent (${columns}) STRICT`);
    if (mode !== "bare" && mode !== "batched") {
      db.exec("CREATE INDEX messages_conversation ON messages(sender_id, recipient_id, id)");
    }
    if (mode !== "bare") {
      db.exec(`CREATE INDEX messages_undelivered ON messages(recipient_id, id) WHERE state = 0;
        CREATE INDEX messages_ts ON messages(ts)`);
    }
    if (mode === "v6") db.exec("CREATE INDEX messages_received ON messages(recipient_id, id)");
    db.exec(`CREATE TABLE message_index (sender_id INTEGER NOT NULL,
      recipient_id INTEGER NOT NULL, id INTEGER NOT NULL,
      PRIMARY KEY (sender_id, recipient_id, id)) STRICT, WITHOUT ROWID`);
    const extendIndex = db.prepare(
      `INSERT OR IGNORE INTO message_index SELECT sender_id, recipient_id, id FROM messages
       WHERE id > ? ORDER BY sender_id, recipient_id, id`,
    );
    let indexedUpTo = 0;
    db.exec(`CREATE TABLE conversations (user_id INTEGER NOT NULL, peer_id INTEGER NOT NULL,
      PRIMARY KEY (user_id, peer_id)) STRICT, WITHOUT ROWID`);
    const table = mode === "staged" || mode === "v6" ? "messages_recent" : "messages";
    const statements = new Map<number, StatementSync>();
    const insert = (size: number) => {
      let statement = statements.get(size);
      if (!statement) {
        const values = Array.from({ length: size }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ");
        statement = db.prepare(`INSERT INTO ${table} VALUES ${values}`);
        statements.set(size, statement);
      }
      return statement;
    };
    const listConversation = db.prepare(
      `INSERT OR IGNORE INTO conversations (user_id, peer_id)
       SELECT a, b FROM (SELECT ?1 AS a, ?2 AS b UNION ALL SELECT ?2, ?1)
       WHERE EXISTS (SELECT 1 FROM ${mode === "batched" ? "message_index" : "messages"}
         WHERE sender_id = ?1 AND recipient_id = ?2)`,
    );
    let id = 1;
    let staged = 0;
    const commit = (n: number) => {
      db.exec("BEGIN IMMEDIATE");
      for (let left = n; left > 0;) {
        const size = mode === "direct" ? 1 : left >= 64 ? 64 : left >= 16 ? 16 : left >= 4 ? 4 : 1;
        const values: SQLInputValue[] = [];
        for (let i = 0; i < size; i++, id++) {
          const sender = (id % 40) + 1;
          const recipient = sender % 2 ? sender + 1 : sender - 1;
          values.push(id, Date.now(), 1.5, sender, recipient, BODY, 1);
        }
        insert(size).run(...values);
        left -= size;
      }
      db.exec("COMMIT");
      staged += n;
      if ((mode === "staged" || mode === "v6") && staged >= moveEvery) {
        db.exec("BEGIN IMMEDIATE; INSERT INTO messages SELECT * FROM messages_recent ORDER BY id");
        // Schema 7 also lists the conversations of what moved, one statement per conversation
        // that the appends saw.
        if (mode !== "v6") {
          for (let s = 1; s <= 40; s++) listConversation.run(s, s % 2 ? s + 1 : s - 1);
        }
        db.exec("DELETE FROM messages_recent; COMMIT");
        staged = 0;
      }
      if (mode === "batched" && staged >= moveEvery) {
        db.exec("BEGIN IMMEDIATE");
        extendIndex.run(indexedUpTo);
        for (let s = 1; s <= 40; s++) listConversation.run(s, s % 2 ? s + 1 : s - 1);
        indexedUpTo = id - 1;
        db.exec("COMMIT");
        staged = 0;
      }
    };
    for (let done = 0; done < 4000; done += batch) commit(batch);
    const before = process.cpuUsage();
    for (let done = 0; done < rows; done += batch) commit(batch);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / rows;
  } finally {
    db.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batch: { type: "string", default: "25" },
      rows: { type: "string", default: "60000" },
      move: { type: "string", default: "1024" },
      only: { type: "string", default: "direct,batched,staged,v6,bare" },
    },
  });
  const batch = Math.max(1, Number(values.batch));
  const rows = Math.max(batch, Number(values.rows));
  const move = Math.max(1, Number(values.move));
  console.log("| how | rows per commit | CPU per row |\n| --- | ---: | ---: |");
  for (const mode of values.only.split(",") as Mode[]) {
    const micros = measure(mode, batch, rows, move);
    console.log(`| ${mode} | ${batch} | ${micros.toFixed(1)} µs |`);
  }
}
