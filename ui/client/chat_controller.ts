/**
 * The chat GUI's state holder: one {@linkcode ChatSession} at a time, a read handle on the
 * local history that outlives it (so the page still shows the conversation after a
 * disconnect or a GUI restart), unread counters, the Service info log and a live hub that
 * tells the page about every change.
 *
 * @module
 */
import {
  ChatSession,
  ConnectionError,
  type Contact,
  DEFAULT_HOST,
  DEFAULT_PORT,
  defaultDataDir,
  describeRoomEvent,
  formatServerList,
  History,
  type MessageRecord,
  parseServerList,
  type ReconnectOptions,
  type RoomRecord,
  type ServerAddress,
} from "../../client/mod.ts";
import { JimError, Status } from "../../protocol/mod.ts";
import { LiveHub } from "../mod.ts";
import type {
  ChatState,
  ChatTopics,
  ConnectionPhase,
  ContactsSnapshot,
  MembersReply,
  MessagesReply,
  MessageView,
  RoomsSnapshot,
  SearchReply,
  ServiceEntry,
} from "./_types.ts";

/**
 * A JimError that names the form input it is about; the GUI's onError passes `field` on.
 *
 * @example
 * ```ts
 * throw new ChatInputError(400, "Invalid field: port must be a whole number", "port");
 * ```
 */
export class ChatInputError extends JimError {
  readonly field: string;

  constructor(code: number, message: string, field: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ChatInputError";
    this.field = field;
  }
}

/**
 * The server could not be reached or the connection broke: HTTP 502 in the GUI.
 *
 * @example
 * ```ts
 * throw new ServerUnreachableError("Server unreachable: Cannot connect to 127.0.0.1:7777");
 * ```
 */
export class ServerUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServerUnreachableError";
  }
}

/** Options for {@linkcode ChatController}. */
export interface ChatControllerOptions {
  /** Where histories and the GUI's settings live; `$XDG_DATA_HOME/jim` by default. */
  dataDir?: string;
  /**
   * Milliseconds between contact list refreshes for the online dots (15,000 by default), for
   * a server without presence pushes only: this polls get_contacts, and each poll shows in
   * the server's log, hence the long default. Incoming messages and "not online" refusals
   * update dots at once. A server that announces `presence` pushes the changes: no polling.
   */
  presencePollMs?: number;
  /** Service info entries kept (500 by default). */
  serviceLimit?: number;
  /**
   * How the session comes back after a lost connection (ChatSession's backoff by default);
   * `false` ends the session with the connection instead.
   */
  reconnect?: false | ReconnectOptions;
}

/** What `connect` takes. The password is passed on to the login and kept nowhere. */
export interface ConnectParams {
  user: string;
  password: string;
  /** The server, or the Server field's text when `servers` lists several. */
  host: string;
  /** The port, or the one for servers of the list given without their own. */
  port: number;
  /**
   * Several servers of one cluster, tried in turn; the first names the history. Without it
   * the one server is `host` and `port`.
   */
  servers?: ServerAddress[];
}

interface LastConnection {
  user: string;
  host: string;
  port: number;
}

const SETTINGS_FILE = "chat-gui.json";
/** Page ids of recent sends kept to answer a repeated post with the stored message. */
const CLIENT_IDS_KEPT = 1000;
const INTERRUPTED = "Not confirmed: the GUI stopped before the server replied";
/** Messages shown before a search hit when the conversation opens at it. */
const CONTEXT_BEFORE = 10;

/**
 * Holds the GUI's one chat session and publishes every change on {@linkcode hub}.
 *
 * @example
 * ```ts
 * await using chat = new ChatController({ dataDir: "/tmp/jim-gui" });
 * await chat.connect({ user: "alice", password: "secret", host: "127.0.0.1", port: 7777 });
 * await chat.send("bob", "hello");
 * ```
 */
