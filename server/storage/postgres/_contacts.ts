/**
 * PostgreSQL contact lists. Adding takes a lock on the owner's row first, so that the count
 * and the insert are one step even when several nodes add contacts for the same owner.
 *
 * @module
 */
import { JimError, loginKey, Status } from "../../../protocol/mod.ts";
import type { ContactStore } from "../ports.ts";
import type { PgContext, Queryable } from "./_client.ts";
import { noSuchClient } from "./_users.ts";

interface Pair {
  ownerId: number;
  contactId: number;
  /** The contact's login in display case. */
  contact: string;
}

/** The PostgreSQL {@linkcode ContactStore}. Created by `PostgresStorage`. */
export class PostgresContacts implements ContactStore {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  list(owner: string): Promise<string[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<{ login: string }[]>`
        SELECT c.login FROM users o JOIN contacts k ON k.owner_id = o.id
        JOIN users c ON c.id = k.contact_id
        WHERE o.login_key = ${loginKey(owner)} ORDER BY c.login_key`;
      return rows.map((row) => row.login);
    });
  }

  add(owner: string, contact: string, options: { max?: number } = {}): Promise<string> {
    return this.#ctx.run((sql) =>
      sql.begin(async (tx) => {
        const pair = await this.#pair(tx, owner, contact, { lock: true });
        const max = options.max ?? Number.MAX_SAFE_INTEGER;
        const [row] = await tx<{ n: number; has: boolean }[]>`
          SELECT count(*) AS n, coalesce(bool_or(contact_id = ${pair.contactId}), false) AS has
          FROM contacts WHERE owner_id = ${pair.ownerId}`;
        if (row!.has) throw new JimError(Status.CONFLICT, `Client already in contacts: ${contact}`);
        if (row!.n >= max) {
          throw new JimError(Status.FORBIDDEN, `Too many contacts: the limit is ${max}`);
        }
        await tx`INSERT INTO contacts (owner_id, contact_id, added)
          VALUES (${pair.ownerId}, ${pair.contactId}, ${Date.now()})`;
        return pair.contact;
      })
    );
  }

  remove(owner: string, contact: string): Promise<string> {
    return this.#ctx.run(async (sql) => {
      const pair = await this.#pair(sql, owner, contact, { lock: false });
      const result = await sql`DELETE FROM contacts
        WHERE owner_id = ${pair.ownerId} AND contact_id = ${pair.contactId}`;
      if (result.count === 0) {
        throw new JimError(Status.NOT_FOUND, `Client not in contacts: ${contact}`);
      }
      return pair.contact;
    });
  }

  /**
   * Both rows, owner first for the 404. With `lock`, the owner's row is locked until the
   * transaction ends (FOR NO KEY UPDATE: it does not hold up inserts that only reference it).
   */
  async #pair(
    sql: Queryable,
    owner: string,
    contact: string,
    options: { lock: boolean },
  ): Promise<Pair> {
    const ownerKey = loginKey(owner);
    const [ownerRow] = options.lock
      ? await sql<{ id: number }[]>`
        SELECT id FROM users WHERE login_key = ${ownerKey} FOR NO KEY UPDATE`
      : await sql<{ id: number }[]>`SELECT id FROM users WHERE login_key = ${ownerKey}`;
    if (!ownerRow) throw noSuchClient(owner);
    const [contactRow] = await sql<{ id: number; login: string }[]>`
      SELECT id, login FROM users WHERE login_key = ${loginKey(contact)}`;
    if (!contactRow) throw noSuchClient(contact);
    return { ownerId: ownerRow.id, contactId: contactRow.id, contact: contactRow.login };
  }
}
