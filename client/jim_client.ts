import {
  accountNameProblem,
  type Capability,
  constantTimeEqual,
  type DecodedFrame,
  DEFAULT_LIMITS,
  type DeliveryState,
  encodeFrame,
  FrameDecoder,
  fromBase64,
  HMAC_MD5,
  isAccountName,
  isCapability,
  isMessageId,
  JimError,
  type JimResponse,
  legacyDigest,
  legacyStoredHash,
  MAX_HISTORY_PAGE,
  MAX_PASSWORD_LENGTH,
  type Mechanism,
  type ProtocolLimits,
  RECEIVE_MARGIN_BYTES,
  sameLogin,
  SCRAM_SHA_256,
  ScramClient,
  Status,
  toBase64,
  validateServerMessage,
} from "../protocol/mod.ts";
import { BoundedQueue } from "../common/bounded_queue.ts";
import { ConnectionError, UnsupportedError } from "./errors.ts";
import { TypedEventTarget } from "./_typed_event_target.ts";
import {
  isRoomName,
  parseRoomFrame,
  requireRoomName,
  ROOM_PUSH_ACTIONS,
  type RoomEvent,
  type RoomInfo,
  type RoomMember,
} from "./rooms.ts";

/** The host a client connects to when none is given. */
export const DEFAULT_HOST = "127.0.0.1";
/** The seed's port, used when none is given. */
export const DEFAULT_PORT = 7777;
/**
 * What a JimClient announces at login unless told otherwise: every capability it handles.
 * Without `rooms` the server sends no room frame.
 */
export const CLIENT_CAPABILITIES: readonly Capability[] = [
  "ids",
  "carbons",
  "presence",
  "receipts",
  "rooms",
];

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
  /**
   * What to announce in the presence that starts the login ({@linkcode CLIENT_CAPABILITIES}
   * by default). `[]` announces nothing, and the server then speaks the seed's dialect.
   */
  capabilities?: readonly Capability[];
}

/** A chat message received from the server. */
export interface IncomingMessage {
  /** The sender's login, as set by the server. */
  from: string;
  /** The recipient: this client's login, or for a carbon whoever this account wrote to. */
  to: string;
  /** The message text. */
  text: string;
  /**
   * Milliseconds since the epoch: the server's time (`ts`) when the server sent one, else
   * the sender's (whole seconds on the wire).
   */
  time: number;
  /** The server's id of the message (servers with `ids`). */
  id?: number;
  /** The server's time in milliseconds, when it sent one. */
  ts?: number;
  /** Kept by the server while this account was offline, delivered at login. */
  stored?: boolean;
  /** Sent by another session of this account (`carbons`): one's own message. */
  carbon?: boolean;
  /** The room it was posted to (`to` is then the room, `from` the member who wrote). */
  room?: string;
}

/** How the server took a message: {@linkcode JimClient.send}'s result. */
export interface SendResult {
  /**
   * `delivered`: at least one session of the recipient has it; `stored`: the server keeps it
   * until the recipient logs in. A server without `ids` says "Stored for NAME" instead.
   */
  state: DeliveryState;
  /** The server's id of the message (servers with `ids`). */
  id?: number;
  /** The server's time in milliseconds (servers with `ids`). */
  ts?: number;
  /** The server's text, e.g. "OK" or "Stored for bob". */
  alert: string;
}

/** A delivery or read update (servers with `receipts`). */
export interface Receipt {
  /** The message id; for `read`, the highest id read. */
  id: number;
  /** The other party: who got or read the message, or with `own` whose messages were read. */
  user: string;
  /** `delivered` or `read`. */
  state: "delivered" | "read";
  /** True when another session of this account marked `user`'s messages read. */
  own: boolean;
}

/** A contact came online or went offline (servers with `presence`). */
export interface PresenceChange {
  /** The contact's login. */
  login: string;
  /** Whether it is online now. */
  online: boolean;
}

/** One message of a history page. */
export interface HistoryItem {
  /** The server's id. */
  id: number;
  /** The server's time in milliseconds. */
  ts: number;
  /** The sender's login. */
  from: string;
  /** The recipient's login. */
  to: string;
  /** The text. */
  text: string;
  /**
   * For what this account sent: stored, delivered or read; for what it received: delivered,
   * or read once this account marked it read.
   */
  state?: DeliveryState;
}

