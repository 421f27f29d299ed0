/**
 * The JIM chat server: accepts TCP or TLS connections and runs one session per connection.
 *
 * @module
 */
import { encodeFrame, loginKey, Status } from "../protocol/mod.ts";
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import { type ConnInfo, EventFeed } from "./events.ts";
import { acceptErrorKind, FIRST_ACCEPT_PAUSE_MS, MAX_ACCEPT_PAUSE_MS } from "./_accept_errors.ts";
import { type ConnectionCap, connectionCap, readOpenFileLimit } from "./_fd_limit.ts";
import { Decoys } from "./_decoy.ts";
import { FIRST_LOGIN_DELAY_MS, LoginThrottle, MAX_LOGIN_DELAY_MS } from "./_login_throttle.ts";
import type { Hub } from "./hub/hub.ts";
import { LocalHub } from "./hub/local_hub.ts";
import { resolveLimits, type ServerLimits } from "./limits.ts";
import { ACCOUNT_REMOVED, Session, type SessionServices } from "./_session.ts";
import type { Storage, StorageChange } from "./storage/ports.ts";

/** PEM texts for TLS. */
export interface TlsOptions {
  /** Certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

/** Options for {@linkcode JimServer.listen}. */
export interface JimServerOptions {
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Port to bind; 7777 by default, 0 for any free port. */
  port?: number;
  /** Users, contacts and history; the server does not close it. */
  storage: Storage;
  /**
   * Who is online; a {@linkcode LocalHub} (one session per account) by default. The server
   * closes a hub it made, not one it was given.
   */
  hub?: Hub;
  /** Allow the seed clients' HMAC-MD5 login. */
  legacyAuth?: boolean;
  /** Serve TLS instead of plain TCP. */
  tls?: TlsOptions;
  /**
   * Sets SO_REUSEPORT (Linux, issue 14), so that several nodes of a cluster on one machine
   * listen on the same port and the kernel spreads connections between them.
   */
  reusePort?: boolean;
  /**
   * Overrides of {@linkcode DEFAULT_SERVER_LIMITS}. `maxConnections` is lowered to fit the
   * process's descriptor limit; {@linkcode JimServer.limits} shows what is in force.
   */
  limits?: Partial<ServerLimits>;
  /**
   * RLIMIT_NOFILE to fit the connection cap under; read from /proc/self/limits by default
   * (where that cannot be read, the cap is not lowered).
   */
  openFileLimit?: number;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
  /** A feed to publish to, e.g. one that outlives this server; a new one by default. */
  events?: EventFeed;
  /**
   * Where every time-based decision reads the time (login deadline, probes, rate limit,
   * login throttle, takeover); the real clock by default. Tests pass one they move by hand.
   */
  clock?: Clock;
}

/** A connection as the admin GUI lists it. */
export interface SessionInfo extends ConnInfo {
  /** Unix ms. */
  connectedAt: number;
  /** Unix ms of the last bytes received. */
  lastActivity: number;
  /** Requests received and not yet answered, e.g. held back by the rate limit. */
  pendingRequests: number;
}

const ACCOUNT_REMOVED_NOTICE = Object.freeze({ code: Status.FORBIDDEN, text: ACCOUNT_REMOVED });

/**
 * The chat server. Start it with {@linkcode JimServer.listen}; stop it with `close()` or
 * `await using`.
 *
 * The server composes the parts: the listener and its admission caps, one
 * {@linkcode Session} per connection, the {@linkcode Hub} that knows who is online, and the
 * {@linkcode Storage} behind its ports. It follows the storage's change feed, so that a user
 * removed by another process (`jim-server user remove`) loses their session.
 *
 * @example
 * ```ts
 * import { JimServer, SqliteStorage } from "./mod.ts";
 * await using storage = SqliteStorage.open("jim-server.db");
 * await using server = await JimServer.listen({ storage, port: 0 });
 * console.log(`listening on ${server.addr.port}`);
 * ```
 */
export class JimServer {
  /** Where the server listens. */
  readonly addr: { hostname: string; port: number };
  /** Every event of this server. */
  readonly events: EventFeed;
  /** The limits in force, with `maxConnections` lowered to fit the descriptor limit. */
  readonly limits: Readonly<ServerLimits>;
  /** RLIMIT_NOFILE the connection cap was fitted under, when known. */
  readonly openFileLimit: number | undefined;
  /** Whether the seed's HMAC-MD5 login is allowed. */
  readonly legacyAuth: boolean;
  /** Whether the listener is TLS. */
  readonly tls: boolean;
  /** The storage the server uses. */
  readonly storage: Storage;
  /** Who is online. */
  readonly hub: Hub;
  /** Resolves once the server has closed. */
  readonly finished: Promise<void>;