export class ChatController implements AsyncDisposable {
  /** Live events for the page: see {@linkcode ChatTopics}. */
  readonly hub: LiveHub<ChatTopics[keyof ChatTopics]> = new LiveHub({ capacity: 300 });
  readonly dataDir: string;
  readonly #pollMs: number;
  readonly #serviceLimit: number;
  readonly #reconnect: false | ReconnectOptions;
  #session: ChatSession | undefined;
  /** The session being opened; its events count before it becomes {@linkcode #session}. */
  #opening: ChatSession | undefined;
  #phase: ConnectionPhase = "disconnected";
  #error: string | null = null;
  #rev = 0;
  #last: LastConnection = { user: "", host: DEFAULT_HOST, port: DEFAULT_PORT };
  /** The history being shown: the current or last account's; read only here. */
  #view: { history: History; account: string; key: string } | undefined;
  #contacts: Contact[] = [];
  /** The rooms mirror as last published: the session's, or the history's while offline. */
  #rooms: RoomRecord[] = [];
  #service: ServiceEntry[] = [];
  #serviceSeq = 0;
  #poll: ReturnType<typeof setInterval> | undefined;
  #polling = false;
  #busy: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** When a lockout (403 with retry_after) ends, in ms since the epoch. */
  #retryAt: number | null = null;
  /** Contact additions in flight: their interim mirror changes are not published. */
  #adding = 0;
  /** The page's id for the send being stored right now; see {@linkcode send}. */
  #tagNext: string | undefined;
  readonly #idByClientId = new Map<string, number>();
  readonly #clientIdById = new Map<number, string>();

  constructor(options: ChatControllerOptions = {}) {
    this.dataDir = options.dataDir ?? defaultDataDir();
    this.#pollMs = Math.max(100, options.presencePollMs ?? 15_000);
    this.#serviceLimit = Math.max(1, options.serviceLimit ?? 500);
    this.#reconnect = options.reconnect ?? {};
    this.#loadSettings();
  }

