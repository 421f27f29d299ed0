/**
 * Stand-in credentials for logins that do not exist, so that before a proof an unknown
 * login is answered exactly as a known one (RFC 5802, section 9): a salt and iteration
 * count that are stable for the name, derived with a server secret that never leaves the
 * database, and keys that no proof can match.
 *
 * @module
 */
import { DEFAULT_ITERATIONS, type ScramCredentials, toHex } from "../protocol/mod.ts";

/** Decoy SCRAM credentials and a decoy legacy hash for one login. */
export interface Decoy extends ScramCredentials {
  /** Shaped like a stored legacy hash: 64 hex characters. */
  legacyHash: string;
}

const utf8 = new TextEncoder();

/**
 * Derives decoys from a secret: HMAC-SHA-256(secret, purpose + login key). The same name
 * always gets the same salt, in this process and after a restart, as a real user's stays.
 *
 * @example
 * ```ts
 * import { Decoys } from "./_decoy.ts";
 * const decoys = new Decoys(crypto.getRandomValues(new Uint8Array(32)));
 * const decoy = await decoys.for("nobody");
 * console.log(decoy.salt.length, decoy.iterations); // 16 600000
 * ```
 */
export class Decoys {
  readonly #key: Promise<CryptoKey>;

  constructor(secret: Uint8Array) {
    this.#key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }

  /** The decoy for `loginKey`: the key logins are looked up by. */
  async for(loginKey: string): Promise<Decoy> {
    const key = await this.#key;
    const mac = async (purpose: string) =>
      new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(`${purpose}\0${loginKey}`)));
    const [salt, storedKey, serverKey, legacy] = await Promise.all([
      mac("scram-salt"),
      mac("scram-stored-key"),
      mac("scram-server-key"),
      mac("legacy-hash"),
    ]);
    return {
      // 16 bytes, like the salts of real users.
      salt: salt.slice(0, 16),
      // New users get the default count; a decoy with any other would stand out.
      iterations: DEFAULT_ITERATIONS,
      storedKey,
      serverKey,
      legacyHash: toHex(legacy),
    };
  }
}
