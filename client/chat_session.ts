import { isAccountName, JimError, sameLogin, Status } from "../protocol/mod.ts";
import { ConnectionError } from "./errors.ts";
import { TypedEventTarget } from "./_typed_event_target.ts";
import { registerSecrets } from "./_held_secrets.ts";
import { History, type MessageRecord } from "./history.ts";
import {
  type Contact,
  type DisconnectInfo,
  type IncomingMessage,
  JimClient,
  type JimClientOptions,
  type LoginResult,
  type SaltedPassword,
} from "./jim_client.ts";

/** What {@linkcode ChatSession} needs: where to connect, who to be, where history lives. */
export interface ChatSessionOptions extends JimClientOptions {
  /** The login. */
  user: string;
  /**
   * The password, used for the login and not kept; or a function that supplies it, called
   * once the connection is open, so that a prompt comes only after the server was reached.
   */
  password: string | (() => string | Promise<string>);
  /** Permit the seed's HMAC-MD5 login with a seed server (see {@linkcode JimClient.login}). */
  allowLegacy?: boolean;
  /** Overrides the data directory (`$XDG_DATA_HOME/jim` or `~/.local/share/jim`). */
  dataDir?: string;
  /**
   * Reconnect by itself when the connection is lost (on by default); `false` keeps the old
   * behaviour: the session ends with the connection. See {@linkcode ReconnectOptions}.
   */
  reconnect?: boolean | ReconnectOptions;
}

/**
 * How a {@linkcode ChatSession} reconnects: after the n-th failure it waits
 * `min(maxDelay, initialDelay * 2^(n-1))`, of which a random half is dropped (jitter) so that
 * many clients of a restarted server do not come back in step.
 */
export interface ReconnectOptions {
  /** Milliseconds before the first attempt, before jitter (default 500). */
  initialDelay?: number;
  /** The longest wait in milliseconds, before jitter (default 30000). */
  maxDelay?: number;
  /** The jitter's source: a number in [0, 1) (default `Math.random`). */
  random?: () => number;
  /**
   * Runs `attempt` after `delay` milliseconds and returns a function that cancels it
   * (default: `setTimeout`). A test can take the delays from here instead of waiting them.
   */
  schedule?: (attempt: () => void, delay: number) => () => void;
}

function scheduleWithTimer(attempt: () => void, delay: number): () => void {
  const timer = setTimeout(attempt, delay);
  return () => clearTimeout(timer);
}

/** Why a {@linkcode ChatSession} lost its connection, and whether it is coming back. */
export interface SessionDisconnectInfo extends DisconnectInfo {
  /** True while the session tries to reconnect; false when the session has ended. */
  reconnecting: boolean;
}

/** Details of the "reconnecting" event. */
export interface ReconnectingInfo {
  /** 1 for the first attempt after a loss. */
  attempt: number;
  /** Milliseconds until the attempt. */
  delay: number;
}

/** One line of the "Service info" log. */
export interface ServiceEntry {
  /** Milliseconds since the epoch. */
  time: number;
  /** "error" for failures, "info" otherwise. */
  level: "info" | "error";
  /** One sentence, never containing a secret. */
  text: string;
}

/** The events a {@linkcode ChatSession} dispatches, all as CustomEvents. */
export interface ChatSessionEventMap {
  /** An incoming message, already stored. */
  message: CustomEvent<MessageRecord>;
  /** An outgoing message was stored or changed status (sent → delivered | failed). */
  update: CustomEvent<MessageRecord>;
  /** The contact list or an online mark changed. */
  contacts: CustomEvent<Contact[]>;
  /** A "Service info" line. */
  service: CustomEvent<ServiceEntry>;
  /**
   * The connection ended; `reconnecting` tells whether the session tries to come back. A
   * session that gives up dispatches it again with `reconnecting: false`.
   */
  disconnected: CustomEvent<SessionDisconnectInfo>;
  /** A reconnect attempt is scheduled. */
  reconnecting: CustomEvent<ReconnectingInfo>;
  /** Logged in again after a loss, with the contacts synced. */
  reconnected: CustomEvent<LoginResult>;
}

