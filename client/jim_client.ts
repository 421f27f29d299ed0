import {
  accountNameProblem,
  constantTimeEqual,
  type DecodedFrame,
  DEFAULT_LIMITS,
  encodeFrame,
  FrameDecoder,
  fromBase64,
  HMAC_MD5,
  isAccountName,
  JimError,
  type JimResponse,
  legacyDigest,
  legacyStoredHash,
  MAX_PASSWORD_LENGTH,
  type Mechanism,
  type ProtocolLimits,
  RECEIVE_MARGIN_BYTES,
  SCRAM_SHA_256,
  ScramClient,
  Status,
  toBase64,
  validateServerMessage,
} from "../protocol/mod.ts";
import { BoundedQueue } from "../common/bounded_queue.ts";
import { ConnectionError } from "./errors.ts";
import { TypedEventTarget } from "./_typed_event_target.ts";

/** The host a client connects to when none is given. */
export const DEFAULT_HOST = "127.0.0.1";
/** The seed's port, used when none is given. */
export const DEFAULT_PORT = 7777;

/** Where and how to connect. */
export interface JimClientOptions {
  /** Host name or address; defaults to 127.0.0.1. */
  host?: string;
  /** TCP port; defaults to 7777. */
  port?: number;
  /** Wrap the connection in TLS. */
  tls?: boolean;
  /** A PEM CA certificate to trust in addition to the system roots (for a self-signed server). */
  caCert?: string;
  /** Aborts connecting. */
  signal?: AbortSignal;
  /**
   * How long a request may wait for its reply, in milliseconds (default 30000). JIM replies
   * carry no ids, so a missing reply would shift every later one; the connection is closed.
   */
  requestTimeout?: number;
  /** How many requests may wait for replies at once (default 128). */
  maxPending?: number;
  /**
   * Frame and message limits; the protocol defaults otherwise. Frames from the server may
   * exceed `maxFrameBytes` by {@linkcode RECEIVE_MARGIN_BYTES}.
   */
  limits?: Partial<ProtocolLimits>;
}

/** A chat message received from the server. */
export interface IncomingMessage {
  /** The sender's login, as set by the server. */
  from: string;
  /** The recipient: this client's login. */
  to: string;
  /** The message text. */
  text: string;
  /** When the sender sent it, in milliseconds since the epoch. */
  time: number;
}

/**
 * Incoming messages as an async iterator over a bounded queue. `missed` counts messages
 * dropped because the consumer fell behind; `return()` (or leaving a for-await loop)
 * unsubscribes.
 */
export interface MessageStream extends AsyncIterableIterator<IncomingMessage> {
  /** Messages dropped because the consumer fell behind. */
  readonly missed: number;
  /** Messages waiting to be taken. */
  readonly size: number;
}

/** One entry of the contact list. */
export interface Contact {
  /** The contact's login. */
  login: string;
  /** Whether the server reports the contact online; false when it does not say (a seed server). */
  online: boolean;
}

/** How a login went. */
export interface LoginResult {
  /** The login now in use. */
  user: string;
  /** How the login was proven: SCRAM-SHA-256, or HMAC-MD5 with a seed server. */
  mechanism: Mechanism;
}

/**
 * The SCRAM SaltedPassword for one salt and iteration count: what RFC 5802 lets a client
 * cache to log in again without the password. It is password-equivalent for this server
 * while the salt stays the same, so it lives only in memory and is wiped when no longer needed.
 */
export interface SaltedPassword {
  /** The salt the server sent. */
  salt: Uint8Array;
  /** The iteration count the server sent. */
  iterations: number;
  /** Hi(password, salt, iterations). */
  value: Uint8Array;
}

/** Options for {@linkcode JimClient.login}. */
export interface LoginOptions {
  /**
   * Permit the seed's HMAC-MD5 login. It is used only when the server offers nothing else,
   * which means a seed server: it cannot prove its identity and its stored value is
   * password-equivalent.
   */
  allowLegacy?: boolean;
  /** Stops waiting for the login (the connection should then be closed). */
  signal?: AbortSignal;
  /**
   * Receives the SCRAM SaltedPassword once the server has proven itself, for a caller that
   * logs in again later with it instead of the password (see {@linkcode SaltedPassword}).
   */
  onSaltedPassword?: (salted: SaltedPassword) => void;
}

