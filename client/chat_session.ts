import { isAccountName, JimError, Status } from "../protocol/mod.ts";
import { ConnectionError } from "./errors.ts";
import { TypedEventTarget } from "./_typed_event_target.ts";
import { History, type MessageRecord } from "./history.ts";
import {
  type Contact,
  type DisconnectInfo,
  type IncomingMessage,
  JimClient,
  type JimClientOptions,
  type LoginResult,
} from "./jim_client.ts";

/** What {@linkcode ChatSession} needs: where to connect, who to be, where history lives. */
export interface ChatSessionOptions extends JimClientOptions {
  /** The login. */
  user: string;
  /** The password; used for the login and not kept. */
  password: string;
  /** Permit the seed's HMAC-MD5 login with a seed server (see {@linkcode JimClient.login}). */
  allowLegacy?: boolean;
  /** Overrides the data directory (`$XDG_DATA_HOME/jim` or `~/.local/share/jim`). */
  dataDir?: string;
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
  /** The connection ended. */
  disconnected: CustomEvent<DisconnectInfo>;
}

const SERVICE_LOG_SIZE = 500;

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
  /** The underlying connection, for what the session does not wrap. */
  readonly client: JimClient;
  #history: History | undefined;
  #password: string | undefined;
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
    const { user, password, allowLegacy, dataDir, ...clientOptions } = options;
    this.user = user;
    this.#password = password;
    this.#allowLegacy = allowLegacy ?? false;
    this.#dataDir = dataDir;
    this.client = new JimClient(clientOptions);
    this.#ready.promise.catch(() => {});
    this.#wire();
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
    const password = this.#password;
    this.#password = undefined;
    if (password === undefined) throw new ConnectionError("Cannot open session: already used");
    try {
      await this.client.open();
      this.#login = await this.client.login(this.user, password, {
        allowLegacy: this.#allowLegacy,
      });
      this.#history = History.open({
        dataDir: this.#dataDir,
        account: this.user,
        host: this.client.host,
        port: this.client.port,
      });
      await this.syncContacts();
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

  /** Says goodbye to the server, closes the connection and the history. */
  async quit(): Promise<void> {
    await this.client.quit();
    await this.close();
  }

  /** Closes the connection and the history. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.client.close();
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

  #wire(): void {
    const c = this.client;
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
    c.addEventListener("error", (e) => this.#service("error", e.detail.error.message));
    c.addEventListener("disconnected", (e) => {
      this.#service(e.detail.error ? "error" : "info", `Disconnected: ${e.detail.reason}`);
      this.emit("disconnected", e.detail);
    });
    c.addEventListener("probe", () => this.#service("info", "Answered a probe from the server"));
    c.addEventListener("contact", (e) => {
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
    const contact = message.from === this.user ? message.to : message.from;
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
