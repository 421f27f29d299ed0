import { constantTimeEqual, fromBase64, randomBytes, toBase64 } from "./bytes.ts";
import { JimError } from "./errors.ts";
import { preparePassword } from "./saslprep.ts";
import { Status } from "./status.ts";

/**
 * What the server stores for a SCRAM-SHA-256 user. None of it is password-equivalent:
 * StoredKey is a hash of ClientKey, and ServerKey only lets the server prove itself.
 */
export interface ScramCredentials {
  /** Random per-user salt for PBKDF2. */
  salt: Uint8Array;
  /** PBKDF2 iteration count. */
  iterations: number;
  /** SHA-256(HMAC(SaltedPassword, "Client Key")): verifies proofs, cannot make one. */
  storedKey: Uint8Array;
  /** HMAC(SaltedPassword, "Server Key"): lets the server prove itself. */
  serverKey: Uint8Array;
}

/** OWASP's figure for PBKDF2-HMAC-SHA256; stored per user so it can rise later. */
export const DEFAULT_ITERATIONS = 600_000;
/** RFC 7677's minimum; a client refuses a server that asks for fewer. */
export const MIN_ITERATIONS = 4096;
/** A client refuses more, so a hostile server cannot make it spin. */
export const MAX_ITERATIONS = 10_000_000;

const GS2_HEADER = "n,,";
const utf8 = new TextEncoder();

async function hmac(key: Uint8Array, data: Uint8Array | string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", cryptoKey, bytes as Uint8Array<ArrayBuffer>),
  );
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * SaltedPassword = Hi(password, salt, i): PBKDF2-HMAC-SHA256 with 32 bytes of output.
 *
 * @example
 * ```ts
 * import { saltPassword } from "./scram.ts";
 * const salted = await saltPassword("pencil", new Uint8Array(16), 4096);
 * ```
 */