/** A parting notice: a server error reply to no request, sent just before it closed. */
export interface ServerNotice {
  /** The JIM code, e.g. 503 when shutting down, 403 when the account was removed. */
  code: number;
  /** The server's text, e.g. "Account removed". */
  text: string;
}

/** Details of the connection events. */
export interface ConnectionInfo {
  /** The server's host as given. */
  host: string;
  /** The server's port. */
  port: number;
  /** Whether the connection uses TLS. */
  tls: boolean;
}

/** Why the connection ended; `error` is set when it was not closed on purpose. */
export interface DisconnectInfo extends ConnectionInfo {
  /** Why, in one sentence, e.g. "Connection lost: server closed the connection". */
  reason: string;
  /** Set when the connection was lost rather than closed on purpose. */
  error?: ConnectionError;
  /** The server's parting notice, when it sent one before closing. */
  notice?: ServerNotice;
}

/** The events a {@linkcode JimClient} dispatches, all as CustomEvents. */
export interface JimClientEventMap {
  /** A connection attempt starts. */
  connecting: CustomEvent<ConnectionInfo>;
  /** The socket is open. */
  connected: CustomEvent<ConnectionInfo>;
  /** Login succeeded. */
  login: CustomEvent<LoginResult>;
  /** The connection ended, on purpose or not. */
  disconnected: CustomEvent<DisconnectInfo>;
  /** Something went wrong that did not end the connection, or that ends it right after. */
  error: CustomEvent<{ error: Error }>;
  /** A chat message arrived. */
  message: CustomEvent<IncomingMessage>;
  /** The server pushed a contact entry outside a get_contacts reply. */
  contact: CustomEvent<Contact>;
  /** The server probed the client; it was answered with presence. */
  probe: CustomEvent<{ time: number }>;
}

interface Pending {
  action: string;
  /** Expects `202 + quantity` followed by that many contact_list objects. */
  list: boolean;
  collected?: { response: JimResponse; remaining: number; items: Contact[] };
  timer?: ReturnType<typeof setTimeout>;
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

interface Reply {
  response: JimResponse;
  contacts: Contact[];
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
/** More logins than any server should list; a get_users that goes past it is refused. */
const MAX_USERS = 10_000_000;

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** The reply rides along as `cause`, so callers can read fields such as `retry_after`. */
function refusal(reply: JimResponse): JimError {
  return new JimError(
    reply.response,
    reply.error ?? reply.alert ?? `Unexpected reply: ${reply.response}`,
    { cause: reply },
  );
}

function requireName(name: string, field: string): void {
  if (!isAccountName(name)) throw new JimError(Status.BAD_REQUEST, accountNameProblem(field, name));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/**
 * A JIM connection: login, messages, contacts. Replies are matched to requests by order,
 * because JIM replies carry no ids; pushed objects (msg, probe, contact_list) are told apart
 * by their action, and a probe is answered with presence automatically. When the connection
 * drops, every pending request rejects at once with a {@linkcode ConnectionError}; server
 * refusals reject with a {@linkcode JimError} carrying the JIM code and text.
 *
 * Listeners for the "connecting" and "connected" events can be attached between
 * `new JimClient(options)` and `open()`; `JimClient.connect()` does both at once.
 *
 * @example
 * ```ts
 * import { JimClient } from "./jim_client.ts";
 * await using client = await JimClient.connect({ host: "127.0.0.1", port: 7777 });
 * await client.login("alice", "secret");
 * client.addEventListener("message", (e) => console.log(`${e.detail.from}: ${e.detail.text}`));
 * await client.send("bob", "hello"); // rejects with JimError 410 when bob is offline
 * console.log(await client.contacts()); // [{ login: "bob", online: true }]
 * await client.quit();
 * ```
 */
export class JimClient extends TypedEventTarget<JimClientEventMap> {
  /** The server's host. */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /** Whether the connection uses TLS. */
  readonly tls: boolean;
  readonly #options: JimClientOptions;
  readonly #limits: ProtocolLimits;
  readonly #requestTimeout: number;
  readonly #maxPending: number;
  #conn: Deno.Conn | undefined;
  #decoder: FrameDecoder;
  #pending: Pending[] = [];
  #writeChain: Promise<void> = Promise.resolve();
  #readLoop: Promise<void> | undefined;
  #user: string | undefined;
  #state: "new" | "connecting" | "open" | "closed" = "new";
  #closeError: ConnectionError | undefined;
  #closing: Promise<void> | undefined;
  #quitting = false;
  /** The last error the server sent outside any request, e.g. before it closes. */
  #serverNotice: ServerNotice | undefined;
  #queues = new Set<BoundedQueue<IncomingMessage>>();
  readonly #closed: PromiseWithResolvers<void> = Promise.withResolvers();

  /** Creates an unconnected client; call {@linkcode JimClient.open} next. */
  constructor(options: JimClientOptions = {}) {
    super();
    this.#options = options;
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_PORT;
    this.tls = options.tls ?? false;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#requestTimeout = options.requestTimeout ?? 30_000;
    this.#maxPending = options.maxPending ?? 128;
    // Sends are checked against maxFrameBytes; what arrives may be a little larger, since a
    // server adds `from` and `encoding` to a message it checked at the sender's size.
    this.#decoder = new FrameDecoder({
      maxFrameBytes: this.#limits.maxFrameBytes + RECEIVE_MARGIN_BYTES,
    });
  }

