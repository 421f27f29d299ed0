/**
 * Accounts from an administrator's side: adding a user and setting a password. The password
 * is checked and derived here (PBKDF2 for SCRAM, and the seed's hash when asked for), so that
 * no password ever reaches a storage adapter; {@linkcode UserStore} receives only derived
 * credentials.
 *
 * @module
 */
import {
  deriveScramCredentials,
  JimError,
  legacyStoredHash,
  MAX_PASSWORD_LENGTH,
  Status,
} from "../protocol/mod.ts";
import type { StoredCredentials, UserRow, UserStore } from "./storage/ports.ts";

/** Longest accepted password, in UTF-16 units: the protocol's one limit. */
export { MAX_PASSWORD_LENGTH };

/** Options for setting a password. */
export interface PasswordOptions {
  /**
   * Also store the seed's legacy hash (password-equivalent). For {@linkcode setPassword} it
   * defaults to keeping the user's current choice.
   */
  legacy?: boolean;
  /** PBKDF2 iteration count; 600,000 by default. */
  iterations?: number;
}

/**
 * Refuses an empty or overlong password.
 *
 * @throws {JimError} 400 "Invalid password: must not be empty" or "... exceeds N characters".
 * @example
 * ```ts
 * import { checkPassword } from "./accounts.ts";
 * checkPassword("s3cret"); // fine
 * ```
 */
export function checkPassword(password: string): void {
  if (typeof password !== "string" || password.length === 0) {
    throw new JimError(Status.BAD_REQUEST, "Invalid password: must not be empty");
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new JimError(
      Status.BAD_REQUEST,
      `Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
}

/**
 * What storage keeps for `password`: fresh SCRAM-SHA-256 credentials with a random salt, and
 * the seed's hash when `legacy`.
 *
 * @throws {JimError} 400 for a password {@linkcode checkPassword} refuses.
 * @example
 * ```ts
 * import { deriveCredentials } from "./accounts.ts";
 * const credentials = await deriveCredentials("s3cret", { iterations: 4096 });
 * console.log(credentials.scram.salt.length, credentials.legacyHash); // 16 null
 * ```
 */
export async function deriveCredentials(
  password: string,
  options: PasswordOptions = {},
): Promise<StoredCredentials> {
  checkPassword(password);
  const scram = await deriveScramCredentials(password, { iterations: options.iterations });
  const legacyHash = options.legacy ? await legacyStoredHash(password) : null;
  return { scram, legacyHash };
}

/**
 * Adds a user with a password. The name is checked before the (slow) derivation, and again
 * by the store when it inserts.
 *
 * @throws {JimError} 400 for a bad login or password; 409 when the login or a look-alike exists.
 * @example
 * ```ts
 * import { addUser } from "./accounts.ts";
 * import { SqliteStorage } from "./storage/sqlite/mod.ts";
 * await using storage = SqliteStorage.open(":memory:");
 * const row = await addUser(storage.users, "alice", "s3cret", { iterations: 4096 });
 * console.log(row.login); // "alice"
 * ```
 */
export async function addUser(
  users: UserStore,
  login: string,
  password: string,
  options: PasswordOptions = {},
): Promise<UserRow> {
  await users.checkNewLogin(login);
  return await users.add(login, await deriveCredentials(password, options));
}

/**
 * Replaces a user's password; the legacy hash is kept or dropped per `options.legacy`,
 * defaulting to what the user had.
 *
 * @throws {JimError} 404 when the user does not exist, 400 for a bad password.
 * @example
 * ```ts
 * import { addUser, setPassword } from "./accounts.ts";
 * import { SqliteStorage } from "./storage/sqlite/mod.ts";
 * await using storage = SqliteStorage.open(":memory:");
 * await addUser(storage.users, "alice", "old", { iterations: 4096 });
 * await setPassword(storage.users, "alice", "new", { iterations: 4096 });
 * ```
 */
export async function setPassword(
  users: UserStore,
  login: string,
  password: string,
  options: PasswordOptions = {},
): Promise<void> {
  checkPassword(password);
  const user = await users.get(login);
  if (!user) throw new JimError(Status.NOT_FOUND, `No such client: ${login}`);
  const legacy = options.legacy ?? user.legacy;
  await users.setCredentials(login, await deriveCredentials(password, { ...options, legacy }));
}
