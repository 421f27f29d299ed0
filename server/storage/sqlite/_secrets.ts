/**
 * SQLite server secrets.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { SecretStore } from "../ports.ts";
import { settle } from "./_sql.ts";

/** The SQLite {@linkcode SecretStore}. Created by `SqliteStorage`. */
export class SqliteSecrets implements SecretStore {
  readonly #insert: StatementSync;
  readonly #select: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      "INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
    this.#select = db.prepare("SELECT value FROM server_secrets WHERE name = ?");
  }

  get(name: string): Promise<Uint8Array> {
    return settle(() => {
      // Insert-if-absent, then read: two processes starting at once agree on one secret.
      this.#insert.run(name, crypto.getRandomValues(new Uint8Array(32)));
      return new Uint8Array(this.#select.get(name)!.value as Uint8Array);
    });
  }
}
