/**
 * What the admin GUI does to the JIM server and its users, independent of HTTP: start and
 * stop the server, read and change clients, and feed the live stream.
 *
 * @module
 */
import { JimError, loginKey, Status } from "../../protocol/mod.ts";
import {
  addUser,
  deleteRoomAsAdmin,
  EventFeed,
  type Hub,
  type ServerEvent,
  setPassword,
  type Storage,
  type Subscription,
} from "../../server/mod.ts";
import type { LiveHub } from "../mod.ts";
import type { ClientRow, LogEvent, RoomRowJson, ServerStatus } from "./_types.ts";
import { ServiceLog } from "./service_log.ts";
import { hostProblem, loginProblem, passwordProblem, portProblem } from "./_validate.ts";

/** The parts of a running JIM server the GUI uses. */
export interface JimServerHandle {
  readonly addr: { hostname: string; port: number };
  /** Logins of the users connected now. */
  onlineUsers(): Iterable<string>;
  /**
   * Tells online users whose accounts are gone that they were removed, and closes their
   * sessions. The server hears of the GUI's removals through its storage's change feed,
   * within the feed's poll interval; the GUI calls this right after, so they go at once.
   */
  endSessionsOfRemovedUsers(): Promise<Iterable<string>>;
  /** Rooms (issue 13): the hub, to tell the members of a deleted room; absent in fakes. */
  readonly hub?: Hub;
  close(): Promise<void>;
}

/**
 * Starts a JIM server that publishes to `events`; `JimServer.listen` in production. The feed
 * outlives each server, so the GUI hears every server's start and stop.
 */
export type ListenFn = (
  options: { host: string; port: number; events: EventFeed },
) => Promise<JimServerHandle>;

/** Options for {@linkcode AdminController}. */
export interface AdminControllerOptions {
  storage: Storage;
  listen: ListenFn;
  /** Where the JIM server starts first. */
  host: string;
  port: number;
  /** Shown on the page; the GUI passes it on to `listen` through the caller's closure. */
  legacyAuth: boolean;
  hub: LiveHub<unknown>;
  /** PBKDF2 iterations for new passwords (tests lower it); 600,000 otherwise. */
  iterations?: number;
  /**
   * The server writes last-seen times behind, within this many ms; the Clients table is
   * refreshed again after it. 400 by default.
   */
  historyDelayMs?: number;
  /** Called with every server event, e.g. to print it on the console. */
  onEvent?: (event: ServerEvent) => void;
  /** Service info entries kept (10,000 by default). */
  serviceLimit?: number;
}

/** An error the GUI shows as is; `field` names the input it belongs to. */
export class AdminError extends JimError {
  readonly field: "login" | "password" | "host" | "port" | undefined;

  constructor(code: number, message: string, options?: ErrorOptions & { field?: string }) {
    super(code, message, options);
    this.name = "AdminError";
    this.field = options?.field as AdminError["field"];
  }
}

/**
 * Explains why a listen failed in the words of the page: port in use, permission denied or
 * bad address. Unknown failures are returned as null.
 *
 * @example
 * ```ts
 * describeListenError(new Deno.errors.AddrInUse("busy"), "127.0.0.1", 7777);
 * // JimError 409 "Cannot start server: port in use (127.0.0.1:7777)"
 * ```
 */
export function describeListenError(err: unknown, host: string, port: number): AdminError | null {
  const where = `${host}:${port}`;
  if (err instanceof Deno.errors.AddrInUse) {
    return new AdminError(Status.CONFLICT, `Cannot start server: port in use (${where})`, {
      cause: err,
      field: "port",
    });
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return new AdminError(Status.FORBIDDEN, `Cannot start server: permission denied (${where})`, {
      cause: err,
      field: "port",
    });
  }
  const message = err instanceof Error ? err.message : "";
  if (
    err instanceof Deno.errors.AddrNotAvailable || err instanceof URIError ||
    err instanceof RangeError || /lookup address|invalid host|invalid address/i.test(message)
  ) {
    return new AdminError(Status.BAD_REQUEST, `Cannot start server: bad address (${where})`, {
      cause: err,
      field: "host",
    });
  }
  return null;
}

/**
 * Owns the JIM server for the GUI: one at a time, stopped and started again with the same
 * storage, its events forwarded to the live hub.
 *
 * @example
 * ```ts
 * const controller = new AdminController({ storage, listen, host: "127.0.0.1", port: 7777,
 *   legacyAuth: false, hub });
 * await controller.start();
 * ```
 */
