/**
 * One client's session: its {@linkcode Connection}, its {@linkcode LoginMachine} until it has
 * logged in, and the dispatch of each request to its handler behind the one auth guard. It is
 * what the hub sees of the client ({@linkcode HubSession}) and what handlers see of it
 * ({@linkcode SessionHandle}). No handler logic lives here.
 *
 * @module
 */
import {
  encodeFrame,
  type FrameError,
  JimError,
  type JimRequest,
  loginKey,
  type OutboundMessage,
  type ServerPush,
  type ServerResponse,
  Status,
  validateRequest,
} from "../protocol/mod.ts";
import type { Clock } from "./clock.ts";
import type { ConnInfo, EventFeed } from "./events.ts";
import type { Decoys } from "./_decoy.ts";
import type { LoginThrottle } from "./_login_throttle.ts";
import type { ServerLimits } from "./limits.ts";
import { Connection } from "./_connection.ts";
import { AUTH_REQUIRED, type Authenticated, LoginMachine } from "./_login.ts";
import type { Envelope } from "./hub/envelope.ts";
import type { Capability, Hub, HubSession, Notice } from "./hub/hub.ts";
import {
  BEFORE_LOGIN,
  type HandlerContext,
  handlerFor,
  type SessionHandle,
} from "./handlers/mod.ts";
import type { Storage } from "./storage/ports.ts";

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

/** What every session shares, from its server. */
export interface SessionServices {
  readonly limits: Readonly<ServerLimits>;
  readonly legacyAuth: boolean;
  readonly events: EventFeed;
  readonly clock: Clock;
  readonly throttle: LoginThrottle;
  readonly decoys: Decoys;
  readonly hub: Hub;
  readonly storage: Storage;
  /** Called once when the session has closed. */
  sessionClosed(session: Session): void;
}

const OK_FRAME = encodeFrame({ response: Status.OK, alert: "OK" });
const OK_RESPONSE = Object.freeze({ response: Status.OK, alert: "OK" });
const NO_CAPABILITIES: ReadonlySet<Capability> = Object.freeze(new Set<Capability>());

/** A handler's view of the server, shared: only `session` differs per session. */
class SessionContext implements HandlerContext {
  readonly session: SessionHandle;
  readonly #services: SessionServices;

  constructor(session: SessionHandle, services: SessionServices) {
    this.session = session;
    this.#services = services;
  }

  get hub(): Hub {
    return this.#services.hub;
  }

  get storage(): Storage {
    return this.#services.storage;
  }

  get limits(): Readonly<ServerLimits> {
    return this.#services.limits;
  }

  get events(): EventFeed {
    return this.#services.events;
  }

  get clock(): Clock {
    return this.#services.clock;
  }
}

/** A connection's session. Created and owned by `JimServer`. */
export class Session implements HubSession, SessionHandle {
  /** The connection's number, counting from 1 per server. */
  readonly seq: number;
  /** The login in display case, once authenticated; empty before. */
  login = "";
  /** The login's key, once authenticated; empty before. */
  key = "";
  /** When an idle probe went out unanswered, or 0. */
  probeSentAt = 0;

  readonly #services: SessionServices;
  readonly #connection: Connection;
  /** What handlers see; made at the first request that needs it. */
  #ctx: SessionContext | undefined;
  #login: LoginMachine | undefined;
  /** Taking a place in the hub: the login deadline does not run meanwhile. */
  #attaching: AbortController | undefined;
  #attached = false;
  /** A takeover probe awaiting any sign of life. */
  #probing:
    | { deadline: number; resolve: (alive: boolean) => void; answer: Promise<boolean> }
    | undefined;

