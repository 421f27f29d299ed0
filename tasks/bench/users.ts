/**
 * The bench's users, in a fresh jim-server database.
 *
 * The first user is added by `jim-server user add --legacy`, the real path. Every other user
 * is a copy of its row under another login: registering 11,000 users one by one would cost
 * 11,000 PBKDF2 derivations at the legacy scheme's 100,000 iterations (minutes on this
 * machine), and a copy is what the server would have stored anyway, since the seed's salt is
 * fixed and every bench user has the same password. The server still reads each user's
 * credentials from the database at each login, so its work per login is unchanged. All
 * users share one SCRAM salt as a consequence, which changes nothing for the server.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { jimServerArgs } from "./target.ts";

/** What the load generators need to log in as any bench user. */
export interface BenchUsers {
  /** The legacy stored value (hex): the HMAC-MD5 key of the seed's login. */
  legacyStored: string;
  /** The SCRAM salt and iteration count every user has. */
  scram: { salt: Uint8Array; iterations: number };
}

/**
 * Registers `logins` (lower-case ASCII, so each is its own case-folded key) with `password`.
 *
 * @example
 * ```ts
 * const users = await registerUsers("bench.db", ["p0", "p1"], "bench-password", 4096);
 * ```
 * @throws {Error} when `jim-server user add` fails or a login is not lower-case ASCII.
 */
export async function registerUsers(
  dbPath: string,
  logins: readonly string[],
  password: string,
  iterations: number,
): Promise<BenchUsers> {
  const [template, ...copies] = logins;
  if (template === undefined) throw new Error("No users to register");
  for (const login of logins) {
    if (!/^[a-z][a-z0-9]*$/.test(login)) throw new Error(`Bench login must be [a-z0-9]: ${login}`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: jimServerArgs([
      "user",
      "add",
      template,
      "--db",
      dbPath,
      "--legacy",
      "--iterations",
      String(iterations),
      "--password-stdin",
    ]),
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(password + "\n"));
  await writer.close();
  const status = await child.status;
  if (!status.success) throw new Error(`jim-server user add exited with ${status.code}`);

  const db = new DatabaseSync(dbPath);
  try {
    const row = db.prepare("SELECT salt, iterations, legacy_hash FROM users WHERE login_key = ?")
      .get(template);
    if (!row || typeof row.legacy_hash !== "string") {
      throw new Error(`jim-server user add stored no legacy hash for ${template}`);
    }
    const copy = db.prepare(
      `INSERT INTO users (login, login_key, salt, iterations, stored_key, server_key, legacy_hash, created)
       SELECT ?, ?, salt, iterations, stored_key, server_key, legacy_hash, created
       FROM users WHERE login_key = ?`,
    );
    db.exec("BEGIN");
    for (const login of copies) copy.run(login, login, template);
    db.exec("COMMIT");
    return {
      legacyStored: row.legacy_hash,
      scram: { salt: row.salt as Uint8Array, iterations: row.iterations as number },
    };
  } finally {
    db.close();
  }
}
