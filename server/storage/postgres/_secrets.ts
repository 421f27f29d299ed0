/**
 * PostgreSQL server secrets: one row per name, shared by every node on the database, so that
 * each node derives the same decoy credentials for an unknown login.
 *
 * @module
 */
import type { SecretStore } from "../ports.ts";
import type { PgContext } from "./_client.ts";

/** The PostgreSQL {@linkcode SecretStore}. Created by `PostgresStorage`. */
export class PostgresSecrets implements SecretStore {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  get(name: string): Promise<Uint8Array> {
    return this.#ctx.run(async (sql) => {
      // Insert-if-absent, then read: nodes starting at once agree on one secret.
      const candidate = crypto.getRandomValues(new Uint8Array(32));
      await sql`INSERT INTO server_secrets (name, value) VALUES (${name}, ${candidate})
        ON CONFLICT (name) DO NOTHING`;
      const [row] = await sql<{ value: Uint8Array }[]>`
        SELECT value FROM server_secrets WHERE name = ${name}`;
      return new Uint8Array(row!.value);
    });
  }
}
