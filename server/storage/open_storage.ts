/**
 * The one way the programs open storage: a database spec is a file path (SQLite) or a
 * `postgres://` URL (PostgreSQL), for every command that takes `--db`. The PostgreSQL adapter
 * and its client library load only when a URL asks for them.
 *
 * A URL may carry a password; {@linkcode describeDatabase} gives the form that logs, settings
 * lines and error messages show, with the password hidden.
 *
 * @module
 */
import type { Storage } from "./ports.ts";
import { SqliteStorage } from "./sqlite/mod.ts";

/** PostgreSQL connections in a pool unless told otherwise (`--db-pool`). */
export const DEFAULT_POOL_SIZE = 10;

/** Options for {@linkcode openStorage}. */
export interface OpenStorageOptions {
  /** PostgreSQL connections in the pool (10 by default); refused for SQLite. */
  pool?: number;
}

/** The PostgreSQL adapter's module: its type is checked, its code loads only for a URL. */
const POSTGRES_MODULE: string = new URL("./postgres/mod.ts", import.meta.url).href;
type PostgresModule = typeof import("./postgres/mod.ts");

/** Whether `spec` names a PostgreSQL database (`postgres://` or `postgresql://`). */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** Query parameters of a connection URL that hold secrets. */
const SECRET_PARAMS = /pass|secret|key/i;

/**
 * `spec` as it may be shown: a path as it is, a URL with its password (and any secret query
 * parameter) replaced by `***`. A URL that does not parse is shown as its scheme only.
 *
 * @example
 * ```ts
 * import { describeDatabase } from "./open_storage.ts";
 * describeDatabase("postgres://jim:s3cret@db:5432/jim"); // "postgres://jim:***@db:5432/jim"
 * ```
 */
export function describeDatabase(spec: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  if (!scheme) return spec;
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    return `${scheme[1]}://***`;
  }
  if (url.password !== "") url.password = "***";
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) url.searchParams.set(name, "***");
  }
  // URL encodes the asterisks it was given; show them as typed.
  return url.href.replaceAll("%2A%2A%2A", "***").replaceAll("%2a%2a%2a", "***");
}

/**
 * Opens the storage `spec` names: SQLite for a file path, PostgreSQL for a `postgres://` URL
 * (migrated under an advisory lock). The caller closes it.
 *
 * @throws {RangeError} for a `pool` with SQLite or out of range; {Error} "Cannot open
 *   database SPEC: …" (password hidden) when it cannot be opened.
 * @example
 * ```ts
 * import { openStorage } from "./open_storage.ts";
 * await using storage = await openStorage(":memory:");
 * console.log(await storage.users.count()); // 0
 * ```
 */
export async function openStorage(
  spec: string,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  const postgres = isPostgresUrl(spec);
  if (!postgres && /^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new Error(
      `Cannot open database ${describeDatabase(spec)}: use a file path or a postgres:// URL`,
    );
  }
  if (!postgres && options.pool !== undefined) {
    throw new RangeError("Invalid pool size: a pool is for a postgres:// database only");
  }
  const shown = describeDatabase(spec);
  if (postgres && !URL.canParse(spec)) {
    // Say nothing more: a parser's message would quote the URL, password and all.
    throw new Error(`Cannot open database ${shown}: not a valid URL`);
  }
  try {
    if (!postgres) return SqliteStorage.open(spec);
    const { PostgresStorage }: PostgresModule = await import(POSTGRES_MODULE);
    return await PostgresStorage.open(spec, { pool: options.pool });
  } catch (error) {
    if (error instanceof RangeError) throw error;
    const detail = hideSecrets(error instanceof Error ? error.message : String(error), spec);
    throw new Error(`Cannot open database ${shown}: ${detail}`, { cause: error });
  }
}

/** `text` with the password of the URL `spec`, as typed or decoded, replaced by `***`. */
function hideSecrets(text: string, spec: string): string {
  if (!URL.canParse(spec)) return text;
  const url = new URL(spec);
  const secrets = [
    url.password,
    ...[...url.searchParams].filter(([k]) => SECRET_PARAMS.test(k)).map(([, v]) => v),
  ]
    .flatMap((s) => [s, safeDecode(s)])
    .filter((s) => s.length > 0);
  for (const secret of secrets) text = text.replaceAll(secret, "***");
  return text;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