/** Which part of the history {@linkcode JimClient.history} asks for. */
export interface HistoryQuery {
  /** One conversation; every conversation of this account when absent. */
  with?: string;
  /** Only messages older than this id. */
  before?: number;
  /** Only messages newer than this id. At most one of `before` and `after`. */
  after?: number;
  /** 1 to 100 (default 50). */
  limit?: number;
  /** Stops waiting for the page; the connection stays usable. */
  signal?: AbortSignal;
}

/** One history page, oldest first. */
export interface HistoryPage {
  /** The items that could be read, ascending by id. */
  items: HistoryItem[];
  /** Whether older (for `before` and the latest) or newer (for `after`) items exist. */
  more: boolean;
  /**
   * Items announced but not taken: malformed ones, and those missing because the answer
   * ended early. Each was reported on the "error" event.
   */
  skipped: number;
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
  /** A delivery or read update (servers with `receipts`). */
  receipt: CustomEvent<Receipt>;
  /** A contact came online or went offline (servers with `presence`). */
  presence: CustomEvent<PresenceChange>;
  /** Something happened in a room this account is in (servers with `rooms`). */
  room: CustomEvent<RoomEvent>;
}

/** What {@linkcode JimClient.join} reports. */
export interface JoinResult {
  /** The room as the server spells it. */
  room: string;
  /** Whether this join created the room (this account owns it then). */
  created: boolean;
  /** The server's text, e.g. "Joined #general". */
  alert: string;
}

/** The pushes that follow a `202 + quantity` reply, by the request that asks for them. */
type ListKind = "contact_list" | "history_item" | "room_list" | "room_member";
type ListItem = Contact | HistoryItem | RoomInfo | RoomMember;

interface Collected {
  response: JimResponse;
  remaining: number;
  items: ListItem[];
  /** Announced items that could not be read. */
  skipped: number;
}