const SERVICE_LOG_SIZE = 500;
/** Refusals that trying again cannot change: bad request, wrong or changed password, forbidden, unknown user. */
const FINAL_LOGIN_CODES: ReadonlySet<number> = new Set([
  Status.BAD_REQUEST,
  Status.AUTH_FAILED,
  Status.FORBIDDEN,
  Status.NOT_FOUND,
]);
const RECONNECTING_ERROR = "Not connected: reconnecting to the server";

/**
 * A logged-in chat: a {@linkcode JimClient} plus the local {@linkcode History}, with the
 * seed's rules. At login the contacts mirror is made equal to the server's list (the server
 * is the source of truth). A message from a login not in the contacts adds it, locally and
 * on the server. Every message is stored; a failed send is stored as failed with its error
 * and can be retried by id. The console client and the client GUI both use this.
 *
 * Listeners attached between `new ChatSession(options)` and `open()` also see the
 * connection and login; `ChatSession.connect()` does both at once.
 *
 * When the connection is lost (not after `quit()`/`close()`, not when the server removed
 * the account), the session reconnects with exponential backoff and logs in again with the
 * SCRAM SaltedPassword kept in memory from the login (RFC 5802 allows a client to cache it;
 * the password itself is never kept), then syncs the contacts. If the server's salt or
 * iteration count changed (the password was changed), it stops and says the password must
 * be entered again. `reconnect: false` turns this off.
 *
 * @example
 * ```ts
 * import { ChatSession } from "./chat_session.ts";
 * await using chat = await ChatSession.connect({ port: 7777, user: "alice", password: "secret" });
 * chat.addEventListener("message", (e) => console.log(`${e.detail.contact}: ${e.detail.text}`));
 * const sent = await chat.send("bob", "hello");
 * if (sent.status === "failed") console.log(sent.error); // "Client not online: bob"
 * ```
 */
export class ChatSession extends TypedEventTarget<ChatSessionEventMap> {
  /** The login of this session. */
  readonly user: string;
  #client: JimClient;
  #history: History | undefined;
  #password: ChatSessionOptions["password"] | undefined;
  readonly #clientOptions: JimClientOptions;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  /** In memory only, from the last SCRAM login; wiped on close. */
  #salted: SaltedPassword | undefined;
  #state: "new" | "open" | "reconnecting" | "ended" = "new";
  #attempt: JimClient | undefined;
  #attemptAbort: AbortController | undefined;
  #attemptRun: Promise<void> | undefined;
  #cancelRetry: (() => void) | undefined;
  #stopped = false;
  readonly #allowLegacy: boolean;
  readonly #dataDir: string | undefined;
  #online = new Map<string, boolean>();
  #incoming: Promise<void> = Promise.resolve();
  #ready = Promise.withResolvers<void>();
  #log: ServiceEntry[] = [];
  #closing: Promise<void> | undefined;
  #login: LoginResult | undefined;
  #inFlight = new Set<Promise<unknown>>();
  #contactOps: Promise<unknown> = Promise.resolve();

