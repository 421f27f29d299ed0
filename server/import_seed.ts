/**
 * `jim-server import-seed FILE`: users and contacts from the seed server's SQLite database.
 *
 * The seed stores for each user the hex of PBKDF2-HMAC-SHA256 over the password with one
 * fixed salt (see protocol/legacy.ts): password-equivalent, and exactly what jim keeps as a
 * user's legacy hash. An imported user therefore gets that hash and SCRAM credentials that no
 * proof matches (a random salt and keys, the default iteration count, so that before a proof
 * the account looks like any other): they log in with the seed's HMAC-MD5 login (the server
 * needs `--legacy-auth`) until an administrator sets a password with `jim-server user passwd`.
 *
 * The seed's schema (tests/seed/make_seed_server_db.py, our reconstruction: the seed's source
 * is not available): `users(id, login, password_hash, ...)` and
 * `contacts(owner_id, contact_id)`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { DEFAULT_ITERATIONS, JimError, loginKey, Status } from "../protocol/mod.ts";
import type { ScramCredentials } from "../protocol/mod.ts";
import type { Storage } from "./storage/ports.ts";

/** A row left out, and why. */
export interface SkippedSeedRow {
  /** Where: `users #3 (bob)`, `contacts #7`. */
  row: string;
  /** Why, in a sentence. */
  reason: string;
}

/** What an import did. */
export interface SeedServerImportReport {
  /** Users added, flagged legacy. */
  usersAdded: string[];
  /** Users an earlier run imported (the same login with the same seed hash): unchanged. */
  usersThere: number;
  /** Contacts added. */
  contactsAdded: number;
  /** Contacts already in the list. */
  contactsThere: number;
  /** Rows left out, with their reasons. */
  skipped: SkippedSeedRow[];
}

/** The file is not a seed server's database, or cannot be read; nothing was imported. */
export class SeedImportError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SeedImportError";
  }
}

const HASH = /^[0-9a-f]{64}$/i;

/** Credentials no SCRAM proof matches, shaped like a real user's. */
function unusableScram(): ScramCredentials {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  return {
    salt: random(16),
    iterations: DEFAULT_ITERATIONS,
    storedKey: random(32),
    serverKey: random(32),
  };
}

