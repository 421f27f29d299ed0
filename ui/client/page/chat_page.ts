/**
 * The chat page's controller, in the browser: it holds everything the views show (the GUI's
 * state, contacts, the open conversation, drafts, the outgoing queue, Service info) and does
 * every API call. Views read its snapshot with `useStore` and call its methods; none of them
 * keeps state beyond what is local to one widget (a scroll position, an open dialog).
 *
 * @module
 */
import { ApiError, apiJson } from "../../api_client.ts";
import type { LogEntry } from "../../components/mod.ts";
import { LiveClient, type LiveStatus } from "../../live_client.ts";
import type {
  ChatApiError,
  ChatState,
  ChatTopics,
  ContactsSnapshot,
  ContactView,
  ConversationChange,
  MembersReply,
  MemberView,
  MessageView,
  RoomEventView,
  RoomsSnapshot,
  RoomView,
  SearchReply,
  ServiceEntry,
  ServiceReply,
} from "../_types.ts";
import { measureText } from "../message_limits.ts";
import {
  initialNotifyMode,
  notifyDesktop,
  type NotifyMode,
  setNotifyMode,
  showUnread,
} from "./attention.ts";
import { guiHistory, type HistorySource } from "./history_source.ts";
import { Outbox, type OutboxItem, type PostOutcome } from "./outbox.ts";

/** An error shown under a form; `field` marks the input it is about. */
export interface FormError {
  text: string;
  field?: string;
}

/** What the Connect button sends. */
export interface ConnectRequest {
  user: string;
  password: string;
  host: string;
  port: number;
}

/** The conversation in view. */
export interface Conversation {
  contact: string;
  /** From the history, oldest first. */
  messages: readonly MessageView[];
  /** Older messages remain to load. */
  more: boolean;
  loading: boolean;
  loadingOlder: boolean;
  /** Id of the first message the user had not seen when it opened (the unread line). */
  unreadFrom: number | null;
  /**
   * Newer messages follow the last one shown (opened at a search hit): the view pages forward
   * with "Load newer" and new arrivals wait until it reaches the end.
   */
  newer: boolean;
  loadingNewer: boolean;
  /** A message to bring into view and mark, e.g. the search hit the conversation opened at. */
  focusId: number | null;
}

/** The search box and its results. */
export interface SearchState {
  query: string;
  /** Newest first; null while the first answer is awaited. */
  hits: readonly MessageView[] | null;
  error: string | null;
}

/** The member list of the room in view. */
export interface MembersState {
  room: string;
  /** Null while the first answer is awaited. */
  list: readonly MemberView[] | null;
  error: string | null;
}

/** Where the focus should go next; `seq` makes each request new. */
export interface FocusRequest {
  target: "input" | "contacts" | "service";
  seq: number;
}

/** Everything the chat page shows. */
export interface ChatPageState {
  /** The GUI's JIM connection, null until first loaded. */
  server: ChatState | null;
  /** The browser's live link to the GUI. */
  live: LiveStatus;
  /** The live link worked once: a later loss is "GUI connection lost". */
  liveSeen: boolean;
  contacts: readonly ContactView[];
  /** The rooms this account is in (issue 13). */
  rooms: readonly RoomView[];
  /** Login or `#room` of the conversation in view. */
  selected: string | null;
  /** In a narrow window only one of the two shows. */
  view: "contacts" | "conversation";
  conversation: Conversation | null;
  /** Messages typed but not yet stored by the GUI, all contacts, in order. */
  outbox: readonly OutboxItem[];
  /** The draft of the selected contact. */
  draft: string;
  connectError: FormError | null;
  addError: FormError | null;
  /** Why a join was refused, under the Rooms form. */
  roomError: FormError | null;
  /** The last room event in words, or why a room action failed (under the Rooms list). */
  roomNote: string | null;
  /** The members of the room in view, while a room is selected. */
  members: MembersState | null;
  /** A note under the message box: why Enter did not send, or why a send failed. */
  inputNote: string | null;
  pageError: string | null;
  /** The chat GUI's Service info, oldest first. */
  service: readonly LogEntry[];
  drawer: boolean;
  /** The search over the local history, while the box holds a query. */
  search: SearchState | null;
  notify: NotifyMode;
  focus: FocusRequest | null;
  /** The clock for day labels and countdowns; ticks each second while one counts. */
  now: number;
}