  constructor(seq: number, conn: Deno.Conn, services: SessionServices) {
    this.seq = seq;
    this.#services = services;
    this.#connection = new Connection(conn, services, this);
    this.#login = new LoginMachine({
      users: services.storage.users,
      throttle: services.throttle,
      decoys: services.decoys,
      legacyAuth: services.legacyAuth,
      events: services.events,
    }, this);
  }

  /** What the client announced at login; nothing yet (issue 12), which is the seed dialect. */
  get caps(): ReadonlySet<Capability> {
    return NO_CAPABILITIES;
  }

  /**
   * The session's id in the hub: its number, made a string only when asked for; in a
   * cluster `${node}#${n}`, unique among every node's sessions.
   */
  get id(): string {
    const node = this.#services.hub.node;
    return node === undefined ? String(this.seq) : `${node}#${this.seq}`;
  }

  /** The peer's address. */
  get ip(): string {
    return this.#connection.ip;
  }

  /** The peer's port. */
  get port(): number {
    return this.#connection.port;
  }

  /** When the connection was accepted, Unix ms. */
  get connectedAt(): number {
    return this.#connection.connectedAt;
  }

  /** Last time any bytes arrived, Unix ms. */
  get lastActivity(): number {
    return this.#connection.lastActivity;
  }

  /** The login in display case once authenticated, else undefined. */
  get user(): string | undefined {
    return this.login === "" ? undefined : this.login;
  }

  /** The connection as events describe it. */
  get info(): ConnInfo {
    const { ip, port } = this.#connection;
    return this.login === ""
      ? { id: this.seq, ip, port }
      : { id: this.seq, ip, port, user: this.login };
  }

  /** Whether the session is closed. */
  get closed(): boolean {
    return this.#connection.closed;
  }

  /** Whether the session still takes requests. */
  get open(): boolean {
    return this.#connection.open;
  }

  /** Requests received and not yet handled. */
  get pendingRequests(): number {
    return this.#connection.pendingFrames;
  }

  /** Bytes waiting to be written to this connection. */
  get queuedBytes(): number {
    return this.#connection.queuedBytes;
  }

  /** Starts reading. */
  start(): void {
    this.#connection.start();
  }

  /** Resolves once the session has closed and all its tasks have finished. */
  done(): Promise<void> {
    return this.#connection.done();
  }

  /** Called by the server's sweep: login deadline, takeover probe, idle probing. */
  tick(now: number): void {
    if (!this.open) return;
    const limits = this.#services.limits;
    if (this.#probing && now >= this.#probing.deadline) {
      const { resolve } = this.#probing;
      this.#probing = undefined;
      this.reply({ response: Status.FORBIDDEN, error: TAKEN_OVER });
      this.end(TAKEN_OVER);
      resolve(false);
      return;
    }
    if (!this.#attached) {
      const waiting = this.#attaching !== undefined || this.#login?.waiting;
      if (!waiting && now - this.connectedAt >= limits.authTimeoutMs) {
        this.reply({
          response: Status.UNAUTHORIZED,
          error: `Authentication timed out: no login within ${limits.authTimeoutMs / 1000} s`,
        });
        this.end("Authentication timed out");
      }
      return;
    }
    if (this.probeSentAt === 0) {
      if (now - this.lastActivity >= limits.idleProbeMs) {
        this.probeSentAt = now;
        this.push({ action: "probe", time: Math.floor(now / 1000) });
      }
    } else if (now - this.probeSentAt >= limits.probeGraceMs) {
      this.close("Idle timeout: no answer to probe");
    }
  }

  // --- what the hub sees -----------------------------------------------------------------

  /**
   * Queues a message for this client. A client too slow to take it is disconnected and
   * false is returned, so the sender can be told.
   */
  deliver(envelope: Envelope): boolean {
    if (!this.open) return false;
    const events = this.#services.events;
    if (events.wants("push")) {
      events.publish("push", { conn: this.info, payload: envelope.message });
    }
    return this.#connection.send(envelope.frame());
  }

  /** Tells the client `notice` and ends the session; the notice is flushed before it closes. */
  notify(notice: Notice): void {
    if (!this.open) return;
    this.reply({ response: notice.code, error: notice.text });
    this.end(notice.text);
  }

  /**
   * Probes the client now, because someone else proved the password of this session's
   * account. Resolves true as soon as anything arrives; false when nothing does within the
   * takeover timeout (the client is then told {@linkcode TAKEN_OVER} and the session ends,
   * freeing its place) or when the session closes first.
   */
  probe(): Promise<boolean> {
    if (!this.open) return Promise.resolve(false);
    if (!this.#probing) {
      const { promise, resolve } = Promise.withResolvers<boolean>();
      const now = this.#services.clock.now();
      const deadline = now + this.#services.limits.takeoverTimeoutMs;
      this.#probing = { deadline, resolve, answer: promise };
      this.push({ action: "probe", time: Math.floor(now / 1000) });
    }
    return this.#probing.answer;
  }

  // --- what handlers see ----------------------------------------------------------------

  /** Sends a response. */
  reply(message: ServerResponse): void {
    const events = this.#services.events;
    if (events.wants("response")) events.publish("response", { conn: this.info, payload: message });
    this.#send(message);
  }

  /** Sends the prebuilt `{"response":200,"alert":"OK"}`. */
  replyOk(): void {
    const events = this.#services.events;
    if (events.wants("response")) {
      events.publish("response", { conn: this.info, payload: OK_RESPONSE });
    }
    this.#connection.send(OK_FRAME);
  }

  /** Sends a push. */
  push(message: ServerPush): void {
    const events = this.#services.events;
    if (events.wants("push")) events.publish("push", { conn: this.info, payload: message });
    this.#send(message);
  }

  /** Resolves once at most `below` bytes are queued, or the session has closed. */
  drain(below: number): Promise<void> {
    return this.#connection.drain(below);
  }

  /** Ends the session after the queued replies are written. */
  end(reason: string): void {
    this.#connection.end(reason);
  }

  /** Tells the client the server is stopping, flushes briefly, then closes. */
  shutdown(): void {
    if (!this.open) {
      this.close(this.#connection.reason || "Server shutting down");
      return;
    }
    this.reply({ response: Status.UNAVAILABLE, error: "Server shutting down" });
    this.#connection.end("Server shutting down", { linger: false });
  }

  /** Closes the connection at once. Idempotent. */
  close(reason: string): void {
    this.#connection.close(reason);
  }

  // --- what the connection tells ----------------------------------------------------------

  /** @internal A frame arrived. */
  onFrame(value: Record<string, unknown>): Promise<void> | void {
    const { events, limits } = this.#services;
    if (events.wants("request")) events.publish("request", { conn: this.info, payload: value });
    const result = validateRequest(value, limits);
    if (!result.ok) {
      this.reply(result.error.toResponse());
      return;
    }
    const request = result.request;
    try {
      const pending = this.#attached ? this.#handle(request) : this.#beforeLogin(request);
      if (pending) return pending.catch((error) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
  }

  /** @internal A frame that cannot be used. */
  onBadFrame(error: FrameError): void {
    this.reply({ response: error.fatal ? error.code : Status.BAD_REQUEST, error: error.message });
  }

  /** @internal Bytes arrived. */
  onActivity(): void {
    this.probeSentAt = 0;
    if (this.#probing) {
      const { resolve } = this.#probing;
      this.#probing = undefined;
      resolve(true);
    }
  }

  /** @internal The connection stopped taking requests. */
  onEnding(_reason: string): void {
    this.#endProbe();
    // An ending session takes no more messages; its place in the hub is free at once.
    this.#leaveHub();
  }

  /** @internal The connection closed. */
  onClosed(reason: string): void {
    this.#endProbe();
    this.#login?.abort();
    this.#login = undefined;
    this.#attaching?.abort();
    this.#leaveHub();
    this.#services.sessionClosed(this);
    this.#services.events.publish("disconnect", { conn: this.info, message: reason });
  }

  /** @internal A bug in this session's code. */
  onCrash(error: unknown): void {
    this.#services.events.publish("error", {
      conn: this.info,
      message: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
  }

  // --- requests ---------------------------------------------------------------------------

  #handle(request: JimRequest): Promise<void> | void {
    this.#ctx ??= new SessionContext(this, this.#services);
    return handlerFor(request.action)(this.#ctx, request as never);
  }

  /** The one auth guard: before login only presence, authenticate and quit. */
  #beforeLogin(request: JimRequest): Promise<void> | void {
    const login = this.#login;
    if (!login || !BEFORE_LOGIN.has(request.action)) {
      this.reply({ response: Status.UNAUTHORIZED, error: AUTH_REQUIRED });
      return;
    }
    switch (request.action) {
      case "presence":
        return login.presence(request.user.account_name);
      case "authenticate": {
        const step = login.authenticate(request);
        return step?.then((done) => done && this.#loggedIn(done));
      }
      default:
        return this.#handle(request);
    }
  }

  /** Takes a place in the hub for the proven login, then answers the proof. */
  async #loggedIn(done: Authenticated): Promise<void> {
    const services = this.#services;
    this.login = done.login;
    this.key = loginKey(done.login);
    const attaching = this.#attaching = new AbortController();
    let result;
    try {
      result = await services.hub.attach(this, { signal: attaching.signal });
    } finally {
      this.#attaching = undefined;
    }
    if (!result.ok || !this.open) {
      if (result.ok) services.hub.detach(this);
      this.login = "";
      this.key = "";
      if (!this.open) return;
      throw new JimError(Status.CONFLICT, "Client already online");
    }
    this.#attached = true;
    this.#login = undefined;
    services.storage.logins.record({
      login: this.login,
      time: services.clock.now(),
      ip: this.ip,
      port: this.port,
    });
    services.events.publish("login", { conn: this.info, message: "Logged in" });
    this.reply(done.response);
  }

  #failed(error: unknown): void {
    if (error instanceof JimError) {
      this.reply(error.toResponse());
      return;
    }
    this.#services.events.publish("error", {
      conn: this.info,
      message: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
    this.reply({ response: Status.SERVER_ERROR, error: "Internal server error" });
  }

  // --- writing and leaving ----------------------------------------------------------------

  #send(message: OutboundMessage): void {
    let frame = encodeFrame(message);
    if (frame.length > this.#services.limits.maxFrameBytes) {
      // Every reply is built to fit; one that does not is a bug, and sending it would
      // disconnect the client. Say so instead, in a frame that fits.
      this.#services.events.publish("error", {
        conn: this.info,
        message: `Internal error: a reply of ${frame.length} bytes exceeds the frame limit`,
      });
      frame = encodeFrame({ response: Status.SERVER_ERROR, error: "Internal server error" });
    }
    this.#connection.send(frame);
  }

  #endProbe(): void {
    if (!this.#probing) return;
    // Leaving anyway: whoever probed may take the login now.
    const { resolve } = this.#probing;
    this.#probing = undefined;
    resolve(false);
  }

  #leaveHub(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#services.hub.detach(this);
    this.#services.storage.logins.seen(this.login, this.#services.clock.now());
  }
}