function columns(db: DatabaseSync, table: string): Set<string> {
  // The name is one of two constants of ours, never input; PRAGMA takes no parameters.
  const rows = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/** What a seed server database holds for the import: its users and contact rows. */
export interface SeedServerData {
  /** The file it was read from. */
  readonly path: string;
  /** Rows of `users`: id, login, password_hash, as stored. */
  readonly users: readonly Readonly<Record<string, unknown>>[];
  /** Rows of `contacts`, with both logins looked up: id, owner, contact. */
  readonly contacts: readonly Readonly<Record<string, unknown>>[];
}

/**
 * Opens the seed server database at `path` read-only, checks that it is one, and reads what
 * the import needs: before anything is opened for writing.
 *
 * @example
 * ```ts ignore
 * import { readSeedServer } from "./import_seed.ts";
 * const seed = readSeedServer("server.db");
 * console.log(seed.users.length);
 * ```
 * @throws {SeedImportError} when the file cannot be opened, is not SQLite or is damaged, or
 *   lacks the seed's tables.
 */
export function readSeedServer(path: string): SeedServerData {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch (cause) {
    throw new SeedImportError(`Cannot open ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    let users: Set<string>;
    let contacts: Set<string>;
    let tables: Set<string>;
    try {
      tables = new Set(
        (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
          name: string;
        }[]).map((r) => r.name),
      );
      users = columns(db, "users");
      contacts = columns(db, "contacts");
    } catch (cause) {
      throw new SeedImportError(
        `Cannot import ${path}: not an SQLite database, or a damaged one (${
          (cause as Error).message
        })`,
        { cause },
      );
    }
    if (tables.has("message_history") && !tables.has("users")) {
      throw new SeedImportError(
        `Not a seed server database: ${path} is a seed client's; use jim-client import-seed`,
      );
    }
    const want: [string, Set<string>, string[]][] = [
      ["users", users, ["id", "login", "password_hash"]],
      ["contacts", contacts, ["owner_id", "contact_id"]],
    ];
    for (const [table, have, needed] of want) {
      const missing = needed.filter((c) => !have.has(c));
      if (missing.length > 0) {
        throw new SeedImportError(
          `Not a seed server database: ${path} has no ${
            have.size === 0 ? `table ${table}` : `column ${missing.join(", ")} in ${table}`
          }`,
        );
      }
    }
    try {
      return {
        path,
        users: db.prepare("SELECT id, login, password_hash FROM users ORDER BY id").all(),
        contacts: db.prepare(
          `SELECT k.rowid AS id, o.login AS owner, c.login AS contact FROM contacts k
           LEFT JOIN users o ON o.id = k.owner_id LEFT JOIN users c ON c.id = k.contact_id
           ORDER BY k.rowid`,
        ).all(),
      };
    } catch (cause) {
      throw new SeedImportError(`Cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
  } finally {
    db.close();
  }
}

/**
 * Imports what {@linkcode readSeedServer} read into `storage`. Idempotent: a user imported
 * before (same login, same seed hash) is left as it is, a contact already there too. A login
 * that exists in jim with other credentials is never touched; rows with a login the name
 * rules refuse, a malformed hash or a contact pointing at no user are skipped and reported.
 *
 * @example
 * ```ts ignore
 * import { importSeedServer, readSeedServer } from "./import_seed.ts";
 * const report = await importSeedServer(readSeedServer("server.db"), storage);
 * console.log(report.usersAdded, report.skipped);
 * ```
 */
export async function importSeedServer(
  seed: SeedServerData,
  storage: Storage,
): Promise<SeedServerImportReport> {
  const report: SeedServerImportReport = {
    usersAdded: [],
    usersThere: 0,
    contactsAdded: 0,
    contactsThere: 0,
    skipped: [],
  };
  /** Keys of the seed's users that are in jim as the seed had them. */
  const owners = new Set<string>();
  for (const user of seed.users) {
    const where = `users #${String(user.id)}`;
    const skip = (reason: string) => report.skipped.push({ row: where, reason });
    const { login, password_hash: hash } = user;
    if (typeof login !== "string" || login === "") {
      skip("login must be text");
      continue;
    }
    const name = `${where} (${login.slice(0, 40)})`;
    if (typeof hash !== "string" || !HASH.test(hash)) {
      report.skipped.push({ row: name, reason: "password_hash must be 64 hex characters" });
      continue;
    }
    const legacyHash = hash.toLowerCase();
    const existing = await storage.users.credentials(login);
    if (existing) {
      if (existing.legacyHash === legacyHash) {
        report.usersThere++;
        owners.add(loginKey(login));
      } else {
        report.skipped.push({
          row: name,
          reason: `${existing.login} exists with other credentials: kept as it is`,
        });
      }
      continue;
    }
    try {
      const row = await storage.users.add(login, { scram: unusableScram(), legacyHash });
      report.usersAdded.push(row.login);
      owners.add(loginKey(login));
    } catch (error) {
      if (!(error instanceof JimError) || error.code >= 500) throw error;
      report.skipped.push({ row: name, reason: error.message });
    }
  }
  for (const contact of seed.contacts) {
    const where = `contacts #${String(contact.id)}`;
    const { owner, contact: login } = contact;
    if (typeof owner !== "string" || typeof login !== "string") {
      report.skipped.push({ row: where, reason: "owner_id and contact_id must name users" });
      continue;
    }
    // Both sides must be the seed's users: a jim account that only shares a name is not.
    const missing = [owner, login].find((l) => !owners.has(loginKey(l)));
    if (missing !== undefined) {
      report.skipped.push({ row: where, reason: `${missing} was not imported` });
      continue;
    }
    try {
      await storage.contacts.add(owner, login);
      report.contactsAdded++;
    } catch (error) {
      if (error instanceof JimError && error.code === Status.CONFLICT) {
        report.contactsThere++;
      } else if (error instanceof JimError && error.code < 500) {
        report.skipped.push({ row: where, reason: error.message });
      } else {
        throw error;
      }
    }
  }
  return report;
}
