/**
 * What a command that runs the chat server (`jim-server serve`, `jim-server gui`) takes from
 * the machine before it starts: the TLS files, the database, and the signals that stop it.
 *
 * @module
 */
import type { TlsOptions } from "./server.ts";
import { openStorage } from "./storage/open_storage.ts";
import type { Storage } from "./storage/ports.ts";

/** The signals that stop a running server gracefully; Windows has only SIGINT. */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** Where the server's files are. */
export interface ServeFiles {
  /** The database: a file path (SQLite) or a `postgres://` URL. */
  db: string;
  /** PostgreSQL connections in the pool; only with a `postgres://` database. */
  dbPool?: number;
  /** PEM certificate chain; TLS needs both this and `tlsKey`. */
  tlsCert?: string;
  /** PEM private key. */
  tlsKey?: string;
}

/**
 * Reads the TLS files (when both are given), then opens the database with `openStorage()`;
 * the caller closes the storage. Failures are one-line errors naming what could not be read,
 * with any password in a database URL hidden.
 *
 * @throws {Error} "Cannot read TLS files: …" or "Cannot open database SPEC: …".
 * @example
 * ```ts
 * import { openServeResources } from "./serve_resources.ts";
 * const { storage, tls } = await openServeResources({ db: "jim-server.db" });
 * console.log(tls === undefined); // true: plain TCP
 * await storage.close();
 * ```
 */
export async function openServeResources(
  files: ServeFiles,
): Promise<{ storage: Storage; tls: TlsOptions | undefined }> {
  let tls: TlsOptions | undefined;
  if (files.tlsCert && files.tlsKey) {
    try {
      tls = {
        cert: await Deno.readTextFile(files.tlsCert),
        key: await Deno.readTextFile(files.tlsKey),
      };
    } catch (error) {
      throw new Error(`Cannot read TLS files: ${error instanceof Error ? error.message : error}`, {
        cause: error,
      });
    }
  }
  const pool = files.dbPool === undefined ? {} : { pool: files.dbPool };
  return { storage: await openStorage(files.db, pool), tls };
}