export async function saltPassword(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    utf8.encode(preparePassword(password)),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * Derives what the server stores for a password: a fresh 16-byte salt unless one is given,
 * the iteration count, StoredKey and ServerKey.
 *
 * @example
 * ```ts
 * import { deriveScramCredentials } from "./scram.ts";
 * const creds = await deriveScramCredentials("pencil", { iterations: 4096 });
 * ```
 * @throws {JimError} 400 "Invalid password: …" for a password SASLprep refuses.
 */
export async function deriveScramCredentials(
  password: string,
  options: { iterations?: number; salt?: Uint8Array } = {},
): Promise<ScramCredentials> {
  // A new password is a stored string: refused here, with a reason, if SASLprep refuses it.
  preparePassword(password, { stored: true });
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salted = await saltPassword(password, salt, iterations);
  const clientKey = await hmac(salted, "Client Key");
  return {
    salt,
    iterations,
    storedKey: await sha256(clientKey),
    serverKey: await hmac(salted, "Server Key"),
  };
}

/** Parses `k=v,k=v`; values may contain '=' (base64). */
function attributes(message: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length < 2 || part[1] !== "=") {
      throw invalid(`${what} has a malformed attribute`);
    }
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

function required(attrs: Map<string, string>, key: string, what: string): string {
  const value = attrs.get(key);
  if (value === undefined || value === "") throw invalid(`${what} lacks "${key}"`);
  return value;
}

function invalid(detail: string): JimError {
  return new JimError(Status.BAD_REQUEST, `Invalid SCRAM message: ${detail}`);
}

function newNonce(): string {
  // base64 never contains ',', which SCRAM forbids in nonces.
  return toBase64(randomBytes(18));
}

/** SCRAM's saslname escaping of '=' and ','. */
function escapeName(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

function unescapeName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw invalid("bad escape in user name");
  return name.replaceAll("=2C", ",").replaceAll("=3D", "=");
}

/**
 * The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), without channel
 * binding. Messages are the plain SCRAM strings; JIM carries them base64-encoded.
 *
 * @example
 * ```ts
 * import { ScramClient } from "./scram.ts";
 * const client = new ScramClient("alice", "s3cret");
 * const first = client.clientFirst();              // send it, get serverFirst back
 * // const final = await client.clientFinal(serverFirst);
 * // await client.verifyServerFinal(serverFinal);  // throws on a forged server
 * ```
 */
export class ScramClient {
  readonly #user: string;
  readonly #password: string;
  readonly #nonce: string;
  #authMessage: string | undefined;
  #serverKey: Uint8Array | undefined;
  #salted: Uint8Array | undefined;
  #salt: Uint8Array | undefined;
  #iterations = 0;

  /**
   * Starts an exchange for `user`; `nonce` is for tests that replay a known exchange.
   *
   * @param user The account name, as sent in `user.account_name`.
   * @param password The password, prepared with SASLprep (RFC 4013) before hashing.
   */
  constructor(user: string, password: string, options: { nonce?: string } = {}) {
    this.#user = user;
    this.#password = password;
    this.#nonce = options.nonce ?? newNonce();
  }

  get #bare(): string {
    return `n=${escapeName(this.#user)},r=${this.#nonce}`;
  }

  /** The client-first-message. */
  clientFirst(): string {
    return GS2_HEADER + this.#bare;
  }

  /** The salted password from the last exchange, for a caller that caches it. */
  get saltedPassword(): { salt: Uint8Array; iterations: number; value: Uint8Array } | undefined {
    if (!this.#salted || !this.#salt) return undefined;
    return { salt: this.#salt, iterations: this.#iterations, value: this.#salted };
  }

  /**
   * Answers the server-first-message with the client-final-message. A cached salted
   * password is used when its salt and iteration count match (RFC 5802 allows caching).
   *
   * @throws {JimError} 400 for a malformed server message or an unacceptable nonce or count,
   *   or a password SASLprep refuses.
   */
  async clientFinal(
    serverFirst: string,
    options: { cache?: { salt: Uint8Array; iterations: number; value: Uint8Array } } = {},
  ): Promise<string> {
    const attrs = attributes(serverFirst, "server-first-message");
    if (attrs.has("m")) throw invalid("server-first-message has an unsupported extension");
    const nonce = required(attrs, "r", "server-first-message");
    if (!nonce.startsWith(this.#nonce) || nonce.length <= this.#nonce.length) {
      throw invalid("server nonce does not extend the client nonce");
    }
    let salt: Uint8Array;
    try {
      salt = fromBase64(required(attrs, "s", "server-first-message"));
    } catch (cause) {
      if (cause instanceof JimError) throw cause;
      throw invalid("salt is not base64");
    }
    const iterations = Number(required(attrs, "i", "server-first-message"));
    if (
      !Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS
    ) {
      throw invalid(`iteration count must be ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
    }
    const cache = options.cache;
    const salted = cache && cache.iterations === iterations && constantTimeEqual(cache.salt, salt)
      ? cache.value
      : await saltPassword(this.#password, salt, iterations);
    this.#salted = salted;
    this.#salt = salt;
    this.#iterations = iterations;
    const withoutProof = `c=${toBase64(GS2_HEADER)},r=${nonce}`;
    this.#authMessage = `${this.#bare},${serverFirst},${withoutProof}`;
    const clientKey = await hmac(salted, "Client Key");
    const storedKey = await sha256(clientKey);
    const proof = xor(clientKey, await hmac(storedKey, this.#authMessage));
    this.#serverKey = await hmac(salted, "Server Key");
    return `${withoutProof},p=${toBase64(proof)}`;
  }

  /**
   * Checks the server-final-message. Only a server that knows ServerKey can sign it, so a
   * mismatch means the server is not the one the password was registered with.
   *
   * @throws {JimError} 402 "Cannot verify server: signature mismatch", or the server's error.
   */
  async verifyServerFinal(serverFinal: string): Promise<void> {
    if (!this.#authMessage || !this.#serverKey) {
      throw new Error("Cannot verify server: clientFinal() has not run");
    }
    const attrs = attributes(serverFinal, "server-final-message");
    const error = attrs.get("e");
    if (error !== undefined) {
      throw new JimError(Status.AUTH_FAILED, `Authentication failed: ${error}`);
    }
    const expected = await hmac(this.#serverKey, this.#authMessage);
    let given: Uint8Array;
    try {
      given = fromBase64(required(attrs, "v", "server-final-message"));
    } catch {
      given = new Uint8Array(0);
    }
    if (!constantTimeEqual(expected, given)) {
      throw new JimError(Status.AUTH_FAILED, "Cannot verify server: signature mismatch");
    }
  }
}

/** The parsed client-first-message. */
export interface ClientFirst {
  /** The user name, unescaped. */
  user: string;
  /** The client's nonce. */
  nonce: string;
}

/**
 * The server side of one SCRAM-SHA-256 exchange. The caller parses the client-first message
 * to learn the user, looks up the credentials, and passes them in.
 *
 * @example
 * ```ts
 * import { deriveScramCredentials, ScramClient, ScramServerExchange } from "./scram.ts";
 * const creds = await deriveScramCredentials("pencil", { iterations: 4096 });
 * const client = new ScramClient("user", "pencil");
 * const server = new ScramServerExchange();
 * const serverFirst = server.serverFirst(client.clientFirst(), creds);
 * const serverFinal = await server.serverFinal(await client.clientFinal(serverFirst), creds);
 * await client.verifyServerFinal(serverFinal);
 * ```
 */
export class ScramServerExchange {
  readonly #serverNonce: string;
  #clientBare: string | undefined;
  #serverFirst: string | undefined;
  #nonce: string | undefined;

  /** Starts an exchange; `nonce` is for tests that replay a known exchange. */
  constructor(options: { nonce?: string } = {}) {
    this.#serverNonce = options.nonce ?? newNonce();
  }

  /**
   * Parses a client-first-message.
   *
   * @throws {JimError} 400 for a malformed message or a channel binding request.
   */
  static parseClientFirst(message: string): ClientFirst {
    if (!message.startsWith("n,") && !message.startsWith("y,")) {
      throw invalid('channel binding is not supported; use the gs2 header "n,,"');
    }
    const rest = message.slice(2);
    const comma = rest.indexOf(",");
    if (comma < 0) throw invalid("client-first-message is truncated");
    if (rest.slice(0, comma) !== "") throw invalid("authorization identity is not supported");
    const attrs = attributes(rest.slice(comma + 1), "client-first-message");
    return {
      user: unescapeName(required(attrs, "n", "client-first-message")),
      nonce: required(attrs, "r", "client-first-message"),
    };
  }

  /** Answers the client-first-message with the server-first-message. */
  serverFirst(
    clientFirst: string,
    credentials: Pick<ScramCredentials, "salt" | "iterations">,
  ): string {
    const { nonce } = ScramServerExchange.parseClientFirst(clientFirst);
    if (nonce.includes(",")) throw invalid("nonce contains ','");
    this.#clientBare = clientFirst.slice(clientFirst.indexOf(",", 2) + 1);
    this.#nonce = nonce + this.#serverNonce;
    this.#serverFirst = `r=${this.#nonce},s=${
      toBase64(credentials.salt)
    },i=${credentials.iterations}`;
    return this.#serverFirst;
  }

  /**
   * Verifies the client's proof and returns the server-final-message with the signature.
   *
   * @throws {JimError} 402 "Access denied" for a wrong proof; 400 for a malformed message.
   */
  async serverFinal(
    clientFinal: string,
    credentials: Pick<ScramCredentials, "storedKey" | "serverKey">,
  ): Promise<string> {
    if (!this.#serverFirst || !this.#clientBare || !this.#nonce) {
      throw invalid("client-final-message arrived before client-first-message");
    }
    const proofAt = clientFinal.lastIndexOf(",p=");
    if (proofAt < 0) throw invalid('client-final-message lacks "p"');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(clientFinal, "client-final-message");
    if (required(attrs, "c", "client-final-message") !== toBase64(GS2_HEADER)) {
      throw invalid("channel binding data does not match the gs2 header");
    }
    if (!constantTimeEqual(required(attrs, "r", "client-final-message"), this.#nonce)) {
      throw invalid("nonce does not match");
    }
    let proof: Uint8Array;
    try {
      proof = fromBase64(required(attrs, "p", "client-final-message"));
    } catch (cause) {
      if (cause instanceof JimError) throw cause;
      throw invalid("proof is not base64");
    }
    const authMessage = `${this.#clientBare},${this.#serverFirst},${withoutProof}`;
    const signature = await hmac(credentials.storedKey, authMessage);
    const ok = proof.length === signature.length &&
      constantTimeEqual(await sha256(xor(proof, signature)), credentials.storedKey);
    if (!ok) throw new JimError(Status.AUTH_FAILED, "Access denied");
    return `v=${toBase64(await hmac(credentials.serverKey, authMessage))}`;
  }
}