  readonly #listener: Deno.Listener;
  readonly #sessions = new Set<Session>();
  readonly #perIp = new Map<string, number>();
  readonly #ownHub: boolean;
  readonly #rejecting = new Set<Promise<void>>();
  readonly #maxRejecting: number;
  readonly #throttle: LoginThrottle;
  readonly #unsubscribe: () => void;
  readonly #offWriteError: () => void;
  readonly #offLoginSharing: () => void;
  #sweepTimer: ReturnType<typeof setInterval>;
  #acceptTask: Promise<void>;
  #nextId = 1;
  #acceptFailures = 0;
  #acceptReportedAt = -Infinity;
  #closing: Promise<void> | undefined;
  #resolveFinished!: () => void;
  #signal: AbortSignal | undefined;
  #onAbort = () => void this.close();
  readonly #services: SessionServices;

  private constructor(
    listener: Deno.Listener,
    options: JimServerOptions,
    limits: ServerLimits,
    cap: ConnectionCap,
    decoySecret: Uint8Array,
  ) {
    this.#listener = listener;
    const addr = listener.addr as Deno.NetAddr;
    this.addr = { hostname: addr.hostname, port: addr.port };
    this.events = options.events ?? new EventFeed();
    this.limits = Object.freeze({ ...limits, maxConnections: cap.maxConnections });
    this.openFileLimit = cap.openFileLimit;
    this.#maxRejecting = cap.rejectSlots;
    this.legacyAuth = options.legacyAuth ?? false;
    this.tls = options.tls !== undefined;
    this.storage = options.storage;
    this.#ownHub = options.hub === undefined;
    this.hub = options.hub ?? new LocalHub();
    const clock = options.clock ?? SYSTEM_CLOCK;
    this.#throttle = new LoginThrottle({
      windowMs: this.limits.failedLoginWindowMs,
      maxPerPair: this.limits.maxFailedLogins,
      maxPerAddress: this.limits.maxFailedLoginsPerIp,
      slowAfter: this.limits.maxFailedLogins,
      firstDelayMs: FIRST_LOGIN_DELAY_MS,
      maxDelayMs: MAX_LOGIN_DELAY_MS,
    }, clock);
    // In a cluster every node counts every node's failed logins, so the limits hold whichever
    // node an attacker reaches; in one process both calls do nothing.
    const hub = this.hub;
    const offOutcome = hub.shareLogin
      ? this.#throttle.onOutcome((outcome) => hub.shareLogin!(outcome))
      : () => {};
    const offRemote = hub.on("login", (outcome) => this.#throttle.record(outcome));
    this.#offLoginSharing = () => {
      offOutcome();
      offRemote();
    };
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
    this.#services = {
      limits: this.limits,
      legacyAuth: this.legacyAuth,
      events: this.events,
      clock,
      throttle: this.#throttle,
      decoys: new Decoys(decoySecret),
      hub: this.hub,
      storage: this.storage,
      sessionClosed: (session) => {
        if (!this.#sessions.delete(session)) return;
        const n = (this.#perIp.get(session.ip) ?? 1) - 1;
        if (n <= 0) this.#perIp.delete(session.ip);
        else this.#perIp.set(session.ip, n);
      },
    };
    this.#unsubscribe = this.storage.changes.subscribe((change) => this.#storageChanged(change));
    this.#offWriteError = this.storage.logins.onWriteError((error) => {
      this.events.publish("error", { message: error.message });
    });
    const shortest = Math.min(
      this.limits.authTimeoutMs,
      this.limits.idleProbeMs,
      this.limits.probeGraceMs,
      this.limits.takeoverTimeoutMs,
    );
    // One timer for all connections instead of one each: idle connections stay cheap.
    const sweepMs = Math.max(5, Math.min(1000, Math.floor(shortest / 4)));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs);
    this.#acceptTask = this.#acceptLoop();
    if (options.signal) {
      this.#signal = options.signal;
      options.signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /**
   * Binds and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} and other listen errors; {RangeError} for bad limits or
   *   a descriptor limit that leaves no room for connections.
   */
  static async listen(options: JimServerOptions): Promise<JimServer> {
    const limits = resolveLimits(options.limits);
    const decoySecret = await options.storage.secrets.get("decoy-credentials");
    const cap = connectionCap(
      limits.maxConnections,
      options.openFileLimit ?? readOpenFileLimit(),
    );
    const hostname = options.host ?? "127.0.0.1";
    const port = options.port ?? 7777;
    const reusePort = options.reusePort === true ? { reusePort: true } : {};
    const listener = options.tls
      ? Deno.listenTls({
        hostname,
        port,
        cert: options.tls.cert,
        key: options.tls.key,
        ...reusePort,
      })
      : Deno.listen({ hostname, port, ...reusePort });
    const server = new JimServer(listener, options, limits, cap, decoySecret);
    server.events.publish("start", {
      message: `Listening on ${server.addr.hostname}:${server.addr.port}${
        server.tls ? " (TLS)" : ""
      }`,
    });
    if (options.signal?.aborted) void server.close();
    return server;
  }

  /** Logins currently online, in display case. */
  onlineUsers(): string[] {
    return this.hub.onlineLogins();
  }

  /** Whether `login` is online (any case). */
  isOnline(login: string): boolean {
    return this.hub.isOnline(loginKey(login));
  }

  /**
   * Ends the sessions of online users whose accounts are gone from storage: each client is
   * told `403 Account removed` before its connection closes. The server does this by itself
   * when the storage's change feed reports a removal (another process's within its poll
   * interval); code that removes users and wants their sessions gone at once, such as the
   * admin GUI, calls it right after.
   *
   * @returns the logins whose sessions were ended.
   * @example
   * ```ts
   * import { JimServer, SqliteStorage } from "./mod.ts";
   * await using storage = SqliteStorage.open(":memory:");
   * await using server = await JimServer.listen({ storage, port: 0 });
   * await server.endSessionsOfRemovedUsers(); // [] : nobody is online
   * ```
   */
  async endSessionsOfRemovedUsers(): Promise<string[]> {
    const ended: string[] = [];
    for (const login of this.hub.onlineLogins()) {
      if (this.storage.closed) break;
      if (await this.storage.users.canonicalLogin(login) !== undefined) continue;
      if (this.hub.endSessions(loginKey(login), ACCOUNT_REMOVED_NOTICE) > 0) ended.push(login);
    }
    return ended;
  }

  /** Every open connection. */
  sessions(): SessionInfo[] {
    return [...this.#sessions].map((s) => ({
      ...s.info,
      connectedAt: s.connectedAt,
      lastActivity: s.lastActivity,
      pendingRequests: s.pendingRequests,
    }));
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Whether `close()` has been called. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops accepting, tells each session the server is stopping, closes them and writes the
   * pending login history. Idempotent; the storage stays open.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Closes the server, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#unsubscribe();
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#acceptTask;
    clearInterval(this.#sweepTimer);
    const sessions = [...this.#sessions];
    for (const session of sessions) session.shutdown();
    await Promise.all([...sessions.map((s) => s.done()), ...this.#rejecting]);
    if (this.#ownHub) await this.hub.close();
    if (!this.storage.closed) await this.storage.logins.flush();
    this.#offWriteError();
    this.#offLoginSharing();
    this.events.publish("stop", { message: "Server stopped" });
    this.#resolveFinished();
  }

  async #acceptLoop(): Promise<void> {
    let pause = FIRST_ACCEPT_PAUSE_MS;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) return;
        const kind = acceptErrorKind(error);
        if (kind === "closed") return;
        this.#acceptFailed(error);
        if (kind === "connection") continue;
        // Out of descriptors or memory: retrying at once would spin until sessions free some.
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(MAX_ACCEPT_PAUSE_MS, pause * 2);
        if (this.#closing) return;
        continue;
      }
      pause = FIRST_ACCEPT_PAUSE_MS;
      if (this.#closing) {
        conn.close();
        return;
      }
      try {
        this.#admit(conn);
      } catch (error) {
        // E.g. the peer reset before its address could be read: drop it, keep accepting.
        this.#internalError(error);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    }
  }

  /**
   * Reports accept errors, at most one event a second: a flood of connections reset before
   * they were accepted must not flood the log too.
   */
  #acceptFailed(error: unknown): void {
    this.#acceptFailures++;
    const now = this.#services.clock.now();
    if (now - this.#acceptReportedAt < 1000) return;
    const count = this.#acceptFailures;
    const detail = error instanceof Error ? error.message : String(error);
    this.events.publish("error", {
      message: count === 1
        ? `Cannot accept a connection: ${detail}`
        : `Cannot accept ${count} connections: ${detail}, and similar`,
    });
    this.#acceptFailures = 0;
    this.#acceptReportedAt = now;
  }

  #admit(conn: Deno.Conn): void {
    const ip = (conn.remoteAddr as Deno.NetAddr).hostname;
    if (this.#sessions.size >= this.limits.maxConnections) {
      this.#reject(conn, `Too many connections: the server allows ${this.limits.maxConnections}`);
      return;
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.limits.maxConnectionsPerIp) {
      this.#reject(
        conn,
        `Too many connections from ${ip}: the limit is ${this.limits.maxConnectionsPerIp}`,
      );
      return;
    }
    // Chat traffic is small request/response frames: Nagle's algorithm would hold each reply
    // back until the peer's delayed ACK, adding tens of milliseconds per hop.
    if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") conn.setNoDelay(true);
    const session = new Session(this.#nextId++, conn, this.#services);
    this.#sessions.add(session);
    this.#perIp.set(ip, fromIp + 1);
    this.events.publish("connect", { conn: session.info });
    session.start();
  }

  /** Answers an over-limit connection with 503, then closes it without holding a session. */
  #reject(conn: Deno.Conn, reason: string): void {
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.events.publish("error", {
      conn: { id: 0, ip: addr.hostname, port: addr.port },
      message: reason,
    });
    if (this.#rejecting.size >= this.#maxRejecting) {
      conn.close();
      return;
    }
    const task = rejectConnection(
      conn,
      encodeFrame({ response: Status.UNAVAILABLE, error: reason }),
      this.limits.lingerMs,
    ).finally(() => this.#rejecting.delete(task));
    this.#rejecting.add(task);
  }

  #internalError(error: unknown): void {
    this.events.publish("error", {
      message: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
  }

  #sweep(): void {
    const now = this.#services.clock.now();
    this.#throttle.tick();
    for (const session of this.#sessions) {
      try {
        session.tick(now);
      } catch (error) {
        this.#internalError(error);
        session.close("Internal server error");
      }
    }
  }

  #storageChanged(change: StorageChange): void {
    if (change.kind === "user-removed") {
      const key = loginKey(change.login);
      if (!this.hub.isOnline(key)) return;
      // Unless the name was added again meanwhile, and logged in anew.
      this.storage.users.canonicalLogin(change.login).then((login) => {
        if (login === undefined) this.hub.endSessions(key, ACCOUNT_REMOVED_NOTICE);
      }).catch((error) => this.#internalError(error));
      return;
    }
    // "Something changed": re-check who is online, only when anyone is.
    if (this.hub.onlineLogins().length === 0) return;
    this.endSessionsOfRemovedUsers().catch((error) => this.#internalError(error));
  }
}

async function rejectConnection(conn: Deno.Conn, reply: Uint8Array, lingerMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, lingerMs)));
    const drain = (async () => {
      let written = 0;
      while (written < reply.length) written += await conn.write(reply.subarray(written));
      await conn.closeWrite();
      const sink = new Uint8Array(512);
      while ((await conn.read(sink)) !== null) {
        // Discard until EOF so closing does not reset the connection under the reply.
      }
    })();
    await Promise.race([drain.catch(() => {}), timeout]);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    await drain.catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}