  /** Creates a session without connecting; call {@linkcode ChatSession.open} next. */
  constructor(options: ChatSessionOptions) {
    super();
    const { user, password, allowLegacy, dataDir, reconnect, ...clientOptions } = options;
    this.user = user;
    this.#password = password;
    this.#allowLegacy = allowLegacy ?? false;
    this.#dataDir = dataDir;
    this.#clientOptions = clientOptions;
    const backoff = typeof reconnect === "object" ? reconnect : {};
    this.#reconnect = reconnect === false ? undefined : {
      initialDelay: Math.max(1, backoff.initialDelay ?? 500),
      maxDelay: Math.max(1, backoff.maxDelay ?? 30_000),
      random: backoff.random ?? Math.random,
      schedule: backoff.schedule ?? scheduleWithTimer,
    };
    registerSecrets(this, () => ({
      password: this.#password !== undefined,
      saltedPassword: this.#salted?.value,
    }));
    this.#client = new JimClient(clientOptions);
    this.#ready.promise.catch(() => {});
    this.#wire(this.#client);
  }

  /**
   * The connection in use, for what the session does not wrap. After a reconnect it is a new
   * {@linkcode JimClient}; while reconnecting it is the lost one.
   */
  get client(): JimClient {
    return this.#client;
  }

  /** Whether the session is waiting to reconnect or reconnecting now. */
  get reconnecting(): boolean {
    return this.#state === "reconnecting";
  }

  /**
   * Connects, logs in, opens the history and syncs the contacts.
   *
   * @example
   * ```ts
   * import { ChatSession } from "./chat_session.ts";
   * const chat = await ChatSession.connect({ host: "127.0.0.1", port: 7777, user: "alice", password: "secret" });
   * ```
   * @throws {ConnectionError} when the server cannot be reached.
   * @throws {JimError} when the login is refused (404 unknown user, 402 wrong password or an
   *   unverifiable server).
   */
  static async connect(options: ChatSessionOptions): Promise<ChatSession> {
    const session = new ChatSession(options);
    await session.open();
    return session;
  }

  /** The local history; open once logged in. */
  get history(): History {
    if (!this.#history) throw new ConnectionError("Cannot read history: not logged in");
    return this.#history;
  }

  /** How the login went, once logged in. */
  get login(): LoginResult | undefined {
    return this.#login;
  }

  /** Whether the connection is open. */
  get connected(): boolean {
    return this.client.connected;
  }

  /** The most recent "Service info" lines, oldest first (at most 500). */
  serviceLog(): ServiceEntry[] {
    return [...this.#log];
  }

  /** Connects, logs in, opens the history and syncs the contacts; see {@linkcode ChatSession.connect}. */
  async open(): Promise<void> {
    const secret = this.#password;
    this.#password = undefined;
    if (secret === undefined) throw new ConnectionError("Cannot open session: already used");
    try {
      await this.client.open();
      const password = typeof secret === "function" ? await secret() : secret;
      this.#login = await this.client.login(this.user, password, {
        allowLegacy: this.#allowLegacy,
        onSaltedPassword: (salted) => this.#keep(salted),
      });
      this.#history = History.open({
        dataDir: this.#dataDir,
        account: this.user,
        host: this.client.host,
        port: this.client.port,
      });
      await this.syncContacts();
      if (this.#state === "new") this.#state = "open";
      // Incoming messages are stored from here on; they waited so that the first sync
      // cannot undo a stranger's auto-add.
      this.#ready.resolve();
    } catch (error) {
      this.#ready.reject(error);
      await this.close();
      throw error;
    }
  }

  /** The contacts mirror with the last known online marks, sorted by login. */
  contacts(): Contact[] {
    if (!this.#history) return [];
    return this.#history.contacts().map((login) => ({
      login,
      online: this.#online.get(login) ?? false,
    }));
  }

  /**
   * Fetches the server's contact list and makes the mirror equal to it.
   *
   * @example
   * ```ts
   * import { ChatSession } from "./chat_session.ts";
   * const chat = await ChatSession.connect({ port: 7777, user: "alice", password: "secret" });
   * for (const c of await chat.syncContacts()) console.log(c.login, c.online ? "online" : "");
   * ```
   */
  syncContacts(): Promise<Contact[]> {
    return this.#serial(() => this.#sync());
  }

  async #sync(): Promise<Contact[]> {
    const list = await this.client.contacts();
    const { added, removed } = this.history.setContacts(list.map((c) => c.login));
    this.#online = new Map(list.map((c) => [c.login, c.online]));
    if (added.length > 0 || removed.length > 0) {
      const parts = [
        added.length > 0 ? `added ${added.join(", ")}` : "",
        removed.length > 0 ? `removed ${removed.join(", ")}` : "",
      ].filter(Boolean);
      this.#service("info", `Contacts synced from the server: ${parts.join("; ")}`);
    }
    const view = this.contacts();
    this.emit("contacts", view);
    return view;
  }

  /**
   * Adds a contact on the server and in the mirror.
   *
   * @throws {JimError} 404 for an unknown login, 409 when already a contact (the mirror is
   *   corrected either way).
   */
  addContact(login: string): Promise<void> {
    return this.#serial(() => this.#add(login));
  }

  async #add(login: string): Promise<void> {
    try {
      await this.client.addContact(login);
    } catch (error) {
      if (error instanceof JimError && error.code === Status.CONFLICT) this.#mirrorAdd(login);
      throw error;
    }
    this.#mirrorAdd(login);
  }

  /**
   * Removes a contact on the server and from the mirror; its messages stay in the history.
   *
   * @throws {JimError} 404 when it is not a contact (the mirror is corrected anyway).
   */
  removeContact(login: string): Promise<void> {
    return this.#serial(() => this.#remove(login));
  }

  async #remove(login: string): Promise<void> {
    try {
      await this.client.removeContact(login);
    } catch (error) {
      if (error instanceof JimError && error.code === Status.NOT_FOUND) this.#mirrorRemove(login);
      throw error;
    }
    this.#mirrorRemove(login);
  }

  /** Every registered login on the server. */
  users(): Promise<string[]> {
    return this.client.users();
  }

  /**
   * Sends a message and stores it. Resolves with the stored record whether or not the
   * server took it: status "delivered", or "failed" with the error (e.g. "Client not online:
   * bob"); a failed message can be retried with {@linkcode ChatSession.retry}.
   *
   * @example
   * ```ts
   * import { ChatSession } from "./chat_session.ts";
   * const chat = await ChatSession.connect({ port: 7777, user: "alice", password: "secret" });
   * const m = await chat.send("bob", "hi");
   * if (m.status === "failed") await chat.retry(m.id);
   * ```
   * @throws {JimError} 400, storing nothing, for an invalid login or an empty text.
   */
  async send(to: string, text: string): Promise<MessageRecord> {
    if (!isAccountName(to)) {
      throw new JimError(Status.BAD_REQUEST, `Invalid login: ${JSON.stringify(to)}`);
    }
    if (text.length === 0) {
      throw new JimError(Status.BAD_REQUEST, "Invalid field: message must not be empty");
    }
    const record = this.history.addMessage({
      contact: to,
      direction: "out",
      text,
      status: "sent",
    });
    this.emit("update", record);
    return await this.#track(this.#deliver(record));
  }

  /**
   * Sends a failed message again, keeping its id; its time becomes now.
   *
   * @throws {JimError} 404 for an unknown id, 409 when the message is not a failed outgoing one.
   */
  async retry(id: number): Promise<MessageRecord> {
    const record = this.history.message(id);
    if (!record) throw new JimError(Status.NOT_FOUND, `No such message: ${id}`);
    if (record.direction !== "out" || record.status !== "failed") {
      throw new JimError(
        Status.CONFLICT,
        `Cannot retry message ${id}: it is ${
          record.direction === "in" ? "incoming" : record.status
        }, not a failed outgoing message`,
      );
    }
    const sending = this.history.setStatus(id, "sent", { time: Date.now() })!;
    this.emit("update", sending);
    return await this.#track(this.#deliver(sending));
  }

  /** The last `limit` messages with `contact` (default 50), oldest first. */
  messages(contact: string, limit = 50): MessageRecord[] {
    return this.history.messages(contact, { limit });
  }

  /**
   * Runs contact operations one after another: a sync whose list was fetched before an add
   * completed would otherwise drop the new contact from the mirror.
   */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#contactOps.then(operation);
    this.#contactOps = result.catch(() => {});
    return result;
  }

  async #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(work);
    }
  }

  async #deliver(record: MessageRecord): Promise<MessageRecord> {
    let updated: MessageRecord | undefined;
    try {
      if (this.#state === "reconnecting") throw new ConnectionError(RECONNECTING_ERROR);
      await this.client.send(record.contact, record.text);
      updated = this.#history?.setStatus(record.id, "delivered");
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      updated = this.#history?.setStatus(record.id, "failed", { error: text });
    }
    const result = updated ?? { ...record, status: "failed", error: "History closed" };
    this.emit("update", result);
    return result;
  }

  /** Says goodbye to the server, closes the connection and the history; no reconnecting. */
  async quit(): Promise<void> {
    this.#stop();
    await this.client.quit();
    await this.close();
  }

  /**
   * Closes the connection and the history, stops reconnecting and wipes the cached salted
   * password. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop();
      await this.client.close();
      await this.#attempt?.close();
      await this.#attemptRun;
      await Promise.allSettled([...this.#inFlight]);
      await this.#incoming;
      this.#history?.close();
    })();
    return this.#closing;
  }

  /** Closes the session, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Ends reconnecting for good: no timer, no attempt, no cached secret. */
  #stop(): void {
    this.#stopped = true;
    this.#state = "ended";
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#attemptAbort?.abort(new ConnectionError("Reconnecting stopped: session closed"));
    this.#forget();
  }

  #keep(salted: SaltedPassword): void {
    if (this.#stopped || !this.#reconnect) return;
    // A copy the session owns; the one it replaces is wiped (it may be `salted` itself).
    const copy = {
      salt: salted.salt.slice(),
      iterations: salted.iterations,
      value: salted.value.slice(),
    };
    this.#forget();
    this.#salted = copy;
  }

  #forget(): void {
    this.#salted?.value.fill(0);
    this.#salted = undefined;
  }

  /** The current connection ended; decides whether to come back. */
  #lost(info: DisconnectInfo): void {
    const reconnectable = this.#state === "open" && !this.#stopped && info.error !== undefined;
    let refusal: string | undefined;
    if (reconnectable && this.#reconnect) {
      if (info.notice?.code === Status.FORBIDDEN) {
        refusal = `Not reconnecting: ${info.notice.text}`;
      } else if (!this.#salted) {
        refusal = "Not reconnecting: the legacy login needs the password; connect again";
      }
    }
    const retry = reconnectable && this.#reconnect !== undefined && refusal === undefined;
    // The state changes first, so that listeners of the lines below see where it stands.
    this.#state = retry ? "reconnecting" : this.#state === "new" ? "new" : "ended";
    // A failed open() is reported once, by its caller, with the server's reason; the close
    // that follows it is not news.
    if (this.#login !== undefined) {
      this.#service(info.error ? "error" : "info", `Disconnected: ${info.reason}`);
    }
    if (refusal) this.#service("error", refusal);
    if (!retry) this.#forget();
    this.emit("disconnected", { ...info, reconnecting: retry });
    if (retry) this.#schedule(1);
  }

  #schedule(attempt: number): void {
    if (this.#stopped || this.#state !== "reconnecting") return;
    const { initialDelay, maxDelay, random, schedule } = this.#reconnect!;
    const ceiling = Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt - 1, 30));
    const delay = Math.round(ceiling / 2 + random() * ceiling / 2);
    const seconds = delay < 10_000 ? Math.round(delay / 100) / 10 : Math.round(delay / 1000);
    this.#service("info", `Reconnecting in ${seconds} s (attempt ${attempt})`);
    this.emit("reconnecting", { attempt, delay });
    this.#cancelRetry = schedule(() => {
      this.#cancelRetry = undefined;
      this.#attemptRun = this.#tryReconnect(attempt);
    }, delay);
  }

  async #tryReconnect(attempt: number): Promise<void> {
    const salted = this.#salted;
    if (this.#stopped || !salted) return;
    const abort = new AbortController();
    this.#attemptAbort = abort;
    const client = new JimClient({ ...this.#clientOptions, signal: abort.signal });
    this.#attempt = client;
    this.#wire(client);
    try {
      await client.open();
      const login = await client.login(this.user, salted, {
        signal: abort.signal,
        onSaltedPassword: (s) => this.#keep(s),
      });
      if (this.#stopped) {
        await client.close();
        return;
      }
      this.#attempt = undefined;
      this.#attemptAbort = undefined;
      this.#client = client;
      this.#login = login;
      this.#state = "open";
      try {
        await this.syncContacts();
      } catch (error) {
        // A loss during the sync is handled by the "disconnected" listener.
        if (client.connected) {
          this.#service("error", `Cannot sync contacts: ${(error as Error).message}`);
        }
      }
      if (this.#client === client && client.connected) {
        this.#service("info", "Reconnected");
        this.emit("reconnected", login);
      }
    } catch (error) {
      this.#attempt = undefined;
      this.#attemptAbort = undefined;
      await client.close();
      if (this.#stopped) return;
      const detail = error instanceof Error ? error.message : String(error);
      if (error instanceof JimError && FINAL_LOGIN_CODES.has(error.code)) {
        this.#state = "ended";
        this.#forget();
        const reason = `Reconnecting stopped: ${detail}`;
        this.#service("error", reason);
        this.emit("disconnected", {
          host: client.host,
          port: client.port,
          tls: client.tls,
          reason,
          error: new ConnectionError(reason, { cause: error }),
          reconnecting: false,
        });
        return;
      }
      this.#service("error", `Reconnect attempt ${attempt} failed: ${detail}`);
      this.#schedule(attempt + 1);
    }
  }

  #wire(c: JimClient): void {
    // Only the connection in use, or the one being tried, speaks for the session.
    const live = () => c === this.#client || c === this.#attempt;
    c.addEventListener("connecting", (e) => {
      const tls = e.detail.tls ? " (TLS)" : "";
      this.#service("info", `Connecting to ${e.detail.host}:${e.detail.port}${tls}`);
    });
    c.addEventListener("connected", (e) => {
      this.#service("info", `Connected to ${e.detail.host}:${e.detail.port}`);
    });
    c.addEventListener("login", (e) => {
      this.#service("info", `Logged in as ${e.detail.user} (${e.detail.mechanism})`);
    });
    c.addEventListener("error", (e) => {
      if (live()) this.#service("error", e.detail.error.message);
    });
    c.addEventListener("disconnected", (e) => {
      // A failed attempt is reported by the reconnect loop, in one line.
      if (c === this.#client) this.#lost(e.detail);
    });
    c.addEventListener("probe", () => this.#service("info", "Answered a probe from the server"));
    c.addEventListener("contact", (e) => {
      if (!live()) return;
      if (this.#online.get(e.detail.login) === e.detail.online) return;
      this.#online.set(e.detail.login, e.detail.online);
      if (this.#history?.hasContact(e.detail.login)) this.emit("contacts", this.contacts());
    });
    c.addEventListener("message", (e) => {
      // Stored one after another so that the order on disk is the order of arrival.
      this.#incoming = this.#incoming.then(() => this.#store(e.detail)).catch((error) => {
        this.#service("error", `Cannot store message: ${(error as Error).message}`);
      });
    });
  }

  async #store(message: IncomingMessage): Promise<void> {
    try {
      await this.#ready.promise;
    } catch {
      return; // The login failed: there is nowhere to keep it.
    }
    const history = this.#history;
    if (!history) return;
    const contact = sameLogin(message.from, this.user) ? message.to : message.from;
    const record = history.addMessage({
      contact,
      direction: "in",
      text: message.text,
      // Arrival time: the wire has whole seconds from the sender's clock, which would sort a
      // reply before the message it answers.
      time: Date.now(),
      status: "delivered",
    });
    if (!history.hasContact(contact)) {
      // The seed: a message from someone not in the list adds them, and it stays. Queued with
      // the other contact operations so that a sync in flight cannot drop the new contact.
      await this.#serial(async () => {
        if (!this.#history || history.hasContact(contact)) return;
        this.#mirrorAdd(contact, true);
        this.#service("info", `New contact from an incoming message: ${contact}`);
        try {
          await this.client.addContact(contact);
        } catch (error) {
          if (!(error instanceof JimError && error.code === Status.CONFLICT)) {
            this.#service(
              "error",
              `Cannot add ${contact} on the server: ${(error as Error).message}`,
            );
          }
        }
      });
    }
    this.emit("message", record);
  }

  #mirrorAdd(login: string, online?: boolean): void {
    const added = this.history.addContact(login);
    if (online !== undefined) this.#online.set(login, online);
    if (added) this.emit("contacts", this.contacts());
  }

  #mirrorRemove(login: string): void {
    if (this.history.removeContact(login)) {
      this.#online.delete(login);
      this.emit("contacts", this.contacts());
    }
  }

  #service(level: ServiceEntry["level"], text: string): void {
    const entry: ServiceEntry = { time: Date.now(), level, text };
    this.#log.push(entry);
    if (this.#log.length > SERVICE_LOG_SIZE) this.#log.shift();
    this.emit("service", entry);
  }
}
