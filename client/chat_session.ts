import { isAccountName, JimError, MAX_HISTORY_PAGE, sameLogin, Status } from "../protocol/mod.ts";
import { ConnectionError } from "./errors.ts";
import { formatServer, type ServerAddress } from "./server_list.ts";
import { TypedEventTarget } from "./_typed_event_target.ts";
import { registerSecrets } from "./_held_secrets.ts";
import {
  History,
  type MessageRecord,
  type RoomRecord,
  type SearchHit,
  type ServerMessage,
} from "./history.ts";
import { requireRoomName, type RoomEvent, type RoomMember } from "./rooms.ts";
import {
  type Contact,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type DisconnectInfo,
  type HistoryItem,
  type IncomingMessage,
  JimClient,
  type JimClientOptions,
  type JoinResult,
  type LoginResult,
  type PresenceChange,
  type Receipt,
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
  /**
   * Several servers of one cluster, tried in turn (`parseServerList()` reads them from text); when
   * given, `host` and `port` are ignored. The first names the account's local history, so
   * that a failover keeps the same cache. A lost connection reconnects to the next one.
   */
  servers?: readonly ServerAddress[];
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

/**
 * A message that arrived on the connection and was stored: `live` from a contact,
 * `backlog` kept by the server while this account was offline, `carbon` sent by another
 * session of this account (one's own message), `self` a note to oneself from another session.
 */
export interface ArrivedMessage extends MessageRecord {
  /** How it came. */
  via: "live" | "backlog" | "carbon" | "self";
}

/** Details of the "history" event: cached messages changed in bulk. */
export interface HistoryChange {
  /** The conversations that changed. */
  contacts: string[];
  /**
   * `sync`: messages from the server's history; `read`: read marks made elsewhere (unread
   * counts changed); `receipts`: many own messages changed state at once; `merge`: a
   * duplicate was folded into one message.
   */
  reason: "sync" | "read" | "receipts" | "merge";
  /** How many messages were added to the cache. */
  added: number;
}

/** A page of a conversation from {@linkcode ChatSession.page}. */
export interface ConversationPage {
  /** Oldest first. */
  messages: MessageRecord[];
  /** Whether older messages remain, in the cache or on the server. */
  more: boolean;
}

/** The events a {@linkcode ChatSession} dispatches, all as CustomEvents. */
export interface ChatSessionEventMap {
  /**
   * A message arrived and is stored: incoming (live or kept while offline), or one's own
   * sent from another session (carbon). Each server id is announced once.
   */
  message: CustomEvent<ArrivedMessage>;
  /**
   * An outgoing message was stored or changed status (sent → stored | delivered | failed;
   * stored → delivered → read by receipts).
   */
  update: CustomEvent<MessageRecord>;
  /** Cached messages changed in bulk: reload what is shown of those conversations. */
  history: CustomEvent<HistoryChange>;
  /** The contact list or an online mark changed. */
  contacts: CustomEvent<Contact[]>;
  /** A contact came online or went offline (a presence push; servers with `presence`). */
  presence: CustomEvent<PresenceChange>;
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
  /** The rooms mirror changed (joined, left, kicked, deleted, owner or settings). */
  rooms: CustomEvent<RoomRecord[]>;
  /** Something happened in a room (servers with `rooms`), after the mirror took it in. */
  room: CustomEvent<RoomEvent>;
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
/** History pages fetched back from the newest at the first login with an empty cache. */
const FIRST_SYNC_PAGES = 5;
/** History pages fetched back to close a gap when the sync cursor is gone from the server. */
const GAP_SYNC_PAGES = 50;
/** Receipts that change more messages than this are announced as one "history" event. */
const RECEIPT_UPDATES = 50;

/**
 * A logged-in chat: a {@linkcode JimClient} plus the local {@linkcode History}, with the
 * seed's rules. At login the contacts mirror is made equal to the server's list (the server
 * is the source of truth). A message from a login not in the contacts adds it, locally and
 * on the server. Every message is stored; a failed send is stored as failed with its error
 * and can be retried by id. The console client and the client GUI both use this.
 *
 * With a server that keeps messages (it answers `ids`, issue 12) the history is a cache of
 * the server's: a send the server stored for an offline recipient is a success ("stored"),
 * receipts move own messages on to "delivered" and "read", carbons are one's own messages,
 * each server id is cached and announced once, the login fetches what the cache lacks
 * ({@linkcode ChatSession.synced}), {@linkcode ChatSession.page} goes on to the server once
 * the cache is exhausted, and read marks travel both ways. Without it, all of that is local.
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
  readonly #clientOptions: Omit<JimClientOptions, "host" | "port">;
  readonly #servers: readonly ServerAddress[];
  /** Index in {@linkcode #servers} of the server in use (or last used). */
  #current = 0;
  /** While open() tries a server that is not the last: its failure is not the session's. */
  #failingOver = false;
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
  #synced: Promise<void> = Promise.resolve();
  /**
   * Texts this session sent to itself: the server echoes each such message to every session
   * of the account, this one included, and this one has it already. The echo takes its
   * entry; a failed send gives it back.
   */
  #selfSends = new Map<string, number>();
  /** Read marks on their way to the server, by contact. */
  #reading = new Map<string, Promise<void>>();
  /**
   * Server ids this session has announced. The file may be shared with another process of
   * the same account (the GUI and the console), which can have cached a message first: it is
   * still news here, once.
   */
  #announced = new Set<number>();

  /** Creates a session without connecting; call {@linkcode ChatSession.open} next. */
  constructor(options: ChatSessionOptions) {
    super();
    const {
      user,
      password,
      allowLegacy,
      dataDir,
      reconnect,
      servers,
      host,
      port,
      ...clientOptions
    } = options;
    if (servers !== undefined && servers.length === 0) {
      throw new TypeError("Cannot create session: the server list is empty");
    }
    this.#servers = (servers ?? [{ host: host ?? DEFAULT_HOST, port: port ?? DEFAULT_PORT }])
      .map((s) => ({ host: s.host, port: s.port }));
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
    this.#client = this.#newClient(0);
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

  /**
   * The servers this session tries, in order; the first names the local history. The one in
   * use is {@linkcode ChatSession.server}.
   */
  get servers(): readonly ServerAddress[] {
    return this.#servers;
  }

  /** The server of the connection in use (while reconnecting: the lost one). */
  get server(): ServerAddress {
    return { host: this.client.host, port: this.client.port };
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

  /**
   * Settles when the history sync started by the last login (or reconnect) has finished;
   * at once with a server without `ids`. It never rejects: a failed sync is a Service info
   * line, and the next login fetches what is still missing.
   */
  get synced(): Promise<void> {
    return this.#synced;
  }

  /** Whether the server keeps messages for this session (it answered `ids` at login). */
  get serverHistory(): boolean {
    return this.client.supports("ids");
  }

  /** Whether the server pushes contacts' presence (it answered `presence` at login). */
  get presencePush(): boolean {
    return this.client.supports("presence");
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
      let password: string | undefined;
      for (let i = 0;; i++) {
        this.#failingOver = i + 1 < this.#servers.length;
        try {
          await this.client.open();
          password ??= typeof secret === "function" ? await secret() : secret;
          this.#login = await this.client.login(this.user, password, {
            allowLegacy: this.#allowLegacy,
            onSaltedPassword: (salted) => this.#keep(salted),
          });
          this.#current = i;
          break;
        } catch (error) {
          // close() while connecting ends the session, not just this server's attempt.
          if (!this.#failingOver || this.#stopped || !worthTheNext(error)) throw error;
          const next = formatServer(this.#servers[i + 1]!);
          this.#service("error", `${(error as Error).message}; trying ${next}`);
          await this.client.close();
          this.#client = this.#newClient(i + 1);
          this.#wire(this.#client);
        } finally {
          this.#failingOver = false;
        }
      }
      const home = this.#servers[0]!;
      this.#history = History.open({
        dataDir: this.#dataDir,
        account: this.user,
        host: home.host,
        port: home.port,
      });
      await this.syncContacts();
      await this.#serial(() => this.#addPendingContacts());
      if (this.#state === "new") this.#state = "open";
      // Incoming messages are stored from here on; they waited so that the first sync
      // cannot undo a stranger's auto-add.
      this.#ready.resolve();
      this.#startSync(this.client);
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
    if (to.startsWith("#")) {
      requireRoomName(to, "to");
    } else if (!isAccountName(to)) {
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
    const toSelf = sameLogin(record.contact, this.user);
    if (toSelf) this.#expectEcho(record.text, +1);
    let sentOk = false;
    // Once the request is on its way, a lost connection may have lost only the reply.
    let attempted = false;
    try {
      if (this.#state === "reconnecting") throw new ConnectionError(RECONNECTING_ERROR);
      const client = this.client;
      attempted = client.connected;
      const sent = await client.send(record.contact, record.text);
      sentOk = true;
      if (sent.id !== undefined) this.#firstTime(sent.id);
      const history = this.#history;
      if (history) {
        const confirmed = history.confirmSent(record.id, {
          status: sent.state,
          ...(sent.id === undefined ? {} : { serverId: sent.id }),
          ...(sent.ts === undefined ? {} : { time: sent.ts }),
        });
        updated = confirmed.record;
        if (confirmed.replaced !== undefined) {
          this.emit("history", { contacts: [record.contact], reason: "merge", added: 0 });
        }
      }
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (record.contact.startsWith("#")) this.#goneRoom(record.contact, error);
      // A lost connection may have lost only the reply: the server's copy, if it has one,
      // takes this message's place when the history comes in.
      updated = this.#history?.setStatus(record.id, "failed", {
        error: text,
        uncertain: attempted && error instanceof ConnectionError,
      });
    } finally {
      if (toSelf && !sentOk) this.#expectEcho(record.text, -1);
    }
    const result = updated ?? { ...record, status: "failed", error: "History closed" };
    this.emit("update", result);
    return result;
  }

  /**
   * A page of the conversation with `contact`, oldest first: the last `limit` messages, or
   * with `before` the `limit` before that message. The local cache answers first; once it is
   * exhausted and the server keeps history, older pages are fetched from the server, cached,
   * and merged in. `more` tells whether older messages remain anywhere.
   *
   * @example
   * ```ts
   * import { ChatSession } from "./chat_session.ts";
   * const chat = await ChatSession.connect({ port: 7777, user: "alice", password: "secret" });
   * let page = await chat.page("bob", { limit: 20 });
   * if (page.more) page = await chat.page("bob", { limit: 20, before: page.messages[0] });
   * ```
   */
  async page(
    contact: string,
    options: { limit?: number; before?: MessageRecord } = {},
  ): Promise<ConversationPage> {
    const limit = options.limit ?? 50;
    const history = this.history;
    const read = () => history.messages(contact, { limit: limit + 1, before: options.before });
    let rows = read();
    // Each fetch adds up to a server page; a few of them fill any page this asks for.
    for (let i = 0; i < 5 && rows.length <= limit && this.#canFetch(contact); i++) {
      try {
        if ((await this.#fetchOlder(contact)) === 0 && !history.isComplete(contact)) break;
      } catch (error) {
        this.#service("error", `Cannot load older messages: ${(error as Error).message}`);
        break;
      }
      rows = read();
    }
    const more = rows.length > limit || this.#canFetch(contact);
    return { messages: rows.length > limit ? rows.slice(1) : rows, more };
  }

  /**
   * Searches the local history (cached and sent messages alike), newest first; see
   * {@linkcode History.search}.
   */
  search(query: string, options: { limit?: number; contact?: string } = {}): SearchHit[] {
    return this.history.search(query, options);
  }

  /**
   * Marks what `contact` sent read here, and, when the server keeps history, on the server
   * (read up to the newest one), which tells `contact` and this account's other sessions.
   * Returns how many messages were unread. A mark the server did not take is sent again at
   * the next login.
   */
  async markRead(contact: string): Promise<number> {
    const changed = this.history.markConversationRead(contact);
    await this.#sendReadMark(contact);
    return changed;
  }

  #sendReadMark(contact: string): Promise<void> {
    const running = this.#reading.get(contact);
    if (running) return running.then(() => this.#sendReadMark(contact));
    const work = (async () => {
      const history = this.#history;
      const client = this.client;
      // Room reads stay local: the server keeps no read state for rooms.
      if (!history || !client.connected || !client.supports("ids") || contact.startsWith("#")) {
        return;
      }
      const last = history.lastReadIncoming(contact);
      if (last === 0 || last <= history.readMark(contact)) return;
      try {
        await client.markRead(contact, last);
        this.#history?.setReadMark(contact, last);
      } catch (error) {
        if (error instanceof JimError) {
          // The server does not know it as a message to us: nothing to send again.
          this.#history?.setReadMark(contact, last);
          this.#service("error", `Cannot mark ${contact} read: ${error.message}`);
        }
      }
    })().finally(() => this.#reading.delete(contact));
    this.#reading.set(contact, work);
    return this.#track(work);
  }

  #canFetch(contact: string): boolean {
    return this.client.connected && this.client.supports("ids") &&
      this.#history !== undefined && !this.#history.isComplete(contact);
  }

  /** One server page of `contact` older than the cache; returns how many were added. */
  async #fetchOlder(contact: string): Promise<number> {
    const history = this.history;
    const oldest = history.oldestServerId(contact);
    const page = await this.client.history({
      with: contact,
      ...(oldest === undefined ? {} : { before: oldest }),
      limit: MAX_HISTORY_PAGE,
    });
    // The caller reads the page from the cache; no "history" event for what it asked for.
    const added = this.#cacheItems(page.items, { roomRead: true }).added;
    if (!page.more) history.setComplete(contact);
    return added;
  }

  /** Caches history items; returns how many were new and which conversations changed. */
  #cacheItems(
    items: readonly HistoryItem[],
    options: { roomRead?: boolean } = {},
  ): { added: number; contacts: Set<string> } {
    const history = this.history;
    const contacts = new Set<string>();
    let added = 0;
    history.transaction(() => {
      for (const item of items) {
        const result = history.storeServerMessage(this.#fromItem(item, options.roomRead), {
          adopt: true,
        });
        if (result.outcome === "same") continue;
        contacts.add(result.record.contact);
        if (result.outcome === "added") added++;
      }
    });
    return { added, contacts };
  }

  #fromItem(item: HistoryItem, roomRead = false): ServerMessage {
    const out = sameLogin(item.from, this.user);
    if (item.to.startsWith("#")) {
      // Room items carry no state: what catching up brings is unread, what paging back
      // brings was there before this session looked.
      return {
        serverId: item.id,
        contact: item.to,
        direction: out ? "out" : "in",
        text: item.text,
        time: item.ts,
        status: out || roomRead ? "read" : "delivered",
        sender: item.from,
      };
    }
    return {
      serverId: item.id,
      contact: out ? item.to : item.from,
      direction: out ? "out" : "in",
      text: item.text,
      time: item.ts,
      status: out ? item.state ?? "stored" : item.state === "read" ? "read" : "delivered",
    };
  }

  #startSync(client: JimClient): void {
    if (!client.supports("ids")) {
      this.#synced = Promise.resolve();
      return;
    }
    this.#synced = this.#track(this.#syncHistory(client)).catch((error) => {
      if (client.connected) {
        this.#service("error", `Cannot sync the history: ${(error as Error).message}`);
      }
    }).then(() => this.#track(this.#syncRooms(client))).catch((error) => {
      if (client.connected) {
        this.#service("error", `Cannot sync the rooms: ${(error as Error).message}`);
      }
    });
  }

  /**
   * Fetches what the cache lacks: everything after the sync cursor, page by page; with an
   * empty cache, the newest pages. Then read marks made here that the server lacks.
   */
  async #syncHistory(client: JimClient): Promise<void> {
    const history = this.history;
    const changed = new Set<string>();
    let added = 0;
    const take = (items: readonly HistoryItem[]) => {
      const result = this.#cacheItems(items);
      added += result.added;
      for (const c of result.contacts) changed.add(c);
    };
    let cursor = history.syncCursor();
    let backFrom: { stopAt: number; pages: number } | undefined = cursor === 0
      ? { stopAt: 0, pages: FIRST_SYNC_PAGES }
      : undefined;
    while (!backFrom) {
      let page;
      try {
        page = await client.history({ after: cursor, limit: MAX_HISTORY_PAGE });
      } catch (error) {
        if (!(error instanceof JimError && error.code === Status.NOT_FOUND)) throw error;
        // The server no longer has the cursor's message (retention): page back from the
        // newest until the gap is closed.
        this.#service("info", `History sync: ${error.message}; fetching back from the newest`);
        backFrom = { stopAt: cursor, pages: GAP_SYNC_PAGES };
        break;
      }
      take(page.items);
      const last = page.items.at(-1)?.id;
      if (last !== undefined) {
        cursor = Math.max(cursor, last);
        history.setSyncCursor(cursor);
      }
      if (!page.more || last === undefined) break;
    }
    if (backFrom) {
      let page = await client.history({ limit: MAX_HISTORY_PAGE });
      take(page.items);
      const newest = page.items.at(-1)?.id;
      // The newest page is whole: everything up to its last id is cached from here on.
      if (newest !== undefined) history.setSyncCursor(newest);
      let pages = 1;
      let oldest = page.items[0]?.id;
      while (page.more && oldest !== undefined && oldest > backFrom.stopAt) {
        if (pages >= backFrom.pages) break;
        page = await client.history({ before: oldest, limit: MAX_HISTORY_PAGE });
        take(page.items);
        oldest = page.items[0]?.id;
        pages++;
      }
      if (!page.more) history.setAllComplete();
    }
    if (added > 0) {
      this.#service("info", `History synced: ${added} message(s) from the server`);
    }
    if (changed.size > 0) {
      this.emit("history", { contacts: [...changed].sort(), reason: "sync", added });
    }
    for (const { contact } of history.unsentReadMarks()) await this.#sendReadMark(contact);
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

  /**
   * One reconnect attempt: each server once, starting with the one after the lost one, so
   * that the loss of a cluster node moves the session to the next node at once.
   */
  async #tryReconnect(attempt: number): Promise<void> {
    const count = this.#servers.length;
    for (let step = 1; step <= count; step++) {
      const index = (this.#current + step) % count;
      const outcome = await this.#tryServer(attempt, index, step === count);
      if (outcome !== "next") return;
    }
  }

  /** Tries one server; "next" when the attempt should go on to the next server. */
  async #tryServer(
    attempt: number,
    index: number,
    last: boolean,
  ): Promise<"done" | "next"> {
    const salted = this.#salted;
    if (this.#stopped || !salted) return "done";
    const abort = new AbortController();
    this.#attemptAbort = abort;
    const client = this.#newClient(index, abort.signal);
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
        return "done";
      }
      this.#attempt = undefined;
      this.#attemptAbort = undefined;
      this.#client = client;
      this.#current = index;
      this.#login = login;
      this.#state = "open";
      try {
        await this.syncContacts();
        await this.#serial(() => this.#addPendingContacts());
      } catch (error) {
        // A loss during the sync is handled by the "disconnected" listener.
        if (client.connected) {
          this.#service("error", `Cannot sync contacts: ${(error as Error).message}`);
        }
      }
      if (client.connected) this.#startSync(client);
      if (this.#client === client && client.connected) {
        this.#service(
          "info",
          this.#servers.length > 1 ? `Reconnected to ${formatServer(this.server)}` : "Reconnected",
        );
        this.emit("reconnected", login);
      }
      return "done";
    } catch (error) {
      this.#attempt = undefined;
      this.#attemptAbort = undefined;
      await client.close();
      if (this.#stopped) return "done";
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
        return "done";
      }
      if (this.#servers.length === 1) {
        this.#service("error", `Reconnect attempt ${attempt} failed: ${detail}`);
      } else {
        const where = formatServer(this.#servers[index]!);
        this.#service("error", `Reconnect attempt ${attempt} to ${where} failed: ${detail}`);
      }
      if (!last) return "next";
      this.#schedule(attempt + 1);
      return "done";
    }
  }

  #newClient(index: number, signal?: AbortSignal): JimClient {
    const server = this.#servers[index]!;
    return new JimClient({
      ...this.#clientOptions,
      host: server.host,
      port: server.port,
      ...(signal ? { signal } : {}),
    });
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
      if (c === this.#client && !this.#failingOver) this.#lost(e.detail);
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
    c.addEventListener("receipt", (e) => {
      if (!live()) return;
      const receipt = e.detail;
      this.#incoming = this.#incoming.then(() => this.#receipt(receipt)).catch((error) => {
        this.#service("error", `Cannot apply receipt: ${(error as Error).message}`);
      });
    });
    c.addEventListener("presence", (e) => {
      if (live()) this.#presence(e.detail);
    });
    c.addEventListener("room", (e) => {
      if (!live()) return;
      const event = e.detail;
      // After stored messages, so that a "deleted" never overtakes the room's last lines.
      this.#incoming = this.#incoming.then(() => this.#roomEvent(event)).catch((error) => {
        this.#service("error", `Cannot apply room event: ${(error as Error).message}`);
      });
    });
  }

  async #roomEvent(event: RoomEvent): Promise<void> {
    try {
      await this.#ready.promise;
    } catch {
      return;
    }
    const history = this.#history;
    if (!history) return;
    const known = history.room(event.room);
    const me = event.user !== undefined && sameLogin(event.user, this.user);
    // Events concern rooms one is in, but for one's own join and an invitation.
    const mine = me && (event.event === "joined" || event.event === "invited");
    // This session's own leave or delete forgot the room before its event came back.
    const echo = event.event === "deleted" || (me && ["left", "kicked"].includes(event.event));
    if (!known && echo) return;
    if (!known && !mine) {
      this.#service(
        "error",
        `Ignored server message: room_event ${event.event} for ${event.room}: ${this.user} is not in it`,
      );
      return;
    }
    let changed = false;
    switch (event.event) {
      case "joined":
        if (me) {
          // Joined here (already mirrored) or on another session of this account.
          if (!known) {
            changed = history.putRoom({
              room: event.room,
              inviteOnly: false,
              historyVisible: false,
            });
            // Its owner, settings and latest messages come as for a join made here.
            void this.#track(this.#refreshRoom(this.client, event.room));
          }
        } else if (known && known.members !== undefined) {
          changed = !history.putRoom({ ...known, members: known.members + 1 });
        }
        break;
      case "left":
      case "kicked":
        if (me) changed = history.removeRoom(event.room);
        else if (known && known.members !== undefined) {
          changed = !history.putRoom({ ...known, members: Math.max(0, known.members - 1) });
        }
        break;
      case "deleted":
        changed = history.removeRoom(event.room);
        break;
      case "owner":
        if (known && event.user !== undefined) {
          changed = !history.putRoom({ ...known, owner: event.user });
        }
        break;
      case "config":
        if (known) {
          changed = !history.putRoom({
            ...known,
            inviteOnly: event.inviteOnly ?? known.inviteOnly,
            historyVisible: event.historyVisible ?? known.historyVisible,
          });
        }
        break;
      case "invited":
        break;
    }
    if (changed) this.emit("rooms", history.rooms());
    this.emit("room", event);
  }

  /**
   * Makes the rooms mirror equal to the server's list, then fetches what each room has that
   * the cache lacks (a member offline catches up here: room messages are never kept as a
   * backlog). Servers without `rooms` have none.
   */
  async #syncRooms(client: JimClient): Promise<void> {
    if (!client.supports("rooms")) return;
    const history = this.history;
    const list = await client.rooms();
    const { added, removed } = history.setRooms(list.map((r) => ({
      room: r.room,
      inviteOnly: r.inviteOnly,
      historyVisible: r.historyVisible ?? false,
      ...(r.owner === undefined ? {} : { owner: r.owner }),
      ...(r.members === undefined ? {} : { members: r.members }),
    })));
    if (added.length > 0 || removed.length > 0) {
      const parts = [
        added.length > 0 ? `joined ${added.join(", ")}` : "",
        removed.length > 0 ? `no longer in ${removed.join(", ")}` : "",
      ].filter(Boolean);
      this.#service("info", `Rooms synced from the server: ${parts.join("; ")}`);
    }
    this.emit("rooms", history.rooms());
    const changed = new Set<string>();
    let fetched = 0;
    for (const r of list) {
      if (r.lastId === undefined || r.lastId <= history.newestServerId(r.room)) continue;
      fetched += await this.#catchUpRoom(client, r.room, changed);
    }
    if (fetched > 0) this.#service("info", `Rooms synced: ${fetched} message(s) from the server`);
    if (changed.size > 0) {
      this.emit("history", { contacts: [...changed].sort(), reason: "sync", added: fetched });
    }
  }

  /** Pages a room forward from the newest cached id (or its latest page); returns how many. */
  async #catchUpRoom(
    client: JimClient,
    room: string,
    changed: Set<string>,
    options: { read?: boolean } = {},
  ): Promise<number> {
    const history = this.history;
    let added = 0;
    let cursor = history.newestServerId(room);
    for (let pages = 0; pages < GAP_SYNC_PAGES; pages++) {
      let page;
      try {
        page = cursor === 0
          ? await client.history({ with: room, limit: MAX_HISTORY_PAGE })
          : await client.history({ with: room, after: cursor, limit: MAX_HISTORY_PAGE });
      } catch (error) {
        // The cursor's message is gone (retention): start again from the newest page.
        if (error instanceof JimError && error.code === Status.NOT_FOUND && cursor !== 0) {
          cursor = 0;
          continue;
        }
        throw error;
      }
      const result = this.#cacheItems(page.items, { roomRead: options.read === true });
      added += result.added;
      for (const c of result.contacts) changed.add(c);
      const last = page.items.at(-1)?.id;
      // The newest page, fetched first, says nothing of what came before it is complete.
      if (cursor === 0 && !page.more) history.setComplete(room);
      // From the newest page on, older messages come with paging back, not here.
      if (cursor === 0 || last === undefined || !page.more) break;
      cursor = last;
    }
    return added;
  }

  /** Whether the server takes part in rooms for this session (it answered `rooms`). */
  get roomsSupported(): boolean {
    return this.client.supports("rooms");
  }

  /** The rooms mirror: the rooms this account is in, sorted by name. */
  rooms(): RoomRecord[] {
    return this.#history?.rooms() ?? [];
  }

  /**
   * Joins a room, creating it when absent (invite-only with `inviteOnly`), mirrors it, and
   * fetches its latest messages.
   *
   * @example
   * ```ts
   * import { ChatSession } from "./chat_session.ts";
   * const chat = await ChatSession.connect({ port: 7777, user: "alice", password: "secret" });
   * const { room, created } = await chat.join("#general");
   * await chat.send(room, "hello, room");
   * ```
   * @throws {JimError} 400 for a bad name; the server's refusal (403 invite-only, full, too
   *   many rooms; 409 a look-alike name).
   */
  async join(room: string, options: { inviteOnly?: boolean } = {}): Promise<JoinResult> {
    requireRoomName(room);
    const client = this.client;
    const result = await client.join(room, options);
    const history = this.history;
    const known = history.room(result.room);
    history.putRoom({
      room: result.room,
      inviteOnly: known?.inviteOnly ?? (result.created && options.inviteOnly === true),
      historyVisible: known?.historyVisible ?? false,
      ...(result.created ? { owner: this.user, members: 1 } : {}),
    });
    // The owner and member count come with the server's list.
    await this.#track(this.#refreshRoom(client, result.room));
    this.emit("rooms", history.rooms());
    return result;
  }

  async #refreshRoom(client: JimClient, room: string): Promise<void> {
    try {
      const info = (await client.rooms()).find((r) => r.room.toLowerCase() === room.toLowerCase());
      if (info) {
        this.history.putRoom({
          room: info.room,
          inviteOnly: info.inviteOnly,
          historyVisible: info.historyVisible ?? false,
          ...(info.owner === undefined ? {} : { owner: info.owner }),
          ...(info.members === undefined ? {} : { members: info.members }),
        });
      }
      const changed = new Set<string>();
      const added = await this.#catchUpRoom(client, room, changed, { read: true });
      if (added > 0) this.emit("history", { contacts: [room], reason: "sync", added });
    } catch (error) {
      if (client.connected) {
        this.#service("error", `Cannot load ${room}: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Leaves a room: nothing more of it arrives. Its messages stay in the history.
   *
   * @throws {JimError} the server's refusal, e.g. 403 "Not a member of #x" (the mirror
   *   forgets the room then too).
   */
  async leave(room: string): Promise<void> {
    requireRoomName(room);
    try {
      await this.client.leave(room);
    } catch (error) {
      if (
        error instanceof JimError &&
        (error.code === Status.FORBIDDEN || error.code === Status.NOT_FOUND)
      ) {
        this.#forgetRoom(room);
      }
      throw error;
    }
    this.#forgetRoom(room);
  }

  /**
   * A room deleted where no event told this session (the server's command line) answers
   * 404 "No such room", and one this account was removed from 403 "Not a member": the
   * mirror forgets it then.
   */
  #goneRoom(room: string, error: unknown): void {
    if (!(error instanceof JimError)) return;
    const gone = (error.code === Status.NOT_FOUND && error.message.startsWith("No such room")) ||
      (error.code === Status.FORBIDDEN && error.message.startsWith("Not a member of"));
    if (gone && this.#history) this.#forgetRoom(room);
  }

  #forgetRoom(room: string): void {
    if (this.history.removeRoom(room)) this.emit("rooms", this.history.rooms());
  }

  /** The members of a room, with online marks and the owner. */
  async members(room: string): Promise<RoomMember[]> {
    requireRoomName(room);
    let members: RoomMember[];
    try {
      members = await this.client.members(room);
    } catch (error) {
      this.#goneRoom(room, error);
      throw error;
    }
    const known = this.history.room(room);
    if (known && known.members !== members.length) {
      const owner = members.find((m) => m.owner)?.login;
      this.history.putRoom({
        ...known,
        members: members.length,
        ...(owner === undefined ? {} : { owner }),
      });
      this.emit("rooms", this.history.rooms());
    }
    return members;
  }

  /** Invites `login` to a room (any member may). */
  async invite(room: string, login: string): Promise<void> {
    await this.client.invite(room, login);
  }

  /** Removes `login` from a room (the owner only). */
  async kick(room: string, login: string): Promise<void> {
    await this.client.kick(room, login);
  }

  /** Hands a room over to `login` (the owner only). */
  async setOwner(room: string, login: string): Promise<void> {
    await this.client.setOwner(room, login);
    const known = this.history.room(room);
    if (known && !this.history.putRoom({ ...known, owner: login })) {
      this.emit("rooms", this.history.rooms());
    }
  }

  /** Deletes a room (the owner only); its members are told. Its messages stay here. */
  async deleteRoom(room: string): Promise<void> {
    await this.client.deleteRoom(room);
    this.#forgetRoom(room);
  }

  /** Changes a room's settings (the owner only). */
  async roomConfig(
    room: string,
    config: { historyVisible?: boolean; inviteOnly?: boolean },
  ): Promise<void> {
    await this.client.roomConfig(room, config);
    const known = this.history.room(room);
    if (known) {
      this.history.putRoom({
        ...known,
        inviteOnly: config.inviteOnly ?? known.inviteOnly,
        historyVisible: config.historyVisible ?? known.historyVisible,
      });
      this.emit("rooms", this.history.rooms());
    }
  }

  async #receipt(receipt: Receipt): Promise<void> {
    try {
      await this.#ready.promise;
    } catch {
      return;
    }
    const history = this.#history;
    if (!history) return;
    const { user, id } = receipt;
    if (receipt.own) {
      // Read on another session of this account: the same messages are read here.
      const changed = history.markConversationRead(user, id);
      history.setReadMark(user, id);
      if (changed > 0) this.emit("history", { contacts: [user], reason: "read", added: 0 });
      return;
    }
    if (receipt.state === "delivered") {
      // An unknown id, or one of another conversation, changes nothing.
      const record = history.markDelivered(user, id);
      if (record) this.emit("update", record);
      return;
    }
    const changed = history.markReadByPeer(user, id);
    if (changed.length > RECEIPT_UPDATES) {
      this.emit("history", { contacts: [user], reason: "receipts", added: 0 });
    } else {
      for (const record of changed) this.emit("update", record);
    }
  }

  #presence(change: PresenceChange): void {
    // Only contacts have a dot to flip; a push about anyone else is ignored.
    if (!this.#history?.hasContact(change.login)) return;
    if (this.#online.get(change.login) === change.online) return;
    this.#online.set(change.login, change.online);
    this.emit("presence", change);
    this.emit("contacts", this.contacts());
  }

  /** Adds imported contacts (see import-seed) on the server, once each. */
  async #addPendingContacts(): Promise<void> {
    const history = this.#history;
    if (!history) return;
    for (const login of history.pendingContacts()) {
      if (history.hasContact(login) || sameLogin(login, this.user)) {
        history.removePendingContact(login);
        continue;
      }
      try {
        await this.client.addContact(login);
        this.#mirrorAdd(login, false);
        this.#service("info", `Imported contact added on the server: ${login}`);
      } catch (error) {
        if (error instanceof ConnectionError) return; // Next login.
        if (error instanceof JimError && error.code === Status.CONFLICT) this.#mirrorAdd(login);
        else {this.#service(
            "error",
            `Cannot add imported contact ${login}: ${(error as Error).message}`,
          );}
      }
      history.removePendingContact(login);
    }
  }

  async #store(message: IncomingMessage): Promise<void> {
    try {
      await this.#ready.promise;
    } catch {
      return; // The login failed: there is nowhere to keep it.
    }
    const history = this.#history;
    if (!history) return;
    if (message.room !== undefined) {
      this.#storeRoom(history, message, message.room);
      return;
    }
    if (sameLogin(message.from, this.user)) {
      this.#storeOwn(history, message);
      return;
    }
    const contact = message.from;
    const fields = {
      contact,
      direction: "in" as const,
      text: message.text,
      // The server's time when it gives one; else arrival time: the wire has whole seconds
      // from the sender's clock, which would sort a reply before the message it answers.
      time: message.ts ?? Date.now(),
      status: "delivered" as const,
    };
    let record: MessageRecord;
    if (message.id === undefined) {
      record = history.addMessage(fields);
    } else {
      const stored = history.storeServerMessage({ ...fields, serverId: message.id });
      // Delivered before (live, then again in the backlog): not news.
      // A server id cached for another conversation changes nothing and is no news.
      const same = stored.record.direction === "in" && stored.record.contact === contact;
      if (!same || !this.#firstTime(message.id)) return;
      record = stored.record;
    }
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
    this.emit("message", { ...record, via: message.stored ? "backlog" : "live" });
  }

  /** A room message: another member's, or one this account sent from another session. */
  #storeRoom(history: History, message: IncomingMessage, room: string): void {
    const known = history.room(room);
    if (!known) {
      // The server sends a room's messages to its members only, after their "joined".
      this.#service("error", `Ignored server message: msg to ${room}: ${this.user} is not in it`);
      return;
    }
    const own = sameLogin(message.from, this.user);
    const fields = {
      contact: known.room,
      direction: own ? "out" as const : "in" as const,
      text: message.text,
      time: message.ts ?? Date.now(),
      // An own message from elsewhere needs no reading; another member's waits for it.
      status: own ? "read" as const : "delivered" as const,
      sender: message.from,
    };
    let record: MessageRecord;
    if (message.id === undefined) {
      record = history.addMessage(fields);
    } else {
      const stored = history.storeServerMessage({ ...fields, serverId: message.id });
      const same = stored.record.contact === fields.contact &&
        stored.record.direction === fields.direction;
      if (!same || !this.#firstTime(message.id)) return;
      record = stored.record;
    }
    this.emit("message", { ...record, via: own ? "carbon" : "live" });
  }

  #expectEcho(text: string, delta: number): void {
    const left = (this.#selfSends.get(text) ?? 0) + delta;
    if (left > 0) this.#selfSends.set(text, left);
    else this.#selfSends.delete(text);
    // An echo that never came must not keep a text from being shown forever.
    if (this.#selfSends.size > 100) this.#selfSends.delete(this.#selfSends.keys().next().value!);
  }

  /** Whether `serverId` is news to this session (and remembers it). */
  #firstTime(serverId: number): boolean {
    if (this.#announced.has(serverId)) return false;
    this.#announced.add(serverId);
    if (this.#announced.size > 10_000) {
      this.#announced.delete(this.#announced.values().next().value!);
    }
    return true;
  }

  /** A message this account sent from elsewhere: a carbon, or a note to oneself. */
  #storeOwn(history: History, message: IncomingMessage): void {
    const toSelf = sameLogin(message.to, this.user);
    // This session's own note to itself comes back from the server: its send has it.
    if (toSelf && !message.carbon && this.#selfSends.has(message.text)) {
      this.#expectEcho(message.text, -1);
      return;
    }
    const fields = {
      contact: message.to,
      direction: "out" as const,
      text: message.text,
      time: message.ts ?? Date.now(),
    };
    let record: MessageRecord;
    if (message.id === undefined) {
      record = history.addMessage({ ...fields, status: "delivered" });
    } else {
      // A carbon says nothing of delivery: "stored" until a receipt says more.
      const status = toSelf ? "delivered" : "stored";
      const stored = history.storeServerMessage({ ...fields, status, serverId: message.id });
      const same = stored.record.direction === "out" && stored.record.contact === message.to;
      if (!same || !this.#firstTime(message.id)) return;
      record = stored.record;
    }
    this.emit("message", { ...record, via: toSelf ? "self" : "carbon" });
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

/**
 * Whether a failed first login may succeed on another server of the list: it could not be
 * reached or dropped the connection, or it is unavailable (503: shutting down, or its
 * database is down). A refusal about the account would be the same on every node.
 */
function worthTheNext(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  return error instanceof JimError && error.code === Status.UNAVAILABLE;
}