  /** The state snapshot the page shows. */
  state(): ChatState {
    const session = this.#session;
    const on = (this.#phase === "connected" || this.#phase === "reconnecting") &&
      session !== undefined;
    return {
      rev: this.#rev,
      phase: this.#phase,
      user: on ? session.user : null,
      host: on ? session.client.host : null,
      port: on ? session.client.port : null,
      servers: on ? session.servers.map((s) => ({ ...s })) : null,
      last: { ...this.#last },
      error: this.#error,
      retryAt: this.#retryAt !== null && this.#retryAt > Date.now() ? this.#retryAt : null,
      server: on
        ? {
          history: session.serverHistory,
          presence: session.presencePush,
          rooms: session.roomsSupported,
        }
        : null,
    };
  }

  /**
   * The contact list with online marks and unread counts, sorted by login. Unread counts
   * come from the history (incoming messages not marked read), so they survive restarts and
   * follow read marks made on the account's other sessions.
   */
  contacts(): ContactsSnapshot {
    let unread = new Map<string, number>();
    try {
      unread = this.#view?.history.unreadCounts() ?? unread;
    } catch {
      // A closed history reads as nothing unread.
    }
    return {
      rev: this.#rev,
      contacts: this.#contacts.map((c) => ({
        login: c.login,
        online: this.#phase === "connected" && c.online,
        unread: unread.get(c.login) ?? 0,
      })),
    };
  }

  /**
   * The rooms this account is in, with unread counts, sorted by name. Like the contacts they
   * come from the history while disconnected.
   */
  rooms(): RoomsSnapshot {
    let unread = new Map<string, number>();
    try {
      unread = this.#view?.history.unreadCounts() ?? unread;
    } catch {
      // A closed history reads as nothing unread.
    }
    return {
      rev: this.#rev,
      rooms: this.#rooms.map((r) => ({
        room: r.room,
        owner: r.owner ?? null,
        members: r.members ?? null,
        inviteOnly: r.inviteOnly,
        historyVisible: r.historyVisible,
        unread: unread.get(r.room) ?? 0,
      })),
    };
  }

  /**
   * Joins a room, creating it when absent (`inviteOnly` for a new invite-only one).
   *
   * @throws {JimError} 409 when not connected; 400 for a bad name; the server's refusal
   *   (403 invite-only, full, too many rooms; 409 a look-alike), each with `field: "room"`.
   */
  async joinRoom(
    room: string,
    inviteOnly = false,
  ): Promise<RoomsSnapshot & { room: string; created: boolean }> {
    const session = this.#requireRooms();
    let joined;
    try {
      joined = await session.join(room, { inviteOnly });
    } catch (error) {
      throw asInputError(error, "room");
    }
    this.#log("info", joined.created ? `Created ${joined.room}` : `Joined ${joined.room}`);
    this.#rooms = session.rooms();
    this.#publishRooms();
    return { ...this.rooms(), room: joined.room, created: joined.created };
  }

  /** Leaves a room; its messages stay in the history. */
  async leaveRoom(room: string): Promise<RoomsSnapshot> {
    const session = this.#requireRooms();
    try {
      await session.leave(room);
    } catch (error) {
      throw asInputError(error, "room");
    } finally {
      this.#rooms = session.rooms();
      this.#publishRooms();
    }
    this.#log("info", `Left ${room}`);
    return this.rooms();
  }

  /** The members of a room with online marks and the owner. */
  async roomMembers(room: string): Promise<MembersReply> {
    const session = this.#requireRooms();
    try {
      const members = await session.members(room);
      return { room, members: members.map((m) => ({ ...m })) };
    } catch (error) {
      throw asInputError(error, "room");
    }
  }

  /**
   * A member's or the owner's action on a room: invite a login, remove a member, hand the
   * room over, delete it.
   *
   * @throws {JimError} 409 when not connected; the server's refusal (403 not the owner, 404
   *   not a member or no such client), with `field: "login"` (or "room" for delete).
   */
  async roomAction(
    room: string,
    action: "invite" | "kick" | "owner" | "delete",
    login?: string,
  ): Promise<RoomsSnapshot> {
    const session = this.#requireRooms();
    try {
      switch (action) {
        case "invite":
          await session.invite(room, login!);
          this.#log("info", `Invited ${login} to ${room}`);
          break;
        case "kick":
          await session.kick(room, login!);
          this.#log("info", `Removed ${login} from ${room}`);
          break;
        case "owner":
          await session.setOwner(room, login!);
          this.#log("info", `Handed ${room} over to ${login}`);
          break;
        case "delete":
          await session.deleteRoom(room);
          this.#log("info", `Deleted ${room}`);
          break;
      }
    } catch (error) {
      throw asInputError(error, action === "delete" ? "room" : "login");
    }
    this.#rooms = session.rooms();
    this.#publishRooms();
    return this.rooms();
  }

  /** The Service info entries kept, oldest first. */
  serviceLog(): ServiceEntry[] {
    return [...this.#service];
  }

  /**
   * The last `limit` messages with `contact`, oldest first; with `before` (a message id), the
   * `limit` before that message; with `after`, the `limit` after it; with `around`, a window
   * that starts a few messages before that one. The local history answers; while connected to
   * a server that keeps history, pages older than the cache come from the server (and stay
   * in the cache). `more` tells whether older ones remain, `newer` whether newer ones follow.
   *
   * @throws {JimError} 404 when `before`, `after` or `around` names no message of this
   *   conversation.
   */
  async messages(
    contact: string,
    options: { limit?: number; before?: number; after?: number; around?: number } = {},
  ): Promise<MessagesReply> {
    const limit = options.limit ?? 50;
    const view = this.#view;
    if (!view) return { contact, messages: [], more: false, newer: false };
    const anchorId = options.before ?? options.after ?? options.around;
    let anchor: MessageRecord | undefined;
    if (anchorId !== undefined) {
      anchor = view.history.message(anchorId);
      if (!anchor || anchor.contact !== contact) {
        throw new JimError(Status.NOT_FOUND, `No such message with ${contact}: ${anchorId}`);
      }
    }
    const show = (rows: MessageRecord[]) => rows.map((m) => this.#toView(m, view.account));
    if (options.after !== undefined || options.around !== undefined) {
      // Opening at a search hit: a few before it for context, then forward from there.
      const context = options.around === undefined ? [] : view.history.messages(contact, {
        limit: Math.min(CONTEXT_BEFORE, limit - 1) + 1,
        before: anchor,
      });
      const older = context.length > Math.min(CONTEXT_BEFORE, limit - 1);
      const head = options.around === undefined
        ? []
        : [...(older ? context.slice(1) : context), anchor!];
      const rest = view.history.messages(contact, {
        limit: limit - head.length + 1,
        after: anchor,
      });
      const newer = rest.length > limit - head.length;
      const rows = [...head, ...(newer ? rest.slice(0, -1) : rest)];
      const session = this.#session;
      const more = older || (session !== undefined && this.#phase === "connected" &&
        session.serverHistory && !view.history.isComplete(contact));
      return {
        contact,
        messages: show(rows),
        more: options.after === undefined ? more : true,
        newer,
      };
    }
    const session = this.#session;
    if (session && this.#phase === "connected" && this.#sameView(session)) {
      const page = await session.page(contact, { limit, before: anchor });
      return { contact, messages: show(page.messages), more: page.more, newer: false };
    }
    const rows = view.history.messages(contact, { limit: limit + 1, before: anchor });
    const more = rows.length > limit;
    return { contact, messages: show(more ? rows.slice(1) : rows), more, newer: false };
  }

  /**
   * Messages of the local history whose text has every word of `query` (by their
   * beginnings, any case), newest first. Works while disconnected too.
   */
  search(query: string, limit = 50): SearchReply {
    const view = this.#view;
    if (!view) return { query, hits: [] };
    return {
      query,
      hits: view.history.search(query, { limit }).map((m) => this.#toView(m, view.account)),
    };
  }

  /**
   * Connects and logs in. The password goes to the login and is dropped.
   *
   * @throws {JimError} 409 when already connected; the server's refusal (404 unknown user,
   *   402 wrong password or unverifiable server, 409 already online, 403 locked out).
   * @throws {ServerUnreachableError} when the server cannot be reached.
   */
  connect(params: ConnectParams): Promise<ChatState> {
    return this.#serial(() => this.#connect(params));
  }

  async #connect({ user, password, host, port, servers }: ConnectParams): Promise<ChatState> {
    this.#assertOpen();
    if (this.#phase !== "disconnected") {
      throw new JimError(Status.CONFLICT, "Already connected: disconnect first");
    }
    this.#phase = "connecting";
    this.#error = null;
    this.#retryAt = null;
    this.#publishState();
    // The session keeps only the SCRAM SaltedPassword, in memory, to log in again by itself.
    const list = servers ?? [{ host, port }];
    const home = list[0]!;
    const session = new ChatSession({
      servers: list,
      user,
      password,
      dataDir: this.dataDir,
      reconnect: this.#reconnect,
    });
    this.#wire(session);
    this.#opening = session;
    // Messages may arrive while the contacts sync; they must land in this account's view.
    const opened = session.open().then(() => this.#openView(user, home.host, home.port));
    try {
      await opened;
    } catch (error) {
      this.#opening = undefined;
      this.#phase = "disconnected";
      const failure = explainLoginFailure(error, formatServerList(list));
      this.#error = failure.message;
      this.#retryAt = lockoutEnd(error);
      this.#log("error", `Cannot connect: ${failure.message}`);
      this.#publishState();
      throw failure;
    }
    if (this.#closed) {
      await session.close();
      throw new ServerUnreachableError("Cannot connect: the GUI is shutting down");
    }
    this.#opening = undefined;
    this.#session = session;
    this.#phase = "connected";
    this.#last = { user, host, port };
    this.#saveSettings();
    this.#contacts = session.contacts();
    this.#rooms = session.rooms();
    this.#startPolling(session);
    this.#publishState();
    this.#publishContacts();
    this.#publishRooms();
    return this.state();
  }

  /**
   * Says goodbye to the server and closes the session; stops reconnecting. Does nothing when
   * not connected.
   */
  disconnect(): Promise<ChatState> {
    return this.#serial(async () => {
      const session = this.#session;
      if (session) {
        this.#log("info", "Disconnecting on request");
        await session.quit().catch(() => session.close());
        this.#ended(session, null);
      }
      return this.state();
    });
  }

  /**
   * Adds a contact on the server. Logins match without regard to case, as on the server:
   * "Bob" while "bob" is a contact is refused here, and a new one shows as the server
   * spells it, never as typed.
   *
   * @throws {JimError} 409 when not connected; 400 for oneself; 409 "Client already in
   *   contacts"; the server's 404 "No such client", each with `field: "login"`.
   */
  async addContact(login: string): Promise<ContactsSnapshot> {
    const session = this.#requireSession();
    if (sameLogin(login, session.user)) {
      throw new ChatInputError(
        Status.BAD_REQUEST,
        `Cannot add yourself: you are logged in as ${session.user}`,
        "login",
      );
    }
    const known = this.#contacts.find((c) => sameLogin(c.login, login));
    if (known) {
      throw new ChatInputError(
        Status.CONFLICT,
        `Client already in contacts: ${known.login}`,
        "login",
      );
    }
    // The session mirrors the login as typed until the server's list replaces it; the page
    // sees only the list after the sync.
    this.#adding++;
    try {
      await session.addContact(login);
      this.#log("info", `Contact added: ${login}`);
    } catch (error) {
      throw asInputError(error, "login");
    } finally {
      // The new contact's online mark and spelling come from the server's list.
      await session.syncContacts().catch(() => {});
      this.#adding--;
      this.#publishContacts();
    }
    return this.contacts();
  }

  /** Removes a contact on the server; its messages stay in the history. */
  async removeContact(login: string): Promise<ContactsSnapshot> {
    const session = this.#requireSession();
    try {
      await session.removeContact(login);
    } catch (error) {
      throw asInputError(error, "login");
    }
    this.#log("info", `Contact deleted: ${login}`);
    this.#publishContacts();
    return this.contacts();
  }

  /**
   * Sends a message and stores it; resolves with it delivered, or failed with the reason
   * (e.g. "Client not online: bob"), which also goes to Service info.
   *
   * `clientId` is the page's own id for the message: the stored message carries it in every
   * view, and a second send with the same id (a page that posts again after a reload)
   * answers with the stored message instead of sending it twice.
   *
   * @throws {JimError} 409 when not connected; 400 for a message to oneself.
   */
  async send(to: string, text: string, options: { clientId?: string } = {}): Promise<MessageView> {
    const session = this.#requireSession();
    if (sameLogin(to, session.user)) {
      throw new ChatInputError(
        Status.BAD_REQUEST,
        `Cannot send to yourself: you are logged in as ${session.user}`,
        "to",
      );
    }
    const { clientId } = options;
    const sentBefore = clientId === undefined ? undefined : this.#idByClientId.get(clientId);
    const stored = sentBefore === undefined ? undefined : this.#view?.history.message(sentBefore);
    if (stored) return this.#toView(stored, session.user);
    let record: MessageRecord;
    try {
      // The session stores the message and announces it before its first await: the
      // "update" listener tags that record with the page's id.
      this.#tagNext = clientId;
      const sending = session.send(to, text);
      this.#tagNext = undefined;
      record = await sending;
    } catch (error) {
      throw asInputError(error, "text");
    }
    // The record may be another row than the one tagged (a copy of it cached first).
    if (clientId !== undefined) this.#remember(clientId, record.id);
    return this.#afterSend(session, record);
  }

  /**
   * Sends a failed message again.
   *
   * @throws {JimError} 404 for an unknown id, 409 when it is not a failed outgoing message or
   *   when not connected.
   */
  async retry(id: number): Promise<MessageView> {
    const session = this.#requireSession();
    const record = await session.retry(id);
    return this.#afterSend(session, record);
  }

  /**
   * Marks what `login` sent read: in the history, and while connected to a server that keeps
   * history, on the server (which tells `login` and this account's other sessions). A mark
   * made while disconnected goes to the server at the next login.
   */
  async markRead(login: string): Promise<ContactsSnapshot> {
    const session = this.#session;
    let changed = 0;
    if (session && this.#phase === "connected" && this.#sameView(session)) {
      changed = await session.markRead(login).catch(() => 0);
    } else {
      changed = this.#view?.history.markConversationRead(login) ?? 0;
    }
    if (changed > 0) {
      if (login.startsWith("#")) this.#publishRooms();
      else this.#publishContacts();
    }
    return this.contacts();
  }

  /** Closes the session, the history and the hub. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling();
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.quit().catch(() => session.close());
    await this.#busy.catch(() => {});
    this.#view?.history.close();
    this.#view = undefined;
    this.hub.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #afterSend(session: ChatSession, record: MessageRecord): MessageView {
    if (record.contact.startsWith("#")) {
      // A room has no one recipient whose dot or backlog the outcome could tell about.
      if (record.status === "failed") {
        this.#log("error", `Message to ${record.contact} not sent: ${record.error ?? "failed"}`);
      }
      return this.#toView(record, session.user);
    }
    if (record.status === "failed") {
      this.#log("error", `Message to ${record.contact} not sent: ${record.error ?? "failed"}`);
      if (/not online/i.test(record.error ?? "")) this.#setOnline(record.contact, false);
    }
    if (record.status === "stored") {
      this.#log("info", `Message to ${record.contact} stored: delivered when they log in`);
      // No session of theirs took it: offline, unless presence pushes say otherwise.
      if (!session.presencePush) this.#setOnline(record.contact, false);
    }
    return this.#toView(record, session.user);
  }

  /** Whether the history shown is the one `session` writes. */
  #sameView(session: ChatSession): boolean {
    const home = session.servers[0]!;
    return this.#view?.key === viewKey(session.user, home.host, home.port);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#busy.then(work, work);
    this.#busy = next.catch(() => {});
    return next;
  }

  #assertOpen(): void {
    if (this.#closed) throw new JimError(Status.GONE, "Cannot connect: the GUI is closed");
  }

  #requireRooms(): ChatSession {
    const session = this.#requireSession();
    if (!session.roomsSupported) {
      throw new ChatInputError(
        Status.CONFLICT,
        "This server does not support rooms",
        "room",
      );
    }
    return session;
  }

  #requireSession(): ChatSession {
    const session = this.#session;
    // While reconnecting, sends are stored as failed (retryable) by the session itself.
    if (!session || (this.#phase !== "connected" && this.#phase !== "reconnecting")) {
      throw new JimError(Status.CONFLICT, "Not connected: connect to a server first");
    }
    return session;
  }

  #wire(session: ChatSession): void {
    session.addEventListener("service", (e) => this.#log(e.detail.level, e.detail.text));
    session.addEventListener("contacts", (e) => {
      if (this.#session !== session) return;
      this.#contacts = e.detail;
      if (this.#adding === 0) this.#publishContacts();
    });
    session.addEventListener("message", (e) => {
      if (this.#session !== session && this.#opening !== session) return;
      const m = e.detail;
      // Whoever just wrote is online; what waited on the server says nothing of that, and
      // with presence pushes the server says it.
      if (m.via === "live" && !session.presencePush) this.#setOnline(m.contact, true, false);
      this.hub.publish("message", this.#toView(m, session.user));
      if (m.contact.startsWith("#")) this.#publishRooms();
      else this.#publishContacts();
    });
    session.addEventListener("rooms", (e) => {
      if (this.#session !== session && this.#opening !== session) return;
      this.#rooms = e.detail;
      this.#publishRooms();
    });
    session.addEventListener("room", (e) => {
      if (this.#session !== session && this.#opening !== session) return;
      const text = describeRoomEvent(e.detail, session.user);
      this.#log("info", text);
      this.hub.publish("room", {
        room: e.detail.room,
        event: e.detail.event,
        user: e.detail.user ?? null,
        by: e.detail.by ?? null,
        text,
      });
    });
    session.addEventListener("history", (e) => {
      if (this.#session !== session && this.#opening !== session) return;
      for (const contact of e.detail.contacts) {
        this.hub.publish("conversation", { contact, reason: e.detail.reason });
      }
      this.#publishContacts();
      if (e.detail.contacts.some((c) => c.startsWith("#"))) this.#publishRooms();
    });
    session.addEventListener("update", (e) => {
      if (this.#session !== session && this.#opening !== session) return;
      const m = e.detail;
      if (this.#tagNext !== undefined && m.direction === "out" && m.status === "sent") {
        this.#remember(this.#tagNext, m.id);
        this.#tagNext = undefined;
      }
      this.hub.publish("message", this.#toView(m, session.user));
    });
    session.addEventListener("disconnected", (e) => {
      if (this.#session !== session) return;
      if (!e.detail.reconnecting) {
        this.#ended(session, e.detail.error ? e.detail.reason : null);
        return;
      }
      this.#phase = "reconnecting";
      this.#error = e.detail.reason;
      this.#stopPolling();
      this.#publishState();
      this.#publishContacts();
    });
    session.addEventListener("reconnected", () => {
      if (this.#session !== session) return;
      this.#phase = "connected";
      this.#error = null;
      this.#contacts = session.contacts();
      this.#rooms = session.rooms();
      this.#startPolling(session);
      this.#publishState();
      this.#publishContacts();
      this.#publishRooms();
    });
  }

  #ended(session: ChatSession, error: string | null): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    this.#phase = "disconnected";
    this.#error = error;
    this.#stopPolling();
    void session.close();
    this.#publishState();
    this.#publishContacts();
  }

  #setOnline(login: string, online: boolean, publish = true): void {
    const at = this.#contacts.findIndex((c) => c.login === login);
    const contact = this.#contacts[at];
    if (!contact || contact.online === online) return;
    this.#contacts = this.#contacts.with(at, { login, online });
    if (publish) this.#publishContacts();
  }

  /** Polls for the online dots, only when the server does not push presence. */
  #startPolling(session: ChatSession): void {
    this.#stopPolling();
    if (session.presencePush) return;
    this.#poll = setInterval(() => {
      const session = this.#session;
      if (!session || this.#polling) return;
      this.#polling = true;
      session.syncContacts().catch(() => {
        // A lost connection reports itself through "disconnected".
      }).finally(() => {
        this.#polling = false;
      });
    }, this.#pollMs);
  }

  #stopPolling(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  #openView(account: string, host: string, port: number): void {
    const key = viewKey(account, host, port);
    if (this.#view?.key === key) return;
    this.#view?.history.close();
    this.#view = undefined;
    try {
      const history = History.open({ dataDir: this.dataDir, account, host, port });
      this.#view = { history, account, key };
      this.#failInterrupted(history);
    } catch (error) {
      this.#log("error", `Cannot open history: ${(error as Error).message}`);
    }
  }

  /**
   * A message still "sent" when its history is opened waited for a reply when an earlier run
   * stopped (no session of this GUI is sending yet): mark it failed so it gets a Retry button.
   */
  #failInterrupted(history: History): void {
    let count = 0;
    for (const contact of [...history.contacts(), ...history.rooms().map((r) => r.room)]) {
      for (const m of history.messages(contact, { limit: 500 })) {
        if (m.direction !== "out" || m.status !== "sent") continue;
        // The request may have left before the stop: a server copy, if any, takes its place.
        history.setStatus(m.id, "failed", { error: INTERRUPTED, uncertain: true });
        count++;
      }
    }
    if (count > 0) {
      this.#log("notice", `Marked ${count} unanswered message(s) failed: ${INTERRUPTED}`);
    }
  }

  #remember(clientId: string, id: number): void {
    this.#idByClientId.set(clientId, id);
    this.#clientIdById.set(id, clientId);
    if (this.#idByClientId.size > CLIENT_IDS_KEPT) {
      const [oldest, oldId] = this.#idByClientId.entries().next().value!;
      this.#idByClientId.delete(oldest);
      this.#clientIdById.delete(oldId);
    }
  }

  #toView(m: MessageRecord, account: string): MessageView {
    const room = m.contact.startsWith("#");
    const view: MessageView = {
      id: m.id,
      contact: m.contact,
      direction: m.direction,
      // In a room the heading is `alice -> #room:` whoever wrote.
      from: m.direction === "out" ? account : room ? m.sender ?? "?" : m.contact,
      to: m.direction === "out" || room ? m.contact : account,
      text: m.text,
      time: m.time,
      status: m.status,
    };
    if (m.error !== undefined) view.error = m.error;
    if (m.serverId !== undefined) view.serverId = m.serverId;
    const clientId = this.#clientIdById.get(m.id);
    if (clientId !== undefined) view.clientId = clientId;
    return view;
  }

  #log(level: ServiceEntry["level"], text: string): void {
    const entry: ServiceEntry = { seq: ++this.#serviceSeq, time: Date.now(), level, text };
    this.#service.push(entry);
    if (this.#service.length > this.#serviceLimit) this.#service.shift();
    this.hub.publish("service", entry);
  }

  #publishState(): void {
    this.#rev++;
    this.hub.publish("state", this.state());
  }

  #publishContacts(): void {
    this.#rev++;
    this.hub.publish("contacts", this.contacts());
  }

  #publishRooms(): void {
    this.#rev++;
    this.hub.publish("rooms", this.rooms());
  }

  #settingsPath(): string {
    return `${this.dataDir}/${SETTINGS_FILE}`;
  }

  /** Restores the last user, host and port, and shows that account's history offline. */
  #loadSettings(): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Deno.readTextFileSync(this.#settingsPath()));
    } catch {
      return; // First run, or an unreadable file: the defaults do.
    }
    const p = parsed as Partial<LastConnection> | null;
    if (
      typeof p?.user !== "string" || typeof p.host !== "string" || typeof p.port !== "number" ||
      !Number.isInteger(p.port) || p.port < 1 || p.port > 65535
    ) return;
    let home: ServerAddress;
    try {
      home = parseServerList(p.host, p.port)[0]!; // A list's first server names the history.
    } catch {
      return;
    }
    this.#last = { user: p.user, host: p.host, port: p.port };
    if (p.user === "") return;
    this.#openView(p.user, home.host, home.port);
    const history = this.#view?.history;
    if (history) this.#contacts = history.contacts().map((login) => ({ login, online: false }));
    if (history) this.#rooms = history.rooms();
  }

  #saveSettings(): void {
    try {
      Deno.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
      // The password is never part of it.
      Deno.writeTextFileSync(this.#settingsPath(), JSON.stringify(this.#last) + "\n");
    } catch (error) {
      this.#log("error", `Cannot save settings: ${(error as Error).message}`);
    }
  }
}

