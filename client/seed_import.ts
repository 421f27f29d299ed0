/**
 * `jim-client import-seed`: a seed client's local database (contacts and message history)
 * into this client's {@linkcode History}. The seed's source is not available; the schema read
 * here is the reconstruction in tests/seed/make_seed_client_db.py and docs/client.md:
 *
 * ```sql
 * CREATE TABLE contacts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
 * CREATE TABLE message_history (
 *   id INTEGER PRIMARY KEY AUTOINCREMENT,
 *   from_user TEXT NOT NULL, to_user TEXT NOT NULL,
 *   message TEXT NOT NULL,
 *   date TEXT NOT NULL  -- str(datetime.now()): "2019-06-19 20:16:26.123456", local time
 * );
 * ```
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { isAccountName, sameLogin } from "../protocol/mod.ts";
import type { History } from "./history.ts";

/** One row that was not imported, and why. */
export interface SkippedRow {
  /** `contacts #3` or `message_history #7`. */
  row: string;
  reason: string;
}

/** What {@linkcode importSeedClient} did. */
export interface SeedImportReport {
  /** Messages added to the history. */
  added: number;
  /** Messages imported by an earlier run (or twice in the file), not added again. */
  duplicates: number;
  /** Contacts added to the mirror, to be added on the server at the next login. */
  contacts: number;
  /** Rows left out, with their reasons. */
  skipped: SkippedRow[];
}

/** The file is not a seed client's database, or cannot be read. */
export class SeedImportError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SeedImportError";
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * A seed `date` as milliseconds since the epoch: Python's `str(datetime.now())` in local
 * time ("2019-06-19 20:16:26.123456"), or Unix seconds as a number or numeric string.
 * Undefined when it is neither.
 *
 * @example
 * ```ts
 * import { parseSeedDate } from "./seed_import.ts";
 * parseSeedDate(1560964883); // 1560964883000
 * ```
 */
export function parseSeedDate(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) {
    return Math.round(value * 1000);
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseSeedDate(Number(text));
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as number[];
  const ms = Math.floor(Number((m[7] ?? "0").padEnd(6, "0")) / 1000);
  const date = new Date(y!, mo! - 1, d!, h!, mi!, s!, ms);
  // new Date() rolls 2019-02-31 over into March; such a date was never written by the seed.
  if (date.getMonth() !== mo! - 1 || date.getDate() !== d! || h! > 23 || mi! > 59 || s! > 59) {
    return undefined;
  }
  return date.getTime();
}

async function rowKey(parts: unknown[], occurrence: number): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(parts));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `seed:${hex}:${occurrence}`;
}

function tableNames(db: DatabaseSync): Set<string> {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
    name: string;
  }[];
  return new Set(rows.map((r) => r.name));
}

/**
 * Imports the seed client database at `path`, whose owner is `owner`, into `history`, in one
 * transaction. A message is added once: importing the same file again adds nothing (each
 * message is keyed by its sender, recipient, text and date, and its place among identical
 * ones). Messages the owner sent become outgoing and delivered, the others incoming and read;
 * rows of other conversations, with invalid logins, dates or texts are skipped and reported.
 * Contacts go into the mirror and are added on the server at the next login (the server's
 * list stays the source of truth).
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * import { importSeedClient } from "./seed_import.ts";
 * using history = History.open({ path: ":memory:" });
 * const report = await importSeedClient("client_Client5.db", "Client5", history);
 * console.log(report.added, report.skipped);
 * ```
 * @throws {SeedImportError} when the file cannot be opened or lacks the seed's tables;
 *   nothing is imported then.
 */
export async function importSeedClient(
  path: string,
  owner: string,
  history: History,
): Promise<SeedImportReport> {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch (cause) {
    throw new SeedImportError(`Cannot open ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    let tables: Set<string>;
    try {
      tables = tableNames(db);
    } catch (cause) {
      throw new SeedImportError(`Cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
    for (const table of ["message_history", "contacts"]) {
      if (!tables.has(table)) {
        throw new SeedImportError(`Not a seed client database: ${path} has no table ${table}`);
      }
    }
    const report: SeedImportReport = { added: 0, duplicates: 0, contacts: 0, skipped: [] };
    let messages: Record<string, unknown>[];
    let contacts: Record<string, unknown>[];
    try {
      messages = db.prepare(
        "SELECT id, from_user, to_user, message, date FROM message_history ORDER BY id",
      ).all() as Record<string, unknown>[];
      contacts = db.prepare("SELECT id, name FROM contacts ORDER BY id").all() as Record<
        string,
        unknown
      >[];
    } catch (cause) {
      throw new SeedImportError(
        `Not a seed client database: ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
    // Keys first (hashing is async), then one synchronous transaction.
    const seen = new Map<string, number>();
    const rows: { key: string; message: Parameters<History["importMessage"]>[0] }[] = [];
    for (const row of messages) {
      const where = `message_history #${String(row.id)}`;
      const { from_user: from, to_user: to, message: text, date } = row;
      const skip = (reason: string) => report.skipped.push({ row: where, reason });
      if (!isAccountName(from) || !isAccountName(to)) {
        skip("from_user and to_user must be logins");
        continue;
      }
      const out = sameLogin(from, owner);
      if (!out && !sameLogin(to, owner)) {
        skip(`not a conversation of ${owner}`);
        continue;
      }
      if (typeof text !== "string" || text === "") {
        skip("message must be text");
        continue;
      }
      const time = parseSeedDate(date);
      if (time === undefined) {
        skip(`invalid date ${JSON.stringify(String(date)).slice(0, 60)}`);
        continue;
      }
      const parts = [from, to, text, String(date)];
      const id = JSON.stringify(parts);
      const occurrence = (seen.get(id) ?? 0) + 1;
      seen.set(id, occurrence);
      rows.push({
        key: await rowKey(parts, occurrence),
        message: {
          contact: out ? to : from,
          direction: out ? "out" : "in",
          text,
          time,
          status: out ? "delivered" : "read",
        },
      });
    }
    history.transaction(() => {
      for (const { key, message } of rows) {
        if (history.importMessage(message, key)) report.added++;
        else report.duplicates++;
      }
      for (const row of contacts) {
        const login = row.name;
        if (!isAccountName(login)) {
          report.skipped.push({
            row: `contacts #${String(row.id)}`,
            reason: "name must be a login",
          });
          continue;
        }
        if (sameLogin(login, owner) || history.hasContact(login)) continue;
        history.addContact(login);
        history.addPendingContact(login);
        report.contacts++;
      }
    });
    return report;
  } finally {
    db.close();
  }
}