export class AdminController {
  /**
   * Service info: every server event and GUI note, kept here so that a reloaded page shows
   * the same entries. Each one added is published on the hub as "log".
   */
  readonly serviceLog: ServiceLog;
  readonly #options: AdminControllerOptions;
  #server: JimServerHandle | null = null;
  readonly #feed = new EventFeed();
  readonly #subscription: Subscription;
  readonly #pump: Promise<void>;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #host: string;
  #port: number;
  #error: string | null = null;
  #busy: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: AdminControllerOptions) {
    this.#options = options;
    this.serviceLog = new ServiceLog({
      limit: options.serviceLimit,
      onEntry: (entry) => options.hub.publish("log", entry),
    });
    this.#host = options.host;
    this.#port = options.port;
    this.#subscription = this.#feed.subscribe({ bufferSize: 1024 });
    this.#pump = this.#follow(this.#subscription);
  }

  /** The running server, if any. */
  get server(): JimServerHandle | null {
    return this.#server;
  }

  /** The server's state for the page. */
  status(): ServerStatus {
    return {
      running: this.#server !== null,
      host: this.#host,
      port: this.#port,
      error: this.#error,
      legacyAuth: this.#options.legacyAuth,
    };
  }

  /** Start and stop run one at a time, in order. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn, fn);
    this.#busy = run.catch(() => {});
    return run;
  }

  /**
   * Starts the JIM server on `host`/`port` (the last ones by default).
   *
   * @throws {AdminError} 409 when running or the port is in use, 403 permission denied,
   * 400 bad address.
   */
  start(address: { host?: unknown; port?: unknown } = {}): Promise<ServerStatus> {
    return this.#serial(async () => {
      if (this.#closed) throw new AdminError(Status.CONFLICT, "Cannot start server: GUI closing");
      const host = address.host === undefined ? this.#host : address.host;
      const port = address.port === undefined ? this.#port : address.port;
      if (typeof host !== "string") {
        throw new AdminError(Status.BAD_REQUEST, "Bad address: host must be a string", {
          field: "host",
        });
      }
      if (typeof port !== "number" && typeof port !== "string") {
        throw new AdminError(Status.BAD_REQUEST, "Bad address: port must be a number", {
          field: "port",
        });
      }
      const hp = hostProblem(host.trim());
      if (hp) throw new AdminError(Status.BAD_REQUEST, hp, { field: "host" });
      const pp = portProblem(port);
      if (pp) throw new AdminError(Status.BAD_REQUEST, pp, { field: "port" });
      if (this.#server) {
        throw new AdminError(Status.CONFLICT, "Cannot start server: it is already running");
      }
      const wanted = { host: host.trim(), port: Number(port) };
      this.#host = wanted.host;
      this.#port = wanted.port;
      let server: JimServerHandle;
      try {
        server = await this.#options.listen({ ...wanted, events: this.#feed });
      } catch (err) {
        const known = describeListenError(err, wanted.host, wanted.port);
        this.#error = known?.message ?? "Cannot start server: unexpected error";
        this.#note(this.#error, "error");
        this.#publishStatus();
        throw known ?? err;
      }
      this.#server = server;
      this.#host = wanted.host;
      this.#port = server.addr.port;
      this.#error = null;
      this.#publishStatus();
      this.#options.hub.publish("clients", {});
      return this.status();
    });
  }

  /**
   * Stops the JIM server; users and data stay in the storage.
   *
   * @throws {AdminError} 409 when it is not running.
   */
  stop(): Promise<ServerStatus> {
    return this.#serial(async () => {
      const server = this.#server;
      if (!server) throw new AdminError(Status.CONFLICT, "Cannot stop server: it is not running");
      await this.#shutdown(server);
      this.#publishStatus();
      this.#options.hub.publish("clients", {});
      return this.status();
    });
  }

  async #shutdown(server: JimServerHandle): Promise<void> {
    try {
      await server.close();
    } finally {
      this.#server = null;
    }
  }

  async #follow(sub: Subscription): Promise<void> {
    let missed = 0;
    for await (const event of sub) {
      this.#forward(event);
      if (sub.missed > missed) {
        this.#note(`Service info skipped ${sub.missed - missed} server events`, "error");
        missed = sub.missed;
      }
    }
  }

  #forward(event: ServerEvent): void {
    this.#options.onEvent?.(event);
    this.serviceLog.add(event satisfies LogEvent);
    if (event.type === "login" || event.type === "disconnect") {
      // Now for the Online column; again once the server has written the last-seen time.
      this.#options.hub.publish("clients", {});
      clearTimeout(this.#refreshTimer);
      this.#refreshTimer = setTimeout(() => {
        this.#refreshTimer = undefined;
        this.#options.hub.publish("clients", {});
      }, this.#options.historyDelayMs ?? 400);
    }
  }

  #note(message: string, level: "gui" | "error" = "gui"): void {
    this.serviceLog.add({ time: Date.now(), type: level, message });
  }

  #publishStatus(): void {
    this.#options.hub.publish("server", this.status());
  }

  /** Shows or hides message texts in Service info; every page reloads it. */
  setShowBodies(on: boolean): void {
    this.serviceLog.showBodies = on;
    this.#note(`Message texts in Service info: ${on ? "shown" : "hidden"}`);
    this.#options.hub.publish("service", { showBodies: on });
  }

  /** Empties Service info for every page. */
  clearServiceLog(): void {
    this.serviceLog.clear();
    this.#options.hub.publish("service", { cleared: true });
  }

  /** The Clients table, newest first, with who is online now. */
  async clients(): Promise<ClientRow[]> {
    const online = new Set<string>();
    for (const login of this.#server?.onlineUsers() ?? []) online.add(loginKey(login));
    return (await this.#options.storage.users.list()).map((u) => ({
      login: u.login,
      lastSeen: u.lastSeen,
      lastIp: u.lastIp,
      created: u.created,
      online: online.has(loginKey(u.login)),
    }));
  }

  /**
   * Adds a client.
   *
   * @throws {AdminError} 400 with `field` for an empty, too long or badly formed login or
   * password; 409 for a duplicate.
   */
  async addClient(input: Record<string, unknown>): Promise<ClientRow> {
    const { login, password, legacy } = input;
    if (typeof login !== "string") {
      throw new AdminError(Status.BAD_REQUEST, "Login is required", { field: "login" });
    }
    if (typeof password !== "string") {
      throw new AdminError(Status.BAD_REQUEST, "Password is required", { field: "password" });
    }
    if (legacy !== undefined && typeof legacy !== "boolean") {
      throw new AdminError(Status.BAD_REQUEST, "Invalid field: legacy must be true or false");
    }
    const name = login.trim();
    const lp = loginProblem(name);
    if (lp) throw new AdminError(Status.BAD_REQUEST, lp, { field: "login" });
    const pp = passwordProblem(password);
    if (pp) throw new AdminError(Status.BAD_REQUEST, pp, { field: "password" });
    try {
      const row = await addUser(this.#options.storage.users, name, password, {
        legacy: legacy === true,
        iterations: this.#options.iterations,
      });
      this.#note(`Client added: ${row.login}${row.legacy ? " (with legacy hash)" : ""}`);
      this.#options.hub.publish("clients", {});
      return { ...row, online: false };
    } catch (err) {
      if (err instanceof JimError && err.code === Status.CONFLICT) {
        // "Invalid login: looks like existing user alice" says more than "taken".
        const message = err.message.startsWith("Invalid login:")
          ? err.message
          : `Login is taken: ${name}`;
        throw new AdminError(Status.CONFLICT, message, {
          cause: err,
          field: "login",
        });
      }
      throw err;
    }
  }

  /**
   * Removes a client; if they are online, the running server tells them `403 Account removed`
   * and closes their session.
   *
   * @throws {JimError} 404 when there is no such client.
   */
  async removeClient(login: string): Promise<void> {
    await this.#options.storage.users.remove(login);
    await this.#server?.endSessionsOfRemovedUsers();
    this.#note(`Client removed: ${login}`);
    this.#options.hub.publish("clients", {});
  }

  // --- Rooms (issue 13) ---

  /** The Rooms table: every room with owner, members, messages and last activity. */
  async rooms(): Promise<RoomRowJson[]> {
    return (await this.#options.storage.rooms.list()).map((r) => ({
      name: r.name,
      owner: r.owner,
      members: r.members,
      messages: r.messages,
      lastActivity: r.lastActivity,
      inviteOnly: r.inviteOnly,
    }));
  }

  /**
   * Deletes a room with its members and messages; members online on the running server are
   * told (`room_event` deleted).
   *
   * @throws {JimError} 404 when there is no such room, 400 for a name no room can have.
   */
  async deleteRoom(name: string): Promise<void> {
    const { room, members } = await deleteRoomAsAdmin(
      this.#options.storage.rooms,
      this.#server?.hub,
      name,
    );
    this.#note(`Room deleted: ${room} (${members.length} members)`);
    this.#options.hub.publish("rooms", {});
  }

  /**
   * Sets a new password for a client; the legacy hash follows the client's current choice.
   *
   * @throws {AdminError} 400 for a bad password; {@linkcode JimError} 404 for no such client.
   */
  async resetPassword(login: string, input: Record<string, unknown>): Promise<void> {
    const { password } = input;
    if (typeof password !== "string") {
      throw new AdminError(Status.BAD_REQUEST, "Password is required", { field: "password" });
    }
    const pp = passwordProblem(password);
    if (pp) throw new AdminError(Status.BAD_REQUEST, pp, { field: "password" });
    await setPassword(this.#options.storage.users, login, password, {
      iterations: this.#options.iterations,
    });
    this.#note(`Password reset: ${login}`);
  }

  /** Stops the server if it runs. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#serial(async () => {
      if (this.#server) await this.#shutdown(this.#server);
    });
    // Let the pump pass on the last server's stop event before it ends.
    this.#subscription.unsubscribe();
    await this.#pump;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
  }
}
