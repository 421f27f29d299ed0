/**
 * What a command that runs the chat server (`jim-server serve`, `jim-server gui`) takes from
 * the machine before it starts: the TLS files, the database, and the signals that stop it.
 *
 * @module
 */
import type { TlsOptions } from "./server.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";

/** The signals that stop a running server gracefully; Windows has only SIGINT. */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** Where the server's files are. */
export interface ServeFiles {
  /** The database path. */
  db: string;
  /** PEM certificate chain; TLS needs both this and `tlsKey`. */
  tlsCert?: string;
  /** PEM private key. */
  tlsKey?: string;
}

/**
 * Reads the TLS files (when both are given), then opens the database; the caller closes the
 * storage. Failures are one-line errors naming what could not be read.
 *
 * @throws {Error} "Cannot read TLS files: …" or "Cannot open database PATH: …".
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
): Promise<{ storage: SqliteStorage; tls: TlsOptions | undefined }> {
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
  try {
    return { storage: SqliteStorage.open(files.db), tls };
  } catch (error) {
    throw new Error(
      `Cannot open database ${files.db}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}