  /**
   * Connects to a JIM server.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777, tls: true, caCert: "-----BEGIN…" });
   * ```
   * @throws {ConnectionError} when the server cannot be reached.
   */
  static async connect(options: JimClientOptions = {}): Promise<JimClient> {
    const client = new JimClient(options);
    await client.open();
    return client;
  }

  /** The logged-in login, or undefined before login. */
  get user(): string | undefined {
    return this.#user;
  }

  /** Whether the connection is open. */
  get connected(): boolean {
    return this.#state === "open";
  }

  /** Resolves when the connection has ended, for whatever reason. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** How many requests wait for replies. */
  get pendingRequests(): number {
    return this.#pending.length;
  }

  /**
   * Opens the connection; called by {@linkcode JimClient.connect}.
   *
   * @throws {ConnectionError} when the server cannot be reached or `signal` aborts.
   */
  async open(): Promise<void> {
    if (this.#state !== "new") throw new ConnectionError("Cannot connect: already used");
    this.#state = "connecting";
    const info = this.#info();
    this.emit("connecting", info);
    const signal = this.#options.signal;
    const where = `${this.host}:${this.port}`;
    let conn: Deno.Conn | undefined;
    try {
      signal?.throwIfAborted();
      const connecting: Promise<Deno.Conn> = this.tls
        ? Deno.connectTls({
          hostname: this.host,
          port: this.port,
          ...(this.#options.caCert ? { caCerts: [this.#options.caCert] } : {}),
        })
        : Deno.connect({ hostname: this.host, port: this.port });
      conn = await abortable(connecting, signal, (late) => late.close());
      if (this.tls) await abortable((conn as Deno.TlsConn).handshake(), signal);
    } catch (cause) {
      try {
        conn?.close(); // A failed or aborted TLS handshake leaves the socket open.
      } catch {
        // Closed already.
      }
      this.#state = "closed";
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new ConnectionError(`Cannot connect to ${where}: ${detail}`, { cause });
      this.#closeError = error;
      this.emit("disconnected", { ...info, reason: error.message, error });
      this.#closed.resolve();
      throw error;
    }
    if ((this.#state as string) === "closed") {
      // close() ran while connecting: do not come back to life.
      conn.close();
      throw this.#closeError ?? new ConnectionError("Connection closed");
    }
    this.#conn = conn;
    this.#state = "open";
    this.emit("connected", info);
    this.#readLoop = this.#read(conn);
  }

  /**
   * Logs in. SCRAM-SHA-256 is used whenever the server offers it, and the server's signature
   * is verified: a server that cannot prove it knows the user's credentials is refused with
   * "Cannot verify server: signature mismatch" and the connection is closed. The seed's
   * HMAC-MD5 is used only when the server offers no mechanism list (a seed server) and
   * `allowLegacy` is set.
   *
   * Instead of the password, a {@linkcode SaltedPassword} cached from an earlier login (see
   * `onSaltedPassword`) may be given; it logs in with SCRAM only, and only while the server
   * still sends the same salt and iteration count.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * const { mechanism } = await client.login("alice", "secret", { allowLegacy: true });
   * ```
   * @throws {JimError} with the server's code and text (404 unknown user, 402 "Access denied"),
   *   or 402 when the server cannot be verified or offers only a mechanism not allowed, or
   *   when a cached salted password no longer fits ("Cannot log in: the password has changed;
   *   enter it again").
   */
  async login(
    user: string,
    password: string | SaltedPassword,
    options: LoginOptions = {},
  ): Promise<LoginResult> {
    requireName(user, "user");
    if (typeof password === "string" && password.length > MAX_PASSWORD_LENGTH) {
      throw new JimError(
        Status.BAD_REQUEST,
        `Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`,
      );
    }
    if (this.#user !== undefined) {
      throw new JimError(Status.CONFLICT, `Already logged in: ${this.#user}`);
    }
    const signal = options.signal;
    const hello = await this.#request({
      action: "presence",
      time: now(),
      type: "status",
      user: { account_name: user, status: "online" },
    }, { signal });
    if (hello.response.response === Status.OK) {
      // A server that lets anyone in without a challenge cannot be told from an impostor.
      await this.close();
      throw new JimError(
        Status.AUTH_FAILED,
        "Cannot verify server: it accepted the login without authentication",
      );
    }
    if (hello.response.response !== Status.UNAUTHORIZED) throw refusal(hello.response);
    const offered = hello.response.mechanisms ?? [];
    let result: LoginResult;
    if (offered.includes(SCRAM_SHA_256)) {
      result = await this.#scram(user, password, signal, options.onSaltedPassword);
    } else if (offered.every((m) => m === HMAC_MD5)) {
      if (typeof password !== "string") {
        throw new JimError(
          Status.AUTH_FAILED,
          "Cannot log in: the server offers only legacy HMAC-MD5 authentication, " +
            "which needs the password; enter it again",
        );
      }
      if (!options.allowLegacy) {
        throw new JimError(
          Status.AUTH_FAILED,
          "Cannot log in: the server offers only legacy HMAC-MD5 authentication; " +
            "allow legacy authentication to use it",
        );
      }
      result = await this.#legacy(user, password, hello.response.token, signal);
    } else {
      throw new JimError(
        Status.AUTH_FAILED,
        `Cannot log in: no supported mechanism among ${offered.join(", ")}`,
      );
    }
    this.#user = user;
    this.emit("login", result);
    return result;
  }

  async #scram(
    user: string,
    password: string | SaltedPassword,
    signal?: AbortSignal,
    onSalted?: (salted: SaltedPassword) => void,
  ): Promise<LoginResult> {
    const cache = typeof password === "string" ? undefined : password;
    // With a cache only, the ScramClient never needs the password: a salt or count that does
    // not fit is refused below before clientFinal() could fall back to hashing it.
    const scram = new ScramClient(user, typeof password === "string" ? password : "");
    const step = (data: string) =>
      this.#request({
        action: "authenticate",
        time: now(),
        mechanism: SCRAM_SHA_256,
        user: { account_name: user },
        data: toBase64(data),
      }, { signal });
    const challenge = (await step(scram.clientFirst())).response;
    if (challenge.response !== Status.UNAUTHORIZED) throw refusal(challenge);
    const serverFirst = decodeData(challenge.data, "server-first");
    if (cache && !fitsCache(serverFirst, cache)) {
      // The server is waiting for the client-final; leaving is the only clean way out.
      await this.close();
      throw new JimError(
        Status.AUTH_FAILED,
        "Cannot log in: the password has changed; enter it again",
      );
    }
    const clientFinal = await scram.clientFinal(serverFirst, cache ? { cache } : {});
    const outcome = (await step(clientFinal)).response;
    if (outcome.response !== Status.OK) throw refusal(outcome);
    try {
      await scram.verifyServerFinal(decodeData(outcome.data, "server-final"));
    } catch (error) {
      // The server said yes without proving itself: do not stay on that connection.
      const failure = error instanceof JimError && error.code === Status.BAD_REQUEST
        ? new JimError(Status.AUTH_FAILED, "Cannot verify server: signature mismatch", {
          cause: error,
        })
        : error as Error;
      this.emit("error", { error: failure });
      await this.close();
      throw failure;
    }
    const salted = scram.saltedPassword;
    if (salted && onSalted) onSalted(salted);
    return { user, mechanism: SCRAM_SHA_256 };
  }

  async #legacy(
    user: string,
    password: string,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<LoginResult> {
    if (token === undefined || !/^[0-9a-fA-F]{2,256}$/.test(token) || token.length % 2 !== 0) {
      throw new JimError(Status.BAD_REQUEST, "Invalid server message: challenge lacks a hex token");
    }
    const digest = legacyDigest(await legacyStoredHash(password), token);
    const reply = await this.#request({
      action: "authenticate",
      time: now(),
      user: { account_name: user, password: digest },
    }, { signal });
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
    return { user, mechanism: HMAC_MD5 };
  }

  /**
   * Sends a chat message; resolves when the server accepted it (200).
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * import { JimError } from "../protocol/mod.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * try {
   *   await client.send("bob", "hi");
   * } catch (err) {
   *   if (err instanceof JimError && err.code === 410) console.log(err.message);
   * }
   * ```
   * @throws {JimError} with the server's code and text, e.g. 410 "Client not online: bob";
   *   400 for an invalid name or a too long text, checked before sending.
   * @throws {ConnectionError} when the connection is lost before the reply.
   */
  async send(to: string, text: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    requireName(to, "to");
    if (typeof text !== "string" || text.length === 0) {
      throw new JimError(Status.BAD_REQUEST, "Invalid field: message must not be empty");
    }
    const max = this.#limits.maxMessageLength;
    if (text.length > max && [...text].length > max) {
      throw new JimError(Status.BAD_REQUEST, `Invalid field: message exceeds ${max} characters`);
    }
    const reply = await this.#request({
      action: "msg",
      time: now(),
      to,
      from: this.#user ?? "",
      encoding: "utf-8",
      message: text,
    }, options);
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
  }

  /**
   * The contact list from the server (get_contacts: 202 with a quantity, then that many
   * contact_list objects).
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * for (const c of await client.contacts()) console.log(c.login, c.online);
   * ```
   */
  async contacts(options: { signal?: AbortSignal } = {}): Promise<Contact[]> {
    const reply = await this.#request({ action: "get_contacts", time: now() }, {
      ...options,
      list: true,
    });
    if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
    return reply.contacts;
  }

  /**
   * Adds a contact on the server.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.addContact("bob"); // JimError 404 for an unknown login, 409 when present
   * ```
   */
  async addContact(login: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    requireName(login, "user_id");
    const reply = await this.#request(
      { action: "add_contact", user_id: login, time: now() },
      options,
    );
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
  }

  /**
   * Removes a contact on the server.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.removeContact("bob");
   * ```
   */
  async removeContact(login: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    requireName(login, "user_id");
    const reply = await this.#request(
      { action: "del_contact", user_id: login, time: now() },
      options,
    );
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
  }

  /**
   * Every registered login (get_users: 202 with `users`). A server sends them a page at a
   * time, each page naming the login to continue `after`; this follows the pages to the end.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * console.log(await client.users()); // ["alice", "bob"]
   * ```
   */
  async users(options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const users: string[] = [];
    let after: string | undefined;
    for (;;) {
      const reply = await this.#request(
        after === undefined
          ? { action: "get_users", time: now() }
          : { action: "get_users", time: now(), after },
        options,
      );
      if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
      const page = reply.response.users ?? [];
      users.push(...page);
      const next = reply.response.next;
      if (next === undefined) return users;
      // A server that does not move on would keep this loop going forever.
      if (next === after || page.length === 0 || users.length > MAX_USERS) {
        throw new JimError(
          Status.BAD_REQUEST,
          `Invalid server message: get_users pages do not advance after ${users.length} logins`,
        );
      }
      after = next;
    }
  }

  /**
   * Incoming chat messages as an async iterator over a bounded queue: when the consumer falls
   * behind by `bufferSize` messages (default 256), the oldest is dropped and counted in
   * `missed`. It ends when the connection closes. Only messages arriving after the call are
   * seen; the "message" event carries the same messages.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * for await (const m of client.messages()) console.log(m.from, m.text);
   * ```
   */
  messages(options: { bufferSize?: number } = {}): MessageStream {
    const queue: BoundedQueue<IncomingMessage> = new BoundedQueue(options.bufferSize ?? 256, {
      onEnd: () => this.#queues.delete(queue),
    });
    if (this.#state === "closed") queue.end();
    else this.#queues.add(queue);
    return queue;
  }

  /**
   * Says goodbye (quit) and closes the connection. Requests still waiting reject.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.quit();
   * ```
   */
  async quit(): Promise<void> {
    if (this.#state === "open") {
      this.#quitting = true;
      try {
        // The server answers 200 and closes; waiting for it lets the goodbye arrive.
        await this.#request({ action: "quit", time: now() });
      } catch {
        // Gone already, or closed by the server first: closing is all that is left.
      }
    }
    await this.close();
  }

  /**
   * Closes the connection without a goodbye. Idempotent; requests still waiting reject with
   * a {@linkcode ConnectionError}.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.close();
   * await client.close(); // no-op
   * ```
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#teardown(undefined, "Connection closed");
      this.#closing = (async () => {
        await this.#readLoop;
        await this.#writeChain;
      })();
    }
    return this.#closing;
  }

  /** Closes the connection, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #info(): ConnectionInfo {
    return { host: this.host, port: this.port, tls: this.tls };
  }

  #request(
    message: Record<string, unknown>,
    options: { signal?: AbortSignal; list?: boolean } = {},
  ): Promise<Reply> {
    if (this.#state !== "open" || !this.#conn) {
      return Promise.reject(this.#closeError ?? new ConnectionError("Not connected"));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#pending.length >= this.#maxPending) {
      return Promise.reject(
        new ConnectionError(
          `Cannot send request: ${this.#pending.length} requests already wait for replies`,
        ),
      );
    }
    const bytes = encodeFrame(message);
    if (bytes.length > this.#limits.maxFrameBytes) {
      return Promise.reject(
        new JimError(
          Status.TOO_LARGE,
          `Cannot send request: exceeds ${this.#limits.maxFrameBytes} bytes`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const action = String(message.action);
    const entry: Pending = { action, list: options.list ?? false, resolve, reject };
    entry.timer = setTimeout(() => {
      const seconds = Math.round(this.#requestTimeout / 100) / 10;
      this.#teardown(
        new ConnectionError(`Connection lost: no reply to ${action} within ${seconds} s`),
      );
    }, this.#requestTimeout);
    this.#pending.push(entry);
    this.#write(bytes).catch((cause) => {
      this.#teardown(
        new ConnectionError(`Connection lost: cannot write: ${errorText(cause)}`, { cause }),
      );
    });
    const signal = options.signal;
    if (!signal) return promise;
    // The reply will still come and must be consumed in order; only the caller stops waiting.
    return new Promise<Reply>((res, rej) => {
      const onAbort = () => rej(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(res, rej).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    if (!conn || this.#state !== "open") {
      return Promise.reject(this.#closeError ?? new ConnectionError("Not connected"));
    }
    const next = this.#writeChain.then(() => writeAll(conn, bytes));
    this.#writeChain = next.catch(() => {});
    return next;
  }

  async #read(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(8192);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) {
          this.#decoder.finish();
          if (this.#quitting) this.#teardown(undefined, "Connection closed: quit");
          else {
            const why = this.#serverNotice === undefined ? "" : `: ${this.#serverNotice.text}`;
            this.#teardown(
              new ConnectionError(`Connection lost: server closed the connection${why}`),
            );
          }
          return;
        }
        for (const frame of this.#decoder.push(buffer.subarray(0, n))) this.#onFrame(frame);
      }
    } catch (cause) {
      if (this.#state === "closed") return;
      this.#teardown(
        new ConnectionError(`Connection lost: ${errorText(cause)}`, { cause }),
      );
    }
  }

  #onFrame(frame: DecodedFrame): void {
    // A reply that cannot be read cannot be matched either: skipping it would hand every
    // later reply to the wrong request, so the connection ends. A bad push is skipped.
    if (!frame.ok) {
      this.#dropConnection(frame.error.message, frame.error);
      return;
    }
    const checked = validateServerMessage(frame.value);
    if (!checked.ok) {
      if ("response" in frame.value) {
        this.#dropConnection(checked.error.message, checked.error);
        return;
      }
      this.emit("error", {
        error: new JimError(checked.error.code, `Ignored server message: ${checked.error.message}`),
      });
      return;
    }
    const { frame: message } = checked;
    switch (message.kind) {
      case "response":
        this.#onResponse(message.message);
        return;
      case "contact_list": {
        const contact = {
          login: message.message.user_id,
          online: message.message.online ?? false,
        };
        const head = this.#pending[0];
        if (head?.collected) {
          head.collected.items.push(contact);
          if (--head.collected.remaining === 0) this.#settle(head.collected.response);
        } else {
          this.emit("contact", contact);
        }
        return;
      }
      case "msg": {
        const m = message.message;
        const incoming: IncomingMessage = {
          from: m.from,
          to: m.to,
          text: m.message,
          time: Number.isFinite(m.time) && m.time > 0 ? Math.round(m.time * 1000) : Date.now(),
        };
        for (const queue of this.#queues) queue.push(incoming);
        this.emit("message", incoming);
        return;
      }
      case "probe":
        this.#answerProbe();
        return;
    }
  }

  #dropConnection(detail: string, cause: Error): void {
    const error = new ConnectionError(`Connection lost: unreadable reply: ${detail}`, { cause });
    this.emit("error", { error });
    this.#teardown(error);
  }

  #onResponse(response: JimResponse): void {
    const head = this.#pending[0];
    if (!head) {
      // A server about to close says why in a reply to no request ("Server shutting down",
      // "Account removed"); that is the reason to report when the connection ends.
      if (response.response >= 400 && response.error) {
        this.#serverNotice = { code: response.response, text: response.error };
      }
      this.emit("error", {
        error: new JimError(
          Status.BAD_REQUEST,
          `Ignored server message: reply ${response.response} to no request`,
        ),
      });
      return;
    }
    if (head.collected) {
      // A reply arrived before the announced list was complete: end the list with what came.
      this.#settle(head.collected.response);
      this.#onResponse(response);
      return;
    }
    const quantity = response.quantity ?? 0;
    if (head.list && response.response === Status.ACCEPTED && quantity > 0) {
      head.collected = { response, remaining: quantity, items: [] };
      return;
    }
    this.#settle(response);
  }

  #settle(response: JimResponse): void {
    const head = this.#pending.shift();
    if (!head) return;
    clearTimeout(head.timer);
    head.resolve({ response, contacts: head.collected?.items ?? [] });
  }

  #answerProbe(): void {
    const user = this.#user;
    this.emit("probe", { time: Date.now() });
    if (user === undefined) return;
    // The server answers this presence like any other (200), so it takes a place in the queue.
    this.#request({
      action: "presence",
      time: now(),
      type: "status",
      user: { account_name: user, status: "online" },
    }).catch(() => {});
  }

  #teardown(error: ConnectionError | undefined, reason?: string): void {
    if (this.#state === "closed") return;
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    const failure = error ?? new ConnectionError(reason ?? "Connection closed");
    this.#closeError = failure;
    const pending = this.#pending;
    this.#pending = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(failure);
    }
    try {
      this.#conn?.close();
    } catch {
      // Already closed by the peer.
    }
    for (const queue of this.#queues) queue.end();
    this.#queues.clear();
    if (wasOpen) {
      this.emit("disconnected", {
        ...this.#info(),
        reason: failure.message,
        ...(error ? { error } : {}),
        ...(error && this.#serverNotice ? { notice: { ...this.#serverNotice } } : {}),
      });
    }
    this.#closed.resolve();
  }
}

function decodeData(data: string | undefined, what: string): string {
  if (data === undefined) {
    throw new JimError(
      Status.AUTH_FAILED,
      what === "server-final"
        ? "Cannot verify server: signature missing"
        : `Invalid server message: SCRAM ${what} message missing`,
    );
  }
  try {
    return utf8Decoder.decode(fromBase64(data));
  } catch (cause) {
    throw new JimError(Status.BAD_REQUEST, `Invalid server message: SCRAM ${what} is not base64`, {
      cause,
    });
  }
}

/** Whether the server-first-message asks for the salt and count the cache was made with. */
function fitsCache(serverFirst: string, cache: SaltedPassword): boolean {
  let salt: Uint8Array | undefined;
  let iterations: number | undefined;
  for (const part of serverFirst.split(",")) {
    try {
      if (part.startsWith("s=")) salt = fromBase64(part.slice(2));
    } catch {
      return false;
    }
    if (part.startsWith("i=")) iterations = Number(part.slice(2));
  }
  return salt !== undefined && iterations === cache.iterations &&
    constantTimeEqual(salt, cache.salt);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  cleanup?: (late: T) => void,
): Promise<T> {
  if (!signal) return await promise;
  signal.throwIfAborted();
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([promise, aborted]);
  } catch (error) {
    if (signal.aborted && cleanup) promise.then(cleanup, () => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
