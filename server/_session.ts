/**
 * One client connection: reading and framing, the per-connection rate limit and backlog,
 * login, request handling and the bounded outbound queue.
 *
 * @module
 */
import {
  encodeFrame,
  FrameDecoder,
  type FrameError,
  fromBase64,
  HMAC_MD5,
  JimError,
  type JimRequest,
  MAX_NAME_LENGTH,
  type Mechanism,
  newToken,
  SCRAM_SHA_256,
  type ScramCredentials,
  ScramServerExchange,
  Status,
  toBase64,
  validateRequest,
  verifyLegacyDigest,
} from "../protocol/mod.ts";
import type { Clock } from "./clock.ts";
import type { ConnInfo, EventFeed } from "./events.ts";
import type { Decoys } from "./_decoy.ts";
import type { LoginThrottle, Turn } from "./_login_throttle.ts";
import type { LoginClaims } from "./_takeover.ts";
import type { ServerLimits } from "./limits.ts";
import { TokenBucket } from "./_rate_limiter.ts";
import { loginKey, type LoginRecord, type Store } from "./store.ts";

/** Read buffer of an idle connection, in bytes. */
const IDLE_READ_BUFFER = 512;

/** What a session needs from its server. */
export interface SessionContext {
  readonly store: Store;
  readonly limits: ServerLimits;
  readonly legacyAuth: boolean;
  readonly events: EventFeed;
  readonly clock: Clock;
  readonly throttle: LoginThrottle;
  readonly decoys: Decoys;
  readonly online: Map<string, Session>;
  readonly claims: LoginClaims<Session>;
  recordLogin(record: LoginRecord): void;
  recordLogout(login: string, time: number): void;
  sessionClosed(session: Session): void;
}

type Inbound =
  | { kind: "frame"; value: Record<string, unknown> }
  | { kind: "bad"; error: FrameError }
  | { kind: "fatal"; error: FrameError };

type State = "open" | "ending" | "closed";

const OK_FRAME = encodeFrame({ response: Status.OK, alert: "OK" });
const AUTH_REQUIRED = "Authentication required";
/**
 * Told to a logged-in client whose account was deleted. 403, not 401 (which here carries a
 * login challenge), 402 (wrong credentials) or 410 (a recipient is offline): the server refuses
 * this session for good, and the missing `retry_after` tells it apart from a login lockout.
 */
export const ACCOUNT_REMOVED = "Account removed";
/**
 * Told to a session that did not answer a probe while someone logged in to its account with
 * valid credentials. 403 like {@linkcode ACCOUNT_REMOVED}: a client must not log in again by
 * itself, or two clients would take the login from each other in turn.
 */
export const TAKEN_OVER = "Session taken over: logged in again from another connection";
/** The one answer to a failed legacy login, whether the user, their legacy hash or the password is missing. */
export const LEGACY_DENIED =
  `Access denied: wrong password, or no legacy password is stored for this client; use ${SCRAM_SHA_256}`;
/** Largest single write: queued frames are coalesced up to this size. */
const MAX_WRITE = 64 * 1024;
/** A streamed list waits while more than this is queued for the client. */
const STREAM_HIGH_WATER = 64 * 1024;
/** Logins read for one get_users page; fewer are sent when they do not fit in a frame. */
const USERS_PER_PAGE = 1000;
/** The longest JSON string an account name can be (25 characters of 4 UTF-8 bytes, quoted). */
const MAX_NAME_JSON_BYTES = 2 + 4 * MAX_NAME_LENGTH;
const utf8Encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A SCRAM exchange between its first and final message. */
interface PendingScram {
  key: string;
  exchange: ScramServerExchange;
  /** The user's, or the decoy's for a login that does not exist. */
  credentials: ScramCredentials;
  /** The login in display case; undefined for a decoy. */
  login: string | undefined;
  /** Whether the user last logged in from this address. */
  trusted: boolean;
}

/** A connection's session. Created and owned by {@linkcode JimServer}. */
export class Session {
  readonly id: number;
  readonly ip: string;
  readonly port: number;
  readonly connectedAt: number;
  /** The login in display case, once authenticated. */
  user: string | undefined;
  userKey: string | undefined;
  /** Last time any bytes arrived, Unix ms. */
  lastActivity: number;
  /** When a probe went out unanswered, or 0. */
  probeSentAt = 0;

