/**
 * SQLite contact lists.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { JimError, loginKey, Status } from "../../../protocol/mod.ts";
import type { ContactStore } from "../ports.ts";
import { settle } from "./_sql.ts";

function noSuchClient(login: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such client: ${login}`);
}

/** The SQLite {@linkcode ContactStore}. Created by `SqliteStorage`. */
export class SqliteContacts implements ContactStore {
  readonly #q: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#q = prepare(db);
  }

  list(owner: string): Promise<string[]> {
    return settle(() => this.#q.contactsOf.all(loginKey(owner)).map((row) => row.login as string));
  }

  add(owner: string, contact: string, options: { max?: number } = {}): Promise<string> {
    return settle(() => {
      const [ownerId, contactRow] = this.#pair(owner, contact);
      const contactId = contactRow.id as number;
      const max = options.max ?? Number.MAX_SAFE_INTEGER;
      // One statement: the count and the insert cannot be split by another writer.
      const result = this.#q.insertContact.run(ownerId, contactId, Date.now(), ownerId, max);
      if (result.changes === 0) {
        if (this.#q.hasContact.get(ownerId, contactId)) {
          throw new JimError(Status.CONFLICT, `Client already in contacts: ${contact}`);
        }
        throw new JimError(Status.FORBIDDEN, `Too many contacts: the limit is ${max}`);
      }
      return contactRow.login as string;
    });
  }

  remove(owner: string, contact: string): Promise<string> {
    return settle(() => {
      const [ownerId, contactRow] = this.#pair(owner, contact);
      const result = this.#q.deleteContact.run(ownerId, contactRow.id as number);
      if (result.changes === 0) {
        throw new JimError(Status.NOT_FOUND, `Client not in contacts: ${contact}`);
      }
      return contactRow.login as string;
    });
  }

  #pair(owner: string, contact: string): [number, Record<string, unknown>] {
    const ownerRow = this.#q.loginByKey.get(loginKey(owner));
    if (!ownerRow) throw noSuchClient(owner);
    const contactRow = this.#q.loginByKey.get(loginKey(contact));
    if (!contactRow) throw noSuchClient(contact);
    return [ownerRow.id as number, contactRow];
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    loginByKey: p("SELECT id, login FROM users WHERE login_key = ?"),
    contactsOf: p(
      `SELECT c.login FROM users o JOIN contacts k ON k.owner_id = o.id
       JOIN users c ON c.id = k.contact_id WHERE o.login_key = ? ORDER BY c.login_key`,
    ),
    insertContact: p(
      `INSERT INTO contacts (owner_id, contact_id, added) SELECT ?, ?, ?
       WHERE (SELECT count(*) FROM contacts WHERE owner_id = ?) < ? ON CONFLICT DO NOTHING`,
    ),
    hasContact: p("SELECT 1 AS yes FROM contacts WHERE owner_id = ? AND contact_id = ?"),
    deleteContact: p("DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?"),
  };
}