interface Pending {
  action: string;
  /** Expects `202 + quantity` followed by that many objects of this kind. */
  list?: ListKind;
  /** The most items the answer may announce (a history page's limit). */
  maxItems?: number;
  collected?: Collected;
  timer?: ReturnType<typeof setTimeout>;
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

interface Reply {
  response: JimResponse;
  items: ListItem[];
  skipped: number;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
/** What a server says just before it closes, never in answer to a request. */
const PARTING: ReadonlySet<string> = new Set(["Account removed", "Server shutting down"]);
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

/** A login or, starting with `#`, a room name. */
function requireConversation(name: string, field: string): void {
  if (typeof name === "string" && name.startsWith("#")) requireRoomName(name, field);
  else requireName(name, field);
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
  readonly #announce: readonly Capability[];
  #capabilities: ReadonlySet<Capability> = new Set();

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
    this.#announce = [...new Set(options.capabilities ?? CLIENT_CAPABILITIES)];
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
   * What the server said it supports of what this client announced, fixed at login; empty
   * before login and with a server that answers no capabilities (a seed server, or a jim
   * server from before issue 12).
   */
  get capabilities(): ReadonlySet<Capability> {
    return this.#capabilities;
  }

  /**
   * Whether the server supports `capability` for this session.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * if (client.supports("ids")) console.log(await client.history({ with: "bob", limit: 20 }));
   * ```
   */
  supports(capability: Capability): boolean {
    return this.#capabilities.has(capability);
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
      ...(this.#announce.length > 0 ? { capabilities: [...this.#announce] } : {}),
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
    // Only what was asked for counts: a server cannot switch on what this client never announced.
    const answered = new Set(hello.response.capabilities ?? []);
    this.#capabilities = new Set(
      this.#announce.filter((c) => isCapability(c) && answered.has(c)),
    );
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
   * Sends a chat message; resolves when the server accepted it (200): `delivered` when a
   * session of the recipient got it, `stored` when the server keeps it for the recipient
   * (offline delivery). A server with `ids` also gives the message's `id` and `ts`.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * import { JimError } from "../protocol/mod.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * try {
   *   const { state, id } = await client.send("bob", "hi");
   *   console.log(state, id); // "stored" 1043 while bob is offline
   * } catch (err) {
   *   if (err instanceof JimError && err.code === 410) console.log(err.message);
   * }
   * ```
   * @throws {JimError} with the server's code and text, e.g. 410 "Client not online: bob"
   *   (a server that does not store), 503 when bob's backlog is full; 400 for an invalid
   *   name or a too long text, checked before sending.
   * @throws {ConnectionError} when the connection is lost before the reply.
   */
  async send(
    to: string,
    text: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<SendResult> {
    requireConversation(to, "to");
    if (typeof text !== "string" || text.length === 0) {
      throw new JimError(Status.BAD_REQUEST, "Invalid field: message must not be empty");
    }
    const max = this.#limits.maxMessageLength;
    if (text.length > max && [...text].length > max) {
      throw new JimError(Status.BAD_REQUEST, `Invalid field: message exceeds ${max} characters`);
    }
    if (to.startsWith("#")) this.#require("rooms", "msg to a room");
    const reply = await this.#request({
      action: "msg",
      time: now(),
      to,
      from: this.#user ?? "",
      encoding: "utf-8",
      message: text,
    }, options);
    const r = reply.response;
    if (r.response !== Status.OK) throw refusal(r);
    const alert = r.alert ?? "OK";
    // A server that stores but was not asked for `ids` says so only in its text, as to a seed.
    const state: DeliveryState = r.state ?? (/^Stored for /.test(alert) ? "stored" : "delivered");
    return {
      state,
      alert,
      ...(r.id === undefined ? {} : { id: r.id }),
      ...(r.ts === undefined ? {} : { ts: r.ts }),
    };
  }

  /**
   * One page of the server's history (servers with `ids`): a conversation (`with`) or every
   * conversation of this account, the latest `limit` messages or those `before` or `after` an
   * id, oldest first. Malformed items are skipped and reported on the "error" event, and so
   * is an answer that announces more items than the page may hold; the connection stays.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * let page = await client.history({ with: "bob", limit: 50 });
   * while (page.more && page.items[0]) {
   *   page = await client.history({ with: "bob", before: page.items[0].id, limit: 50 });
   * }
   * ```
   * @throws {UnsupportedError} when the server did not announce `ids`; nothing is sent.
   * @throws {JimError} 400 for a bad query, checked before sending; the server's 404
   *   "No such message: ID" for an id not in that conversation.
   */
  async history(query: HistoryQuery = {}): Promise<HistoryPage> {
    const limit = query.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
      throw new JimError(
        Status.BAD_REQUEST,
        `Invalid field: limit must be 1 to ${MAX_HISTORY_PAGE}`,
      );
    }
    if (query.with !== undefined) requireConversation(query.with, "with");
    for (const key of ["before", "after"] as const) {
      const id = query[key];
      if (id !== undefined && !isMessageId(id)) {
        throw new JimError(
          Status.BAD_REQUEST,
          `Invalid field: ${key} must be a positive integer below 2^53`,
        );
      }
    }
    if (query.before !== undefined && query.after !== undefined) {
      throw new JimError(Status.BAD_REQUEST, "Invalid query: before and after exclude each other");
    }
    this.#require("ids", "history");
    const reply = await this.#request({
      action: "history",
      time: now(),
      ...(query.with === undefined ? {} : { with: query.with }),
      ...(query.before === undefined ? {} : { before: query.before }),
      ...(query.after === undefined ? {} : { after: query.after }),
      limit,
    }, { signal: query.signal, list: "history_item", maxItems: limit });
    if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
    const items = (reply.items as HistoryItem[]).slice().sort((a, b) => a.id - b.id);
    return { items, more: reply.response.more === true, skipped: reply.skipped };
  }

  /**
   * Marks the conversation with `peer` read up to message `id` (servers with `ids`). The
   * server tells `peer`'s sessions (a read receipt) and this account's other sessions.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.markRead("bob", 1043);
   * ```
   * @throws {UnsupportedError} when the server did not announce `ids`; nothing is sent.
   * @throws {JimError} 400 for a bad login or id; the server's 404 "No such message: ID" for
   *   an id that is not a message `peer` sent to this account.
   */
  async markRead(
    peer: string,
    id: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    requireName(peer, "user_id");
    if (!isMessageId(id)) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Invalid field: id must be a positive integer below 2^53",
      );
    }
    this.#require("ids", "read");
    const reply = await this.#request(
      { action: "read", time: now(), user_id: peer, id },
      options,
    );
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
  }

  /**
   * Joins a room, creating it when absent (this account then owns it); `inviteOnly` makes a
   * new room invite-only (ignored for a room that exists). Servers with `rooms`.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * const { created } = await client.join("#team", { inviteOnly: true });
   * ```
   * @throws {UnsupportedError} when the server did not announce `rooms`; nothing is sent.
   * @throws {JimError} 400 for a bad name (checked before sending); the server's refusal,
   *   e.g. 403 for an invite-only room without an invitation, or a limit.
   */
  async join(
    room: string,
    options: { inviteOnly?: boolean; signal?: AbortSignal } = {},
  ): Promise<JoinResult> {
    requireRoomName(room);
    this.#require("rooms", "join");
    const reply = await this.#request({
      action: "join",
      time: now(),
      room,
      ...(options.inviteOnly ? { invite_only: true } : {}),
    }, options);
    const r = reply.response;
    if (r.response !== Status.OK) throw refusal(r);
    const answered = (r as { room?: unknown }).room;
    return {
      room: isRoomName(answered) ? answered : room,
      created: (r as { created?: unknown }).created === true,
      alert: r.alert ?? "OK",
    };
  }

  /**
   * Leaves a room; nothing more of it arrives.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.leave("#team");
   * ```
   * @throws {JimError} the server's refusal, e.g. when not a member.
   */
  async leave(room: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#roomRequest({ action: "leave", room }, options);
  }

  /**
   * The rooms this account is a member of (get_rooms: 202 with a quantity, then that many
   * room_list objects).
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * for (const r of await client.rooms()) console.log(r.room, r.owner, r.members);
   * ```
   */
  async rooms(options: { signal?: AbortSignal } = {}): Promise<RoomInfo[]> {
    this.#require("rooms", "get_rooms");
    const reply = await this.#request({ action: "get_rooms", time: now() }, {
      ...options,
      list: "room_list",
    });
    if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
    return reply.items as RoomInfo[];
  }

  /**
   * The members of a room, with their online state and the owner marked.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * for (const m of await client.members("#team")) console.log(m.login, m.online, m.owner);
   * ```
   * @throws {JimError} the server's refusal, e.g. 403 for a room this account is not in.
   */
  async members(room: string, options: { signal?: AbortSignal } = {}): Promise<RoomMember[]> {
    requireRoomName(room);
    this.#require("rooms", "members");
    const reply = await this.#request({ action: "members", time: now(), room }, {
      ...options,
      list: "room_member",
    });
    if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
    return reply.items as RoomMember[];
  }

  /**
   * Invites `login` to a room (any member may); the invited login may then join an
   * invite-only room.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.invite("#team", "bob");
   * ```
   */
  async invite(room: string, login: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    requireName(login, "user_id");
    await this.#roomRequest({ action: "invite", room, user_id: login }, options);
  }

  /**
   * Removes a member from a room (the owner only).
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.kick("#team", "bob");
   * ```
   */
  async kick(room: string, login: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    requireName(login, "user_id");
    await this.#roomRequest({ action: "kick", room, user_id: login }, options);
  }

  /**
   * Hands a room over to another member (the owner only).
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.setOwner("#team", "bob");
   * ```
   */
  async setOwner(
    room: string,
    login: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    requireName(login, "user_id");
    await this.#roomRequest({ action: "set_owner", room, user_id: login }, options);
  }

  /**
   * Deletes a room (the owner only); its members are told.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.deleteRoom("#team");
   * ```
   */
  async deleteRoom(room: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#roomRequest({ action: "delete_room", room }, options);
  }

  /**
   * Changes a room's settings (the owner only): `historyVisible` lets new members read the
   * whole history instead of what came after they joined; `inviteOnly` closes or opens it.
   *
   * @example
   * ```ts
   * import { JimClient } from "./jim_client.ts";
   * const client = await JimClient.connect({ port: 7777 });
   * await client.login("alice", "secret");
   * await client.roomConfig("#team", { historyVisible: true });
   * ```
   */
  async roomConfig(
    room: string,
    config: { historyVisible?: boolean; inviteOnly?: boolean },
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const fields: Record<string, boolean> = {};
    for (
      const [key, wire] of [["historyVisible", "history_visible"], ["inviteOnly", "invite_only"]]
    ) {
      const value = config[key as keyof typeof config];
      if (value === undefined) continue;
      if (typeof value !== "boolean") {
        throw new JimError(Status.BAD_REQUEST, `Invalid field: ${wire} must be true or false`);
      }
      fields[wire!] = value;
    }
    if (Object.keys(fields).length === 0) {
      throw new JimError(Status.BAD_REQUEST, "Missing field: invite_only or history_visible");
    }
    await this.#roomRequest({ action: "room_config", room, ...fields }, options);
  }

  async #roomRequest(
    message: { action: string; room: string } & Record<string, unknown>,
    options: { signal?: AbortSignal },
  ): Promise<JimResponse> {
    requireRoomName(message.room);
    this.#require("rooms", message.action);
    const reply = await this.#request({ ...message, time: now() }, options);
    if (reply.response.response !== Status.OK) throw refusal(reply.response);
    return reply.response;
  }

  #require(capability: Capability, action: string): void {
    if (this.#capabilities.has(capability)) return;
    throw new UnsupportedError(
      `Not supported by the server: ${action} (it did not announce "${capability}")`,
    );
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
      list: "contact_list",
    });
    if (reply.response.response !== Status.ACCEPTED) throw refusal(reply.response);
    return reply.items as Contact[];
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
    options: { signal?: AbortSignal; list?: ListKind; maxItems?: number } = {},
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
    const entry: Pending = {
      action,
      ...(options.list ? { list: options.list } : {}),
      ...(options.maxItems ? { maxItems: options.maxItems } : {}),
      resolve,
      reject,
    };
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
    if (
      typeof frame.value.action === "string" && ROOM_PUSH_ACTIONS.has(frame.value.action) &&
      !("response" in frame.value)
    ) {
      this.#onRoomFrame(frame.value);
      return;
    }
    const checked = validateServerMessage(frame.value);
    if (!checked.ok) {
      if ("response" in frame.value) {
        this.#dropConnection(checked.error.message, checked.error);
        return;
      }
      const action = typeof frame.value.action === "string" ? frame.value.action : undefined;
      this.#ignore(checked.error.message);
      // A broken item still takes its place in the list, so the list ends where it should.
      const head = this.#pending[0];
      if (action && head?.collected && head.list === action) this.#collect(head, undefined);
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
        if (head?.collected && head.list === "contact_list") this.#collect(head, contact);
        else this.emit("contact", contact);
        return;
      }
      case "history_item": {
        const head = this.#pending[0];
        if (!(head?.collected && head.list === "history_item")) {
          this.#ignore("history_item outside a history answer");
          return;
        }
        const m = message.message;
        this.#collect(head, {
          id: m.id,
          ts: m.ts,
          from: m.from,
          to: m.to,
          text: m.message,
          ...(m.state === undefined ? {} : { state: m.state }),
        });
        return;
      }
      case "msg": {
        const m = message.message;
        const user = this.#user;
        const room = m.to.startsWith("#") ? m.to : undefined;
        if (room !== undefined && !this.#capabilities.has("rooms")) {
          // Rooms were not agreed on; a server that sends room traffic anyway is ignored.
          this.#ignore(`msg to ${m.to}: this session does not take part in rooms`);
          return;
        }
        if (room !== undefined && (!isRoomName(room) || !isAccountName(m.from))) {
          this.#ignore(`msg to ${m.to} from ${m.from}: not a room message`);
          return;
        }
        if (
          room === undefined && user !== undefined && !sameLogin(m.to, user) &&
          !sameLogin(m.from, user)
        ) {
          this.#ignore(`msg from ${m.from} to ${m.to}: not a conversation of ${user}`);
          return;
        }
        const incoming: IncomingMessage = {
          from: m.from,
          to: m.to,
          text: m.message,
          time: m.ts ??
            (Number.isFinite(m.time) && m.time > 0 ? Math.round(m.time * 1000) : Date.now()),
          ...(m.id === undefined ? {} : { id: m.id }),
          ...(m.ts === undefined ? {} : { ts: m.ts }),
          ...(m.stored ? { stored: true } : {}),
          ...(m.carbon ? { carbon: true } : {}),
          ...(room === undefined ? {} : { room }),
        };
        if (incoming.carbon && user !== undefined && !sameLogin(m.from, user)) {
          this.#ignore(`carbon from ${m.from}: a carbon copies what ${user} sent`);
          return;
        }
        for (const queue of this.#queues) queue.push(incoming);
        this.emit("message", incoming);
        return;
      }
      case "receipt": {
        const r = message.message;
        this.emit("receipt", { id: r.id, user: r.user_id, state: r.state, own: r.own === true });
        return;
      }
      case "presence": {
        const p = message.message.user;
        this.emit("presence", { login: p.account_name, online: p.status === "online" });
        return;
      }
      case "probe":
        this.#answerProbe();
        return;
    }
  }

  #onRoomFrame(value: Record<string, unknown>): void {
    const action = String(value.action);
    const head = this.#pending[0];
    const listed = head?.collected && head.list === action;
    if (!this.#capabilities.has("rooms")) {
      this.#ignore(`${action}: this session does not take part in rooms`);
      if (listed) this.#collect(head, undefined);
      return;
    }
    const parsed = parseRoomFrame(value);
    if (parsed.kind === "invalid") {
      this.#ignore(`${action}: ${parsed.error}`);
      if (listed) this.#collect(head, undefined);
      return;
    }
    if (parsed.kind === "room_event") {
      this.emit("room", parsed.value);
      return;
    }
    if (!listed) {
      this.#ignore(
        `${action} outside a ${action === "room_member" ? "members" : "get_rooms"} answer`,
      );
      return;
    }
    this.#collect(head, parsed.value);
  }

  #ignore(detail: string): void {
    this.emit("error", {
      error: new JimError(Status.BAD_REQUEST, `Ignored server message: ${detail}`),
    });
  }

  /** One announced list item (undefined: announced but unreadable). */
  #collect(head: Pending, item: ListItem | undefined): void {
    const collected = head.collected!;
    if (item === undefined) collected.skipped++;
    else collected.items.push(item);
    if (--collected.remaining === 0) this.#settle(collected.response);
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
      const missing = head.collected.remaining;
      head.collected.skipped += missing;
      this.#ignore(`${head.action} answer ended ${missing} item(s) short of its quantity`);
      this.#settle(head.collected.response);
      this.#onResponse(response);
      return;
    }
    if (response.response >= 400 && response.error !== undefined && PARTING.has(response.error)) {
      // The server's parting words can meet a request on its way and take its place as the
      // reply; they still say why the connection is about to end.
      this.#serverNotice = { code: response.response, text: response.error };
    }
    let quantity = response.quantity ?? 0;
    if (head.list && response.response === Status.ACCEPTED && quantity > 0) {
      if (head.maxItems !== undefined && quantity > head.maxItems) {
        // Waiting for more items than were asked for could wait forever.
        this.#ignore(
          `${head.action} answer announces ${quantity} items for a page of at most ` +
            `${head.maxItems}; reading ${head.maxItems}`,
        );
        quantity = head.maxItems;
      }
      head.collected = { response, remaining: quantity, items: [], skipped: 0 };
      return;
    }
    this.#settle(response);
  }

  #settle(response: JimResponse): void {
    const head = this.#pending.shift();
    if (!head) return;
    clearTimeout(head.timer);
    head.resolve({
      response,
      items: head.collected?.items ?? [],
      skipped: head.collected?.skipped ?? 0,
    });
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