  readonly #conn: Deno.Conn;
  readonly #ctx: SessionContext;
  readonly #decoder: FrameDecoder;
  readonly #bucket: TokenBucket | undefined;
  #state: State = "open";
  #reason = "";
  #eof = false;
  #discard = false;

  #inbox: Inbound[] = [];
  #busy = false;
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerOnEnd = true;

  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #drainWaiters: { below: number; resolve: () => void }[] = [];

  #challenge: { key: string; token: string } | undefined;
  #scram: PendingScram | undefined;
  /** Waiting for the throttle or for a takeover: the login deadline does not run. */
  #waiting = false;
  /** Aborted at close: ends waits on the session's behalf. */
  readonly #lifetime = new AbortController();
  /** A takeover probe awaiting any sign of life. */
  #liveness: { deadline: number; resolve: (alive: boolean) => void } | undefined;
  #alive: Promise<boolean> | undefined;

  #readTask: Promise<void> = Promise.resolve();
  #writeTask: Promise<void> = Promise.resolve();
  #pumpTask: Promise<void> = Promise.resolve();
  #shutdownTask: Promise<void> = Promise.resolve();

  constructor(id: number, conn: Deno.Conn, ctx: SessionContext) {
    this.id = id;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.ip = addr.hostname;
    this.port = addr.port;
    this.#conn = conn;
    this.#ctx = ctx;
    this.connectedAt = this.lastActivity = ctx.clock.now();
    this.#decoder = new FrameDecoder({ maxFrameBytes: ctx.limits.maxFrameBytes });
    this.#bucket = ctx.limits.rateLimit > 0
      ? new TokenBucket(ctx.limits.rateLimit, ctx.limits.rateBurst, () => ctx.clock.now())
      : undefined;
  }

  /** The connection as events describe it. */
  get info(): ConnInfo {
    return this.user === undefined
      ? { id: this.id, ip: this.ip, port: this.port }
      : { id: this.id, ip: this.ip, port: this.port, user: this.user };
  }

  /** Whether the session is closed. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Whether the session still takes requests. */
  get open(): boolean {
    return this.#state === "open";
  }

  /**
   * Probes the client now, because someone else proved the password of this session's
   * account. Resolves true as soon as anything arrives; false when nothing does within the
   * takeover timeout (the client is then told {@linkcode TAKEN_OVER} and the session ends,
   * freeing the login) or when the session closes first.
   */
  checkAlive(): Promise<boolean> {
    if (this.#state !== "open") return Promise.resolve(false);
    if (!this.#alive) {
      const { promise, resolve } = Promise.withResolvers<boolean>();
      const now = this.#ctx.clock.now();
      this.#liveness = { deadline: now + this.#ctx.limits.takeoverTimeoutMs, resolve };
      this.#alive = promise.finally(() => (this.#alive = undefined));
      this.#push({ action: "probe", time: Math.floor(now / 1000) });
    }
    return this.#alive;
  }

  /** Requests received and not yet handled. */
  get pendingRequests(): number {
    return this.#inbox.length;
  }

  /** Bytes waiting to be written to this connection. */
  get queuedBytes(): number {
    return this.#outBytes;
  }

  /** Starts reading. */
  start(): void {
    this.#readTask = this.#readLoop();
  }

  /** Resolves once every task of the session has finished. */
  async done(): Promise<void> {
    await this.#readTask;
    await this.#writeTask;
    await this.#pumpTask;
    await this.#shutdownTask;
  }

  /** Called by the server's sweep: authentication timeout and idle probing. */
  tick(now: number): void {
    if (this.#state !== "open") return;
    const limits = this.#ctx.limits;
    if (this.#liveness && now >= this.#liveness.deadline) {
      const { resolve } = this.#liveness;
      this.#liveness = undefined;
      this.#reply({ response: Status.FORBIDDEN, error: TAKEN_OVER });
      this.#end(TAKEN_OVER);
      resolve(false);
      return;
    }
    if (this.user === undefined) {
      if (!this.#waiting && now - this.connectedAt >= limits.authTimeoutMs) {
        this.#reply({
          response: Status.UNAUTHORIZED,
          error: `Authentication timed out: no login within ${limits.authTimeoutMs / 1000} s`,
        });
        this.#end("Authentication timed out");
      }
      return;
    }
    if (this.probeSentAt === 0) {
      if (now - this.lastActivity >= limits.idleProbeMs) {
        this.probeSentAt = now;
        this.#push({ action: "probe", time: Math.floor(now / 1000) });
      }
    } else if (now - this.probeSentAt >= limits.probeGraceMs) {
      this.close("Idle timeout: no answer to probe");
    }
  }