/** Logins compare as the server compares them: case-insensitively in every script. */
function sameLogin(a: string, b: string): boolean {
  return a.normalize("NFC").toLowerCase() === b.normalize("NFC").toLowerCase();
}

/** When a lockout refusal (403 with `retry_after` seconds) lets the next try in. */
function lockoutEnd(error: unknown): number | null {
  if (!(error instanceof JimError) || error.code !== Status.FORBIDDEN) return null;
  const seconds = (error.cause as { retry_after?: unknown } | undefined)?.retry_after;
  return typeof seconds === "number" && seconds > 0 ? Date.now() + seconds * 1000 : null;
}

function viewKey(account: string, host: string, port: number): string {
  return `${account}\n${host.toLowerCase()}\n${port}`;
}

/** Rewrites a failed login into the error the page shows. */
function explainLoginFailure(error: unknown, where: string): Error {
  if (error instanceof ConnectionError) {
    return new ServerUnreachableError(`Server unreachable: ${error.message}`, { cause: error });
  }
  if (error instanceof JimError) {
    if (error.code === Status.AUTH_FAILED && error.message === "Access denied") {
      return new ChatInputError(error.code, "Wrong password: Access denied", "password", {
        cause: error,
      });
    }
    if (error.code === Status.NOT_FOUND) {
      return new ChatInputError(error.code, `Unknown user: ${error.message}`, "user", {
        cause: error,
      });
    }
    return error;
  }
  return new ServerUnreachableError(
    `Cannot connect to ${where}: ${error instanceof Error ? error.message : error}`,
    { cause: error },
  );
}

function asInputError(error: unknown, field: string): unknown {
  if (error instanceof ConnectionError) {
    return new ServerUnreachableError(error.message, { cause: error });
  }
  if (error instanceof JimError && !(error instanceof ChatInputError)) {
    return new ChatInputError(error.code, error.message, field, { cause: error });
  }
  return error;
}