const SELECTED_KEY = "jim-chat:selected";
const DRAFT_PREFIX = "jim-chat:draft:";
const SERVICE_LIMIT = 500;
const PAGE_SIZE = 50;
const NARROW_QUERY = "(max-width: 600px)";
/** How long typing pauses before the search runs. */
const SEARCH_DELAY_MS = 200;
const SEARCH_HITS = 50;
/** How often the member list of the open room is asked again, for its online dots. */
const MEMBERS_REFRESH_MS = 15_000;
/** The largest page the API gives; a reload takes at most that much of the newest. */
const MAX_RELOAD = 500;

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

function stored(key: string): string | null {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function store(key: string, value: string | null): void {
  try {
    if (value === null || value === "") storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
    // Storage full or disabled: the value lives in memory only.
  }
}

function formError(err: unknown): FormError {
  if (err instanceof ApiError) {
    const field = (err.body as ChatApiError | undefined)?.field;
    return field ? { text: err.message, field } : { text: err.message };
  }
  return { text: err instanceof Error ? err.message : String(err) };
}

/**
 * Whose outbox items are whose: `user@host:port` while logged in. Queued messages of one
 * account never leave under another.
 */
export function accountOf(state: ChatState | null | undefined): string | null {
  if (!state?.user || !state.host || state.port === null) return null;
  // The first server of a list: a failover to another node is the same account.
  const home = state.servers?.[0] ?? { host: state.host, port: state.port };
  return `${state.user}@${home.host.toLowerCase()}:${home.port}`;
}

/** Whether a conversation name is a room's (`#name`). */
export function isRoom(name: string | null | undefined): boolean {
  return typeof name === "string" && name.startsWith("#");
}

/** The API path of a conversation's read mark: a contact's or a room's. */
function readPath(name: string): string {
  return isRoom(name)
    ? `/api/rooms/${encodeURIComponent(name)}/read`
    : `/api/contacts/${encodeURIComponent(name)}/read`;
}

function sameLogin(a: string, b: string): boolean {
  return a.normalize("NFC").toLowerCase() === b.normalize("NFC").toLowerCase();
}

/** Inserts or replaces by id, keeping the history's order (time, server id, then id). */
function upsert(list: readonly MessageView[], m: MessageView): MessageView[] {
  const at = list.findIndex((x) => x.id === m.id);
  const out = list.slice();
  if (at >= 0) out[at] = m;
  else out.push(m);
  if (at < 0 || out[at]!.time !== list[at]!.time || out[at]!.serverId !== list[at]!.serverId) {
    out.sort((a, b) => a.time - b.time || (a.serverId ?? 0) - (b.serverId ?? 0) || a.id - b.id);
  }
  return out;
}

/** A conversation whose first page is on its way. */
function loadingConversation(contact: string, focusId: number | null): Conversation {
  return {
    contact,
    messages: [],
    more: false,
    loading: true,
    loadingOlder: false,
    unreadFrom: null,
    newer: false,
    loadingNewer: false,
    focusId,
  };
}

/** Options for {@linkcode ChatPage}. */
export interface ChatPageOptions {
  /** Where conversations page from; the GUI's local history by default. */
  history?: HistorySource;
}

/**
 * The chat page's state and actions.
 *
 * @example
 * ```ts
 * const page = new ChatPage();
 * page.start();
 * page.subscribe(() => console.log(page.get().server?.phase));
 * ```
 */
export class ChatPage {
  #state: ChatPageState;
  readonly #listeners = new Set<() => void>();
  readonly #history: HistorySource;
  readonly #outbox: Outbox;
  #live: LiveClient | undefined;
  #stateRev = -1;
  #contactsRev = -1;
  #roomsRev = -1;
  #membersTimer: ReturnType<typeof setInterval> | undefined;
  #membersSeq = 0;
  #serviceSeq = 0;
  #logId = 0;
  #ticket = 0;
  #focusSeq = 0;
  #atBottom = true;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  /** When this page started: the live stream replays older events, which are not news. */
  #since = Date.now();
  readonly #drafts = new Map<string, string>();
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  #searchSeq = 0;

  constructor(options: ChatPageOptions = {}) {
    this.#history = options.history ?? guiHistory;
    this.#outbox = new Outbox({
      storage: storage(),
      canSend: (item) =>
        this.#state.live === "open" && this.#state.server?.phase === "connected" &&
        item.account === accountOf(this.#state.server),
      post: (item) => this.#post(item),
      onChange: () => this.#set({ outbox: this.#outbox.items }),
      onStored: (_item, message) => this.#stored(message as MessageView),
    });
    const selected = stored(SELECTED_KEY);
    this.#state = {
      server: null,
      live: "connecting",
      liveSeen: false,
      contacts: [],
      rooms: [],
      selected,
      // A narrow window starts at the list, where the Connection form is.
      view: "contacts",
      conversation: null,
      outbox: this.#outbox.items,
      draft: selected ? this.#draftOf(selected) : "",
      connectError: null,
      addError: null,
      roomError: null,
      roomNote: null,
      members: null,
      inputNote: null,
      pageError: null,
      service: [],
      drawer: false,
      search: null,
      notify: initialNotifyMode(),
      focus: null,
      now: Date.now(),
    };
  }

  /** The current snapshot. */
  get(): ChatPageState {
    return this.#state;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Loads the state and follows the live stream. */
  start(): void {
    this.#stopped = false;
    this.#since = Date.now();
    // The first snapshot comes before the stream, so older snapshots the stream replays for
    // catch-up are recognised by their rev and ignored.
    void this.#refetch().finally(() => {
      if (this.#stopped) return;
      let synced = false;
      this.#live = new LiveClient("/api/events", {
        onEvent: (topic, data) => this.#onEvent(topic as keyof ChatTopics, data),
        onSync: () => {
          // The first "ready" follows the snapshot just taken; a later sync may have a gap.
          if (synced) void this.#refetch();
          synced = true;
        },
        onStatus: (live) => {
          this.#set({ live, liveSeen: this.#state.liveSeen || live === "open" });
          if (live === "open") this.#outbox.kick();
        },
      });
    });
    document.addEventListener("visibilitychange", this.#onVisibility);
    this.#timer = setInterval(() => this.#tick(), 1000);
  }

  /** Stops following. */
  stop(): void {
    this.#stopped = true;
    this.#live?.close();
    clearInterval(this.#timer);
    clearInterval(this.#membersTimer);
    clearTimeout(this.#searchTimer);
    document.removeEventListener("visibilitychange", this.#onVisibility);
  }

  // --- Connection -------------------------------------------------------------------------

  /** Connects; resolves true when logged in (the form then forgets the password). */
  async connect(req: ConnectRequest): Promise<boolean> {
    this.#set({ connectError: null });
    try {
      this.#applyState(await apiJson<ChatState>("/api/connect", { method: "POST", body: req }));
      this.#focus("contacts");
      return true;
    } catch (err) {
      this.#set({ connectError: formError(err) });
      return false;
    }
  }

  /** Says goodbye to the chat server. */
  async disconnect(): Promise<void> {
    this.#set({ connectError: null });
    try {
      this.#applyState(await apiJson<ChatState>("/api/disconnect", { method: "POST" }));
    } catch (err) {
      this.#set({ connectError: formError(err) });
    }
  }

  /** The user edited the form: the old error no longer applies. */
  clearConnectError(): void {
    if (this.#state.connectError) this.#set({ connectError: null });
  }

  // --- Contacts ---------------------------------------------------------------------------

  /** Adds a contact and opens it; resolves true on success (the field then clears). */
  async addContact(login: string): Promise<boolean> {
    this.#set({ addError: null });
    try {
      const snap = await apiJson<ContactsSnapshot>("/api/contacts", {
        method: "POST",
        body: { login },
      });
      this.#applyContacts(snap);
      // The server's spelling, which may differ in case from what was typed.
      const added = snap.contacts.find((c) => sameLogin(c.login, login));
      this.open(added?.login ?? login);
      return true;
    } catch (err) {
      this.#set({ addError: formError(err) });
      return false;
    }
  }

  clearAddError(): void {
    if (this.#state.addError) this.#set({ addError: null });
  }

  /** Deletes a contact; resolves to an error text, or null. Its history stays. */
  async deleteContact(login: string): Promise<string | null> {
    try {
      this.#applyContacts(
        await apiJson<ContactsSnapshot>(`/api/contacts/${encodeURIComponent(login)}`, {
          method: "DELETE",
        }),
      );
      if (this.#state.selected === login) this.#select(null);
      return null;
    } catch (err) {
      return formError(err).text;
    }
  }

  // --- Rooms ------------------------------------------------------------------------------

  /** Joins (or creates) a room and opens it; resolves true on success (the form clears). */
  async joinRoom(name: string, inviteOnly: boolean): Promise<boolean> {
    this.#set({ roomError: null });
    try {
      const reply = await apiJson<RoomsSnapshot & { room: string; created: boolean }>(
        "/api/rooms",
        { method: "POST", body: { room: name, inviteOnly } },
      );
      this.#applyRooms(reply);
      this.#set({
        roomNote: reply.created
          ? `Created ${reply.room}: you own it${inviteOnly ? " (invite-only)" : ""}`
          : `Joined ${reply.room}`,
      });
      this.open(reply.room);
      return true;
    } catch (err) {
      this.#set({ roomError: formError(err) });
      return false;
    }
  }

  clearRoomError(): void {
    if (this.#state.roomError) this.#set({ roomError: null });
  }

  /** Leaves a room; resolves to an error text, or null. Its history stays. */
  async leaveRoom(room: string): Promise<string | null> {
    try {
      this.#applyRooms(
        await apiJson<RoomsSnapshot>(`/api/rooms/${encodeURIComponent(room)}`, {
          method: "DELETE",
        }),
      );
      if (this.#state.selected === room) this.#select(null);
      this.#set({ roomNote: `Left ${room}` });
      return null;
    } catch (err) {
      return formError(err).text;
    }
  }

  /**
   * A member's or the owner's action on the room in view: invite a login, remove a member,
   * hand the room over, delete it. Resolves to an error text, or null.
   */
  async roomAction(
    action: "invite" | "kick" | "owner" | "delete",
    login?: string,
  ): Promise<string | null> {
    const room = this.#state.selected;
    if (!isRoom(room)) return "Select a room first";
    try {
      const snap = await apiJson<RoomsSnapshot>(
        `/api/rooms/${encodeURIComponent(room!)}/${action}`,
        { method: "POST", ...(login === undefined ? {} : { body: { login } }) },
      );
      this.#applyRooms(snap);
      if (action === "delete") {
        this.#set({ roomNote: `Deleted ${room}` });
        this.#select(null);
      } else {
        void this.#loadMembers(room!);
      }
      return null;
    } catch (err) {
      return formError(err).text;
    }
  }

  /** Follows the member list of `name` while it is open, when it is a room. */
  #watchMembers(name: string | null): void {
    clearInterval(this.#membersTimer);
    this.#membersTimer = undefined;
    if (name === null || !isRoom(name)) return;
    void this.#loadMembers(name);
    this.#membersTimer = setInterval(() => {
      if (this.#state.selected === name) void this.#loadMembers(name);
    }, MEMBERS_REFRESH_MS);
  }

  async #loadMembers(room: string): Promise<void> {
    const seq = ++this.#membersSeq;
    const old = this.#state.members;
    if (old?.room !== room) this.#set({ members: { room, list: null, error: null } });
    if (this.#state.server?.phase !== "connected") {
      this.#set({ members: { room, list: old?.room === room ? old.list : [], error: null } });
      return;
    }
    try {
      const reply = await apiJson<MembersReply>(
        `/api/rooms/${encodeURIComponent(room)}/members`,
      );
      if (seq !== this.#membersSeq || this.#state.selected !== room) return;
      this.#set({ members: { room, list: reply.members, error: null } });
    } catch (err) {
      if (seq !== this.#membersSeq || this.#state.selected !== room) return;
      this.#set({ members: { room, list: [], error: formError(err).text } });
    }
  }

  /** Opens a conversation and puts the cursor in the message box. */
  open(login: string): void {
    if (this.#state.selected !== login || this.#state.conversation === null) this.#select(login);
    this.#set({ view: "conversation" });
    this.#focus("input");
  }

  /** Back to the contact list (the narrow layout's only other view). */
  back(): void {
    this.#set({ view: "contacts" });
    this.#focus("contacts");
  }

  // --- Conversation -----------------------------------------------------------------------

  /** Pages back one step. */
  async loadOlder(): Promise<void> {
    const conv = this.#state.conversation;
    const oldest = conv?.messages[0];
    if (!conv || !conv.more || conv.loadingOlder || !oldest) return;
    const ticket = this.#ticket;
    this.#patchConversation({ loadingOlder: true });
    try {
      const page = await this.#history.before(conv.contact, oldest, PAGE_SIZE);
      if (ticket !== this.#ticket) return;
      const known = new Set(this.#state.conversation?.messages.map((m) => m.id));
      this.#patchConversation({
        messages: [
          ...page.messages.filter((m) => !known.has(m.id)),
          ...(this.#state.conversation?.messages ?? []),
        ],
        more: page.more,
        loadingOlder: false,
      });
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.#patchConversation({ loadingOlder: false });
      this.#set({ pageError: formError(err).text });
    }
  }

  /** Pages forward from a window opened at an older message, towards the newest. */
  async loadNewer(): Promise<void> {
    const conv = this.#state.conversation;
    const newest = conv?.messages.at(-1);
    if (!conv || !conv.newer || conv.loadingNewer || !newest) return;
    const ticket = this.#ticket;
    this.#patchConversation({ loadingNewer: true });
    try {
      const page = await this.#history.after(conv.contact, newest, PAGE_SIZE);
      if (ticket !== this.#ticket) return;
      const known = new Set(this.#state.conversation?.messages.map((m) => m.id));
      this.#patchConversation({
        messages: [
          ...(this.#state.conversation?.messages ?? []),
          ...page.messages.filter((m) => !known.has(m.id)),
        ],
        newer: page.newer === true,
        loadingNewer: false,
      });
      this.#markSeen();
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.#patchConversation({ loadingNewer: false });
      this.#set({ pageError: formError(err).text });
    }
  }

  /** Leaves a window opened at an older message for the newest messages. */
  jumpToLatest(): void {
    const conv = this.#state.conversation;
    if (conv?.newer) void this.#load(conv.contact);
  }

  // --- Search -----------------------------------------------------------------------------

  /** The search box changed: the search runs once typing pauses; empty closes it. */
  setSearch(query: string): void {
    clearTimeout(this.#searchTimer);
    if (query.trim() === "") {
      this.#searchSeq++;
      this.#set({ search: null });
      return;
    }
    const old = this.#state.search;
    this.#set({ search: { query, hits: old?.hits ?? null, error: null } });
    const seq = ++this.#searchSeq;
    this.#searchTimer = setTimeout(() => void this.#runSearch(query, seq), SEARCH_DELAY_MS);
  }

  async #runSearch(query: string, seq: number): Promise<void> {
    try {
      const q = new URLSearchParams({ q: query, limit: String(SEARCH_HITS) });
      const reply = await apiJson<SearchReply>(`/api/search?${q}`);
      if (seq !== this.#searchSeq) return;
      this.#set({ search: { query, hits: reply.hits, error: null } });
    } catch (err) {
      if (seq !== this.#searchSeq) return;
      this.#set({ search: { query, hits: [], error: formError(err).text } });
    }
  }

  /** Opens the conversation of a search hit at that message. */
  openHit(hit: MessageView): void {
    store(SELECTED_KEY, hit.contact);
    this.#atBottom = false;
    this.#set({
      selected: hit.contact,
      draft: this.#draftOf(hit.contact),
      inputNote: null,
      view: "conversation",
      conversation: null,
    });
    void this.#loadAround(hit.contact, hit.id);
  }

  async #loadAround(contact: string, id: number): Promise<void> {
    const ticket = ++this.#ticket;
    this.#set({ conversation: loadingConversation(contact, id) });
    try {
      const page = await this.#history.around(contact, id, PAGE_SIZE);
      if (ticket !== this.#ticket) return;
      this.#patchConversation({
        messages: page.messages,
        more: page.more,
        newer: page.newer === true,
        loading: false,
      });
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.#patchConversation({ loading: false });
      this.#set({ pageError: formError(err).text });
    }
  }

  /**
   * The view reports whether the newest message is on screen. Reaching it marks the
   * conversation read; while away from it, arriving messages stay unread.
   */
  setAtBottom(atBottom: boolean): void {
    if (this.#atBottom === atBottom) return;
    this.#atBottom = atBottom;
    if (atBottom) this.#markSeen();
  }

  // --- Input ------------------------------------------------------------------------------

  setDraft(text: string): void {
    const to = this.#state.selected;
    if (to === null) return;
    this.#drafts.set(to, text);
    store(DRAFT_PREFIX + to, text);
    this.#set({ draft: text, inputNote: null });
  }

  /** A printable key typed while the message list had focus: it goes to the box. */
  typeIntoBox(key: string): void {
    if (this.#state.selected === null) return;
    this.setDraft(this.#state.draft + key);
    this.#focus("input");
  }

  /**
   * Sends the draft: the box clears at once and the message waits in the outbox, shown as
   * pending, until the GUI has stored it. While not connected, the draft stays and the note
   * says why.
   */
  send(): void {
    const { selected: to, draft: text, server } = this.#state;
    if (to === null || text.trim() === "") return;
    if (server?.phase !== "connected") {
      this.#set({
        inputNote: server?.phase === "reconnecting"
          ? "Reconnecting to the server: your message stays here until it is back"
          : "Not connected: connect first; your message stays here",
      });
      return;
    }
    const problem = measureText(text).problem;
    if (problem) {
      this.#set({ inputNote: problem });
      return;
    }
    try {
      this.#outbox.add(accountOf(server)!, to, text);
    } catch (err) {
      this.#set({ inputNote: (err as Error).message });
      return;
    }
    this.setDraft("");
    // Replying is seeing: the unread line has served its purpose.
    this.#patchConversation({ unreadFrom: null });
  }

  /** Sends a message the chat server refused again. */
  async retry(id: number): Promise<void> {
    this.#set({ inputNote: null });
    try {
      const reply = await apiJson<{ message: MessageView }>(`/api/messages/${id}/retry`, {
        method: "POST",
      });
      this.#stored(reply.message);
    } catch (err) {
      this.#set({ inputNote: formError(err).text });
    }
  }

  /** Queues a message the GUI refused again. */
  retryQueued(clientId: string): void {
    this.#outbox.retry(clientId);
  }

  /** Drops a message the GUI refused; its text goes back into an empty box. */
  discardQueued(clientId: string): void {
    const item = this.#outbox.discard(clientId);
    if (item && item.to === this.#state.selected && this.#state.draft === "") {
      this.setDraft(item.text);
    }
  }

  // --- Service info, drawer, notifications ---------------------------------------------------

  toggleDrawer(open: boolean = !this.#state.drawer): void {
    this.#set({ drawer: open });
    if (open) this.#focus("service");
  }

  clearService(): void {
    this.#set({ service: [] });
  }

  async setNotify(on: boolean): Promise<void> {
    this.#set({ notify: await setNotifyMode(on) });
  }

  // --- Internals --------------------------------------------------------------------------

  #set(patch: Partial<ChatPageState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener();
    if ("contacts" in patch || "server" in patch || "rooms" in patch) {
      showUnread(this.#state.server?.user ?? null, this.#unreadTotal());
    }
  }

  #unreadTotal(): number {
    return this.#state.contacts.reduce((n, c) => n + c.unread, 0) +
      this.#state.rooms.reduce((n, r) => n + r.unread, 0);
  }

  #unreadOf(name: string): number {
    return (isRoom(name)
      ? this.#state.rooms.find((r) => r.room === name)?.unread
      : this.#state.contacts.find((c) => c.login === name)?.unread) ?? 0;
  }

  #focus(target: FocusRequest["target"]): void {
    this.#set({ focus: { target, seq: ++this.#focusSeq } });
  }

  #patchConversation(patch: Partial<Conversation>): void {
    const conv = this.#state.conversation;
    if (conv) this.#set({ conversation: { ...conv, ...patch } });
  }

  #draftOf(login: string): string {
    return this.#drafts.get(login) ?? stored(DRAFT_PREFIX + login) ?? "";
  }

  #select(login: string | null): void {
    store(SELECTED_KEY, login);
    this.#atBottom = true;
    this.#set({
      selected: login,
      draft: login === null ? "" : this.#draftOf(login),
      inputNote: null,
      view: login === null ? "contacts" : this.#state.view,
      conversation: null,
      members: null,
    });
    this.#watchMembers(login);
    void this.#load(login);
  }

  /** Loads the latest page, enough of it to hold every unread message plus one. */
  async #load(login: string | null): Promise<void> {
    const ticket = ++this.#ticket;
    if (login === null) return;
    const unread = this.#unreadOf(login);
    this.#set({ conversation: loadingConversation(login, null) });
    try {
      const page = await this.#history.latest(login, Math.max(PAGE_SIZE, unread + 1));
      if (ticket !== this.#ticket) return;
      const incoming = page.messages.filter((m) => m.direction === "in");
      const firstUnread = unread > 0 ? incoming[incoming.length - unread] : undefined;
      // Live updates that came while the page loaded are newer than what it read.
      let messages = page.messages;
      for (const m of this.#state.conversation?.messages ?? []) messages = upsert(messages, m);
      this.#patchConversation({
        messages,
        more: page.more,
        loading: false,
        unreadFrom: firstUnread?.id ?? null,
      });
      this.#markSeen();
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.#patchConversation({ loading: false });
      this.#set({ pageError: formError(err).text });
    }
  }

  /** Whether the user can see new messages of `contact` now. */
  #inView(contact: string): boolean {
    const s = this.#state;
    if (s.selected !== contact || document.visibilityState !== "visible") return false;
    const narrow = globalThis.matchMedia?.(NARROW_QUERY).matches ?? false;
    return !narrow || s.view === "conversation";
  }

  #markSeen(): void {
    const login = this.#state.selected;
    if (login === null || !this.#atBottom || !this.#inView(login)) return;
    // Not before the conversation has loaded: the unread line is taken from the count. Nor
    // while the newest messages are not loaded (opened at an older one).
    const conv = this.#state.conversation;
    if (conv?.contact !== login || conv.loading || conv.newer) return;
    if (this.#unreadOf(login) === 0) return;
    apiJson<ContactsSnapshot | RoomsSnapshot>(readPath(login), {
      method: "POST",
    }).then((snap) => {
      if ("rooms" in snap) this.#applyRooms(snap);
      else this.#applyContacts(snap);
    }).catch(() => {
      // Unread counts are a convenience; the next snapshot corrects them.
    });
  }

  readonly #onVisibility = () => {
    if (document.visibilityState === "visible") this.#markSeen();
  };

  #tick(): void {
    const now = Date.now();
    const retryAt = this.#state.server?.retryAt ?? null;
    const counting = retryAt !== null && retryAt > now - 1000;
    // Day labels need a new "now" once a minute; a lockout countdown once a second.
    if (counting || Math.floor(now / 60_000) !== Math.floor(this.#state.now / 60_000)) {
      this.#set({ now });
    }
  }

  async #post(item: OutboxItem): Promise<PostOutcome> {
    try {
      const reply = await apiJson<{ message: MessageView }>("/api/messages", {
        method: "POST",
        body: { to: item.to, text: item.text, clientId: item.clientId },
      });
      return { kind: "stored", message: reply.message };
    } catch (err) {
      // Not connected (409), the GUI unreachable (0) or the server link broken (5xx): keep
      // it, in order, for when the connection is back.
      if (
        err instanceof ApiError && (err.status === 0 || err.status === 409 || err.status >= 500)
      ) {
        return { kind: "wait" };
      }
      return { kind: "refused", error: formError(err).text };
    }
  }

  /** A message the GUI stored or updated, from a reply or the live stream. */
  #stored(m: MessageView): void {
    if (m.clientId !== undefined) this.#outbox.settle(m.clientId);
    const conv = this.#state.conversation;
    // A window that does not reach the newest takes updates of what it shows, not arrivals.
    if (
      conv && conv.contact === m.contact &&
      (!conv.newer || conv.messages.some((x) => x.id === m.id))
    ) {
      this.#patchConversation({ messages: upsert(conv.messages, m) });
    }
    if (m.direction === "out" && m.status === "failed" && m.contact === this.#state.selected) {
      this.#set({ inputNote: m.error ?? "Not sent" });
    }
  }

  #onEvent(topic: keyof ChatTopics, data: unknown): void {
    switch (topic) {
      case "state":
        this.#applyState(data as ChatState);
        return;
      case "contacts":
        this.#applyContacts(data as ContactsSnapshot);
        return;
      case "rooms":
        this.#applyRooms(data as RoomsSnapshot);
        return;
      case "room": {
        const e = data as RoomEventView;
        this.#set({ roomNote: e.text });
        if (this.#state.selected === e.room) void this.#loadMembers(e.room);
        return;
      }
      case "service":
        this.#appendService(data as ServiceEntry);
        return;
      case "conversation":
        void this.#reload((data as ConversationChange).contact);
        return;
      case "message": {
        const m = data as MessageView;
        // The GUI stamps an incoming message when it arrives, on this machine's clock.
        const news = m.direction === "in" && m.time >= this.#since;
        const seen = this.#inView(m.contact) && this.#atBottom;
        const conv = this.#state.conversation;
        if (news && conv?.contact === m.contact && !seen && conv.unreadFrom === null) {
          this.#patchConversation({ unreadFrom: m.id });
        }
        this.#stored(m);
        if (news) {
          if (this.#state.notify === "on" && !this.#inView(m.contact)) {
            const text = isRoom(m.contact) ? `${m.from}: ${m.text}` : m.text;
            notifyDesktop(m.contact, text, () => this.open(m.contact));
          }
        }
        return;
      }
    }
  }

  /**
   * Many cached messages of `contact` changed (history from the server, read marks, a merged
   * copy): the open conversation takes the history's view of what it shows, as much as it
   * had loaded, keeping its scroll place and unread line.
   */
  async #reload(contact: string): Promise<void> {
    const conv = this.#state.conversation;
    if (!conv || conv.contact !== contact || conv.loading || conv.newer) return;
    const ticket = this.#ticket;
    try {
      const limit = Math.min(MAX_RELOAD, Math.max(PAGE_SIZE, conv.messages.length));
      const page = await this.#history.latest(contact, limit);
      const now = this.#state.conversation;
      if (ticket !== this.#ticket || !now || now.contact !== contact) return;
      this.#patchConversation({ messages: page.messages, more: page.more });
    } catch {
      // The next change or reload shows it.
    }
  }

  #applyState(s: ChatState): void {
    if (s.rev < this.#stateRev) return;
    this.#stateRev = s.rev;
    const was = this.#state.server?.phase;
    this.#set({ server: s });
    if (s.phase === "connected" && was !== "connected") {
      this.#set({ inputNote: null });
      this.#outbox.kick();
      const sel = this.#state.selected;
      if (isRoom(sel)) void this.#loadMembers(sel!);
    }
  }

  #applyContacts(snap: ContactsSnapshot): void {
    if (snap.rev < this.#contactsRev) return;
    const old = this.#state.contacts;
    this.#contactsRev = snap.rev;
    this.#set({ contacts: snap.contacts });
    // A message the user saw arrive is counted unread by the GUI first: mark it read.
    this.#markSeen();
    // A contact deleted (here or in another tab) is no longer selected; its history stays.
    const sel = this.#state.selected;
    if (
      sel !== null && old.some((c) => c.login === sel) &&
      !snap.contacts.some((c) => c.login === sel)
    ) {
      this.#select(null);
    }
  }

  #applyRooms(snap: RoomsSnapshot): void {
    if (snap.rev < this.#roomsRev) return;
    const old = this.#state.rooms;
    this.#roomsRev = snap.rev;
    this.#set({ rooms: snap.rooms });
    this.#markSeen();
    // Left, removed or deleted (here, in another tab, or by the owner): no longer open.
    const sel = this.#state.selected;
    if (isRoom(sel) && old.some((r) => r.room === sel) && !snap.rooms.some((r) => r.room === sel)) {
      this.#select(null);
    }
  }

  #appendService(e: ServiceEntry): void {
    if (e.seq <= this.#serviceSeq) return;
    this.#serviceSeq = e.seq;
    const entry: LogEntry = { id: ++this.#logId, time: e.time, head: e.text, level: e.level };
    const old = this.#state.service;
    const service = old.length >= SERVICE_LIMIT
      ? [...old.slice(old.length - SERVICE_LIMIT + 1), entry]
      : [...old, entry];
    this.#set({ service });
  }

  async #refetch(): Promise<void> {
    try {
      const [s, c, r, log] = await Promise.all([
        apiJson<ChatState>("/api/state"),
        apiJson<ContactsSnapshot>("/api/contacts"),
        apiJson<RoomsSnapshot>("/api/rooms"),
        apiJson<ServiceReply>("/api/service"),
      ]);
      this.#applyState(s);
      this.#applyContacts(c);
      this.#applyRooms(r);
      for (const e of log.entries) this.#appendService(e);
      this.#set({ pageError: null });
      this.#watchMembers(this.#state.selected);
      await this.#load(this.#state.selected);
    } catch (err) {
      this.#set({ pageError: formError(err).text });
    }
  }
}