  /**
   * Queues a chat message for this connection. A consumer too slow to take it is
   * disconnected and false is returned, so the sender can be told.
   */
  deliver(message: Record<string, unknown>, frame: Uint8Array = encodeFrame(message)): boolean {
    if (this.#state !== "open") return false;
    if (this.#ctx.events.wants("push")) {
      this.#ctx.events.publish("push", { conn: this.info, payload: message });
    }
    if (this.#enqueue(frame)) return true;
    this.close(`Slow consumer: more than ${this.#ctx.limits.maxOutboundBytes} bytes queued`);
    return false;
  }

  /** Tells the client the server is stopping, flushes briefly, then closes. */
  shutdown(): void {
    if (this.#state !== "open") {
      this.close(this.#reason || "Server shutting down");
      return;
    }
    this.#reply({ response: Status.UNAVAILABLE, error: "Server shutting down" });
    this.#lingerOnEnd = false;
    this.#end("Server shutting down");
  }

  /**
   * Tells a logged-in client its account no longer exists, then ends the session like any
   * other fatal error: the notice is flushed before the connection closes.
   */
  accountRemoved(): void {
    if (this.#state !== "open") return;
    this.#reply({ response: Status.FORBIDDEN, error: ACCOUNT_REMOVED });
    this.#end(ACCOUNT_REMOVED);
  }

  /** Closes the connection at once. Idempotent. */
  close(reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#reason = reason;
    clearTimeout(this.#rateTimer);
    clearTimeout(this.#lingerTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset; nothing left to release.
    }
    this.#out = [];
    this.#outBytes = 0;
    this.#wakeDrained();
    this.#inbox = [];
    this.#scram = undefined;
    this.#challenge = undefined;
    this.#lifetime.abort(new Error("Connection closed"));
    if (this.#liveness) {
      const { resolve } = this.#liveness;
      this.#liveness = undefined;
      resolve(false);
    }
    this.#goOffline();
    this.#ctx.sessionClosed(this);
    this.#ctx.events.publish("disconnect", { conn: this.info, message: reason });
  }

  #goOffline(): void {
    if (this.userKey !== undefined && this.#ctx.online.get(this.userKey) === this) {
      this.#ctx.online.delete(this.userKey);
      this.#ctx.recordLogout(this.user!, this.#ctx.clock.now());
    }
  }

  // --- reading -------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    // A pending read pins its buffer, so an idle connection holds a small one; a read that
    // fills it switches to the full-size buffer until traffic calms down again.
    const small = Math.min(IDLE_READ_BUFFER, this.#ctx.limits.readBufferBytes);
    let buffer = new Uint8Array(small);
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        // A peer vanishing is ordinary; the reason goes with the disconnect event.
        this.close(`Connection lost: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      if (this.#state === "closed") return;
      if (n === null) {
        this.#onEof();
        return;
      }
      // Frames are handled in a separate call so that nothing from them stays referenced by
      // this suspended loop while the connection idles: such leftovers would be promoted to
      // the old generation and fragment it across thousands of idle connections.
      try {
        this.#onData(buffer.subarray(0, n));
      } catch (error) {
        this.#crashed(error);
        return;
      }
      if (n === buffer.length && buffer.length < this.#ctx.limits.readBufferBytes) {
        buffer = new Uint8Array(this.#ctx.limits.readBufferBytes);
      } else if (n < small && buffer.length > small) {
        buffer = new Uint8Array(small);
      }
    }
  }

  #onData(chunk: Uint8Array): void {
    this.lastActivity = this.#ctx.clock.now();
    this.probeSentAt = 0;
    if (this.#discard || this.#state !== "open") return;
    if (this.#liveness) {
      const { resolve } = this.#liveness;
      this.#liveness = undefined;
      resolve(true);
    }
    let frames;
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#discard = true;
      this.#accept({ kind: "fatal", error: error as FrameError });
      return;
    }
    for (const frame of frames) {
      if (this.#discard) break;
      this.#accept(
        frame.ok ? { kind: "frame", value: frame.value } : { kind: "bad", error: frame.error },
      );
    }
  }

  #onEof(): void {
    this.#eof = true;
    if (this.#state === "ending") {
      if (!this.#writing) this.close(this.#reason);
    } else if (this.#state === "open" && !this.#busy && this.#inbox.length === 0) {
      this.#end("Client disconnected");
    }
  }

  #accept(item: Inbound): void {
    this.#inbox.push(item);
    if (this.#inbox.length > this.#ctx.limits.maxBacklog) {
      this.#discard = true;
      this.#inbox = [];
      this.#reply({
        response: Status.TOO_LARGE,
        error: `Too many requests: more than ${this.#ctx.limits.maxBacklog} waiting`,
      });
      this.#end("Request backlog overflow");
      return;
    }
    if (!this.#busy) this.#pump();
  }

  /** Handles queued requests in order, pausing for the rate limit or an async step. */
  #pump(): void {
    while (this.#state === "open" && this.#inbox.length > 0) {
      const wait = this.#bucket?.take() ?? 0;
      if (wait > 0) {
        this.#busy = true;
        this.#rateTimer = setTimeout(() => {
          this.#rateTimer = undefined;
          this.#busy = false;
          this.#guardedPump();
        }, wait);
        return;
      }
      const pending = this.#dispatch(this.#inbox.shift()!);
      if (pending) {
        this.#busy = true;
        this.#pumpTask = pending.then(() => {
          this.#busy = false;
          this.#guardedPump();
        });
        return;
      }
    }
    if (this.#state === "open" && this.#eof && this.#inbox.length === 0) {
      this.#end("Client disconnected");
    }
  }

  /** The pump outside a read: a bug must end this session, never the process. */
  #guardedPump(): void {
    try {
      this.#pump();
    } catch (error) {
      this.#crashed(error);
    }
  }

  /** An unexpected failure in this session's own code: report it and drop the connection. */
  #crashed(error: unknown): void {
    this.#ctx.events.publish("error", {
      conn: this.info,
      message: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
    this.close("Internal server error");
  }

  #dispatch(item: Inbound): Promise<void> | undefined {
    try {
      const result = this.#handle(item);
      if (result) return result.catch((error) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
    return undefined;
  }

  #failed(error: unknown): void {
    if (error instanceof JimError) {
      this.#reply(error.toResponse());
      return;
    }
    this.#ctx.events.publish("error", {
      conn: this.info,
      message: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
    this.#reply({ response: Status.SERVER_ERROR, error: "Internal server error" });
  }

  // --- requests ------------------------------------------------------------------------

  #handle(item: Inbound): Promise<void> | void {
    if (item.kind === "fatal") {
      this.#reply({ response: item.error.code, error: item.error.message });
      this.#end(item.error.message);
      return;
    }
    if (item.kind === "bad") {
      this.#reply({ response: Status.BAD_REQUEST, error: item.error.message });
      return;
    }
    const events = this.#ctx.events;
    if (events.wants("request")) {
      events.publish("request", { conn: this.info, payload: item.value });
    }
    const result = validateRequest(item.value, {
      maxFrameBytes: this.#ctx.limits.maxFrameBytes,
      maxMessageLength: this.#ctx.limits.maxMessageLength,
    });
    if (!result.ok) {
      this.#reply(result.error.toResponse());
      return;
    }
    const request = result.request;
    if (this.user === undefined) {
      switch (request.action) {
        case "presence":
          return this.#presence(request.user.account_name);
        case "authenticate":
          return this.#authenticate(request);
        case "quit":
          return this.#quit();
        default:
          this.#reply({ response: Status.UNAUTHORIZED, error: AUTH_REQUIRED });
          return;
      }
    }
    switch (request.action) {
      case "presence":
        return this.#presenceOnline(request.user.account_name);
      case "authenticate":
        throw new JimError(Status.CONFLICT, "Already authenticated");
      case "msg":
        return this.#msg(request.to, request.message, request.time);
      case "get_contacts":
        return this.#getContacts();
      case "add_contact": {
        const login = this.#ctx.store.addContact(this.user, request.user_id, {
          max: this.#ctx.limits.maxContacts,
        });
        this.#reply({ response: Status.OK, alert: `Added to contacts: ${login}` });
        return;
      }
      case "del_contact": {
        const login = this.#ctx.store.removeContact(this.user, request.user_id);
        this.#reply({ response: Status.OK, alert: `Removed from contacts: ${login}` });
        return;
      }
      case "get_users":
        this.#getUsers(request.after);
        return;
      case "quit":
        return this.#quit();
    }
  }

  #mechanisms(): Mechanism[] {
    return this.#ctx.legacyAuth ? [SCRAM_SHA_256, HMAC_MD5] : [SCRAM_SHA_256];
  }

  /**
   * Starts a login. Every name gets the same answer, known or not, online or not, and the
   * store is not even asked: nothing before a valid proof tells accounts apart.
   */
  #presence(name: string): void {
    const token = newToken();
    this.#challenge = { key: loginKey(name), token };
    this.#reply({
      response: Status.UNAUTHORIZED,
      error: AUTH_REQUIRED,
      token,
      mechanisms: this.#mechanisms(),
    });
  }

  #presenceOnline(name: string): void {
    if (loginKey(name) !== this.userKey) {
      throw new JimError(
        Status.BAD_REQUEST,
        `Invalid field: user.account_name must be this session's login, ${this.user}`,
      );
    }
    this.#ctx.recordLogout(this.user!, this.#ctx.clock.now());
    this.#reply({ response: Status.OK, alert: "OK" });
  }

  #quit(): void {
    this.#reply({ response: Status.OK, alert: "Bye" });
    this.#end("Client quit");
  }

  #authenticate(request: JimRequest & { action: "authenticate" }): Promise<void> | void {
    const key = loginKey(request.user.account_name);
    const refusal = this.#ctx.throttle.refusal(this.ip, key);
    if (refusal) {
      this.#challenge = undefined;
      this.#scram = undefined;
      const seconds = Math.ceil(refusal.retryAfterMs / 1000);
      this.#ctx.events.publish("error", {
        conn: this.info,
        message: refusal.scope === "login"
          ? `Login as ${key} refused for ${seconds} s: failed logins of it from ${this.ip}`
          : `Login as ${key} refused for ${seconds} s: failed logins from ${this.ip}`,
      });
      this.#reply({
        response: Status.FORBIDDEN,
        error: `Too many failed logins: try again in ${seconds} seconds`,
        retry_after: seconds,
      });
      return;
    }
    if (request.mechanism === SCRAM_SHA_256) return this.#scramStep(request, key);
    return this.#legacy(request.user.account_name, request.user.password ?? "", key);
  }

  #loginFailed(key: string, text = "Access denied"): JimError {
    this.#ctx.events.publish("error", { conn: this.info, message: `Failed login as ${key}` });
    return new JimError(Status.AUTH_FAILED, text);
  }

  /**
   * Waits, when the throttle says so, for the right to check a proof of `key`. Undefined
   * when the session closed meanwhile.
   */
  async #turn(key: string, trusted: boolean): Promise<Turn | undefined> {
    const throttle = this.#ctx.throttle;
    this.#waiting = true;
    let turn: Turn;
    const onWait = () => {
      this.#ctx.events.publish("error", {
        conn: this.info,
        message: `Login as ${key} waits its turn: ${
          throttle.accountFailures(key)
        } failed logins of it in the window`,
      });
    };
    try {
      turn = await throttle.admit(this.ip, key, {
        trusted,
        signal: this.#lifetime.signal,
        onWait,
      });
    } catch {
      return undefined; // Closed while waiting.
    } finally {
      this.#waiting = false;
    }
    if (this.#state !== "open") {
      turn.release();
      return undefined;
    }
    return turn;
  }

  async #legacy(name: string, digest: string, key: string): Promise<void> {
    const challenge = this.#challenge;
    this.#challenge = undefined;
    this.#scram = undefined;
    if (!this.#ctx.legacyAuth) {
      throw new JimError(
        Status.AUTH_FAILED,
        `Access denied: legacy ${HMAC_MD5} login is disabled on this server; use ${SCRAM_SHA_256}`,
      );
    }
    if (!challenge || challenge.key !== key) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Cannot authenticate: send presence first for a token",
      );
    }
    const creds = this.#ctx.store.credentials(name);
    const decoy = await this.#ctx.decoys.for(key);
    const turn = await this.#turn(key, creds?.lastIp === this.ip);
    if (!turn) return;
    // The digest is checked against a decoy when there is nothing real to check it against,
    // so that a wrong password, no legacy hash and no such user take the same path.
    const hash = creds?.legacyHash ?? decoy.legacyHash;
    let matches = false;
    try {
      matches = verifyLegacyDigest(hash, challenge.token, digest);
    } catch {
      // Not hex: a wrong digest like any other.
    }
    if (!matches || !creds || creds.legacyHash === null) {
      turn.failed();
      throw this.#loginFailed(key, LEGACY_DENIED);
    }
    turn.succeeded();
    await this.#loggedIn(creds.login, { response: Status.OK, alert: "OK" });
  }

  async #scramStep(
    request: JimRequest & { action: "authenticate" },
    key: string,
  ): Promise<void> {
    let text: string;
    try {
      text = utf8.decode(fromBase64(request.data ?? ""));
    } catch {
      throw new JimError(Status.BAD_REQUEST, "Invalid field: data must be base64 of UTF-8 text");
    }
    if (text.startsWith("c=")) {
      const scram = this.#scram;
      this.#scram = undefined;
      if (!scram || scram.key !== key) {
        throw new JimError(
          Status.BAD_REQUEST,
          "Cannot authenticate: SCRAM client-final-message before client-first-message",
        );
      }
      const turn = await this.#turn(key, scram.trusted);
      if (!turn) return;
      let serverFinal: string;
      try {
        serverFinal = await scram.exchange.serverFinal(text, scram.credentials);
      } catch (error) {
        if (error instanceof JimError && error.code === Status.AUTH_FAILED) {
          turn.failed();
          throw this.#loginFailed(key);
        }
        turn.release();
        throw error;
      }
      if (scram.login === undefined) {
        // A proof that matched a decoy: not possible without the server's secret.
        turn.failed();
        throw this.#loginFailed(key);
      }
      turn.succeeded();
      if (this.#state !== "open") return;
      // The proof was checked against credentials read before the await; a removal that
      // committed meanwhile would otherwise leave a session for a deleted account.
      if (this.#ctx.store.canonicalLogin(scram.login) === undefined) {
        throw new JimError(Status.NOT_FOUND, `No such client: ${scram.login}`);
      }
      await this.#loggedIn(scram.login, {
        response: Status.OK,
        alert: "OK",
        data: toBase64(serverFinal),
      });
      return;
    }
    this.#scram = undefined;
    const first = ScramServerExchange.parseClientFirst(text);
    if (loginKey(first.user) !== key) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Invalid SCRAM message: user does not match user.account_name",
      );
    }
    // Known or not, the same work and the same answer: an unknown login gets its decoy's
    // stable salt and the default iteration count, and fails at the proof.
    const creds = this.#ctx.store.credentials(request.user.account_name);
    const decoy = await this.#ctx.decoys.for(key);
    if (this.#state !== "open") return;
    const credentials = creds?.scram ?? decoy;
    const exchange = new ScramServerExchange();
    const serverFirst = exchange.serverFirst(text, credentials);
    this.#scram = {
      key,
      exchange,
      credentials,
      login: creds?.login,
      trusted: creds !== undefined && creds.lastIp === this.ip,
    };
    this.#reply({
      response: Status.UNAUTHORIZED,
      error: AUTH_REQUIRED,
      mechanism: SCRAM_SHA_256,
      data: toBase64(serverFirst),
    });
  }

  /** Takes the login (see {@linkcode LoginClaims}), then answers the proof. */
  async #loggedIn(login: string, response: Record<string, unknown>): Promise<void> {
    const key = loginKey(login);
    this.#waiting = true;
    let claimed: boolean;
    try {
      claimed = await this.#ctx.claims.claim(key, this);
    } finally {
      this.#waiting = false;
    }
    if (this.#state !== "open") {
      if (claimed && this.#ctx.online.get(key) === this) this.#ctx.online.delete(key);
      return;
    }
    if (!claimed) throw new JimError(Status.CONFLICT, "Client already online");
    this.user = login;
    this.userKey = key;
    this.#challenge = undefined;
    this.#scram = undefined;
    this.#ctx.recordLogin({ login, time: this.#ctx.clock.now(), ip: this.ip, port: this.port });
    this.#ctx.events.publish("login", { conn: this.info, message: "Logged in" });
    this.#reply(response);
  }

  #msg(to: string, text: string, time: number): void {
    const target = this.#ctx.online.get(loginKey(to));
    if (!target) {
      const login = this.#ctx.store.canonicalLogin(to);
      if (login === undefined) throw new JimError(Status.NOT_FOUND, `No such client: ${to}`);
      throw new JimError(Status.GONE, `Client not online: ${login}`);
    }
    const message = {
      action: "msg",
      time,
      to: target.user!,
      from: this.user!,
      encoding: "utf-8",
      message: text,
    };
    // The request fitted; what the recipient gets has `from` and `encoding` added, and a
    // client drops a connection whose frame exceeds what it accepts.
    const frame = encodeFrame(message);
    const max = this.#ctx.limits.maxFrameBytes;
    if (frame.length > max) {
      throw new JimError(
        Status.TOO_LARGE,
        `Message not delivered: with sender and encoding added it exceeds ${max} bytes`,
      );
    }
    if (!target.deliver(message, frame)) {
      throw new JimError(
        Status.UNAVAILABLE,
        `Message not delivered: ${target.user} is not reading fast enough`,
      );
    }
    this.#replyOk();
  }

  /**
   * One page of logins: as many as fit in a frame, with `next` when more follow. The list
   * is unbounded, the frame is not.
   */
  #getUsers(after: string | undefined): void {
    const page = this.#ctx.store.loginsAfter(after, USERS_PER_PAGE + 1);
    const max = this.#ctx.limits.maxFrameBytes;
    // Room for the frame around the names, with a `next` as long as any name can be.
    let size = encodeFrame({ response: Status.ACCEPTED, users: [], next: "" }).length +
      MAX_NAME_JSON_BYTES;
    const users: string[] = [];
    for (const login of page.slice(0, USERS_PER_PAGE)) {
      const bytes = utf8Encoder.encode(JSON.stringify(login)).length + 1;
      if (users.length > 0 && size + bytes > max) break;
      size += bytes;
      users.push(login);
    }
    this.#reply(
      users.length < page.length
        ? { response: Status.ACCEPTED, users, next: users.at(-1)! }
        : { response: Status.ACCEPTED, users },
    );
  }

  /**
   * The contact list, pushed under backpressure: a long list waits for the client to read
   * instead of filling the outbound queue, which would drop the client as too slow.
   */
  async #getContacts(): Promise<void> {
    const contacts = this.#ctx.store.contacts(this.user!);
    this.#reply({ response: Status.ACCEPTED, quantity: contacts.length });
    const highWater = Math.min(
      STREAM_HIGH_WATER,
      Math.floor(this.#ctx.limits.maxOutboundBytes / 2),
    );
    for (const login of contacts) {
      if (this.#outBytes > highWater) await this.#drained(highWater);
      if (this.#state !== "open") return;
      this.#push({
        action: "contact_list",
        user_id: login,
        online: this.#ctx.online.has(loginKey(login)),
      });
    }
  }

  // --- writing -------------------------------------------------------------------------

  #replyOk(): void {
    if (this.#ctx.events.wants("response")) {
      this.#ctx.events.publish("response", {
        conn: this.info,
        payload: { response: Status.OK, alert: "OK" },
      });
    }
    this.#send(OK_FRAME);
  }

  #reply(message: Record<string, unknown>): void {
    if (this.#ctx.events.wants("response")) {
      this.#ctx.events.publish("response", { conn: this.info, payload: message });
    }
    this.#send(encodeFrame(message));
  }

  #push(message: Record<string, unknown>): void {
    if (this.#ctx.events.wants("push")) {
      this.#ctx.events.publish("push", { conn: this.info, payload: message });
    }
    this.#send(encodeFrame(message));
  }

  #send(bytes: Uint8Array): void {
    if (this.#state === "closed") return;
    if (bytes.length > this.#ctx.limits.maxFrameBytes) {
      // Every reply is built to fit; one that does not is a bug, and sending it would
      // disconnect the client. Say so instead, in a frame that fits.
      this.#ctx.events.publish("error", {
        conn: this.info,
        message: `Internal error: a reply of ${bytes.length} bytes exceeds the frame limit`,
      });
      bytes = encodeFrame({ response: Status.SERVER_ERROR, error: "Internal server error" });
    }
    if (!this.#enqueue(bytes)) {
      this.close(`Slow consumer: more than ${this.#ctx.limits.maxOutboundBytes} bytes queued`);
    }
  }

  #enqueue(bytes: Uint8Array): boolean {
    if (this.#state === "closed") return false;
    if (this.#outBytes + bytes.length > this.#ctx.limits.maxOutboundBytes) return false;
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#writeTask = this.#writeLoop();
    }
    return true;
  }

  /** Resolves once at most `below` bytes are queued, or the session has closed. */
  #drained(below: number): Promise<void> {
    if (this.#outBytes <= below || this.#state === "closed") return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#drainWaiters.push({ below, resolve });
    return promise;
  }

  #wakeDrained(): void {
    const closed = this.#state === "closed";
    this.#drainWaiters = this.#drainWaiters.filter((waiter) => {
      if (!closed && this.#outBytes > waiter.below) return true;
      waiter.resolve();
      return false;
    });
  }

  #takeChunk(): Uint8Array {
    const first = this.#out[0]!;
    if (this.#out.length === 1 || first.length >= MAX_WRITE) {
      this.#out.shift();
      return first;
    }
    let count = 0;
    let size = 0;
    for (const part of this.#out) {
      if (count > 0 && size + part.length > MAX_WRITE) break;
      size += part.length;
      count++;
    }
    const chunk = new Uint8Array(size);
    let offset = 0;
    for (const part of this.#out.splice(0, count)) {
      chunk.set(part, offset);
      offset += part.length;
    }
    return chunk;
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#out.length > 0 && this.#state !== "closed") {
        const chunk = this.#takeChunk();
        let written = 0;
        while (written < chunk.length) {
          written += await this.#conn.write(written === 0 ? chunk : chunk.subarray(written));
        }
        this.#outBytes -= chunk.length;
        if (this.#drainWaiters.length > 0) this.#wakeDrained();
      }
    } catch (error) {
      this.#writing = false;
      this.close(
        this.#reason ||
          `Connection lost: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    this.#writing = false;
    if (this.#state === "ending") this.#afterFlush();
  }

  // --- ending --------------------------------------------------------------------------

  /**
   * Ends the session after the queued replies are written: stop handling requests, flush,
   * half-close, then wait briefly for the peer's EOF. Closing with unread input would make
   * the kernel send a reset, which can destroy the last reply before the peer reads it.
   */
  #end(reason: string): void {
    if (this.#state !== "open") return;
    this.#state = "ending";
    this.#reason = reason;
    this.#inbox = [];
    if (this.#liveness) {
      // Leaving anyway: whoever probed may take the login now.
      const { resolve } = this.#liveness;
      this.#liveness = undefined;
      resolve(false);
    }
    // An ending session takes no more messages; the login is free again at once.
    this.#goOffline();
    clearTimeout(this.#rateTimer);
    this.#lingerTimer = setTimeout(() => this.close(reason), this.#ctx.limits.lingerMs);
    if (!this.#writing) this.#afterFlush();
  }

  #afterFlush(): void {
    if (this.#state === "closed") return;
    if (this.#eof || !this.#lingerOnEnd) {
      this.close(this.#reason);
      return;
    }
    this.#shutdownTask = this.#conn.closeWrite().catch(() => this.close(this.#reason));
  }
}
