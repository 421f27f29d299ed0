/**
 * A scripted stand-in for the issue 12 server, on a real loopback socket: SCRAM logins,
 * capabilities, stored messages with ids, offline delivery, several sessions per account with
 * carbons, receipts, read marks, history pages and presence pushes, and rooms (join, leave,
 * get_rooms, members, invite, kick, set_owner, delete_room, room_config, room messages and
 * room history, room_event pushes), all in memory and as PROTOCOL_12 and PROTOCOL_13
 * describe them. Test support only: the client is built and tested against
 * it until the real server speaks the additions (then the e2e tests in tests/ take over).
 * Tests reach past the protocol with {@linkcode FakeConvServer.inject} (forged frames) and
 * {@linkcode FakeConvServer.drop} (lost connections).
 *
 * @module
 */
import {
  type Capability,
  deriveScramCredentials,
  encodeFrame,
  FrameDecoder,
  fromBase64,
  isAccountName,
  isCapability,
  isMessageId,
  JimError,
  MAX_HISTORY_PAGE,
  type ScramCredentials,
  ScramServerExchange,
  toBase64,
} from "../protocol/mod.ts";

/** Options for {@linkcode FakeConvServer.start}. */
export interface FakeConvServerOptions {
  /** The accounts and their passwords. */
  users: { login: string; password: string }[];
  /** What the server answers of what a client announces (all five by default). */
  capabilities?: readonly Capability[];
  /** `store` (the default) keeps messages for offline users; `reject` answers 410 as the seed. */
  offline?: "store" | "reject";
  /** Contacts to start with: `[owner, contact]` pairs. */
  contacts?: [string, string][];
  /** Messages one offline user may have waiting (1000 by default). */
  maxBacklog?: number;
}

/** A request a logged-in session made, as {@linkcode FakeConvServer.requests} keeps it. */
export interface FakeRequest {
  login: string;
  frame: Record<string, unknown>;
}

/** A message as the fake server keeps it. */
export interface FakeMessage {
  id: number;
  ts: number;
  from: string;
  to: string;
  text: string;
  /** For the sender: stored until a session of `to` got it, then delivered, then read. */
  state: "stored" | "delivered" | "read";
}

/** A room as the fake server keeps it. */
export interface FakeRoom {
  name: string;
  owner: string;
  /** Logins in the order they joined. */
  members: string[];
  inviteOnly: boolean;
  historyVisible: boolean;
  invites: Set<string>;
  /** The last message id when each member (last) joined: it sees what came after. */
  since: Map<string, number>;
}

type Frame = Record<string, unknown>;

const text = new TextDecoder();

class FakeSession {
  login: string | undefined;
  caps = new Set<Capability>();
  readonly conn: Deno.Conn;
  #decoder = new FrameDecoder();
  #writes: Promise<void> = Promise.resolve();
  #scram: { exchange: ScramServerExchange; creds: ScramCredentials; login: string } | undefined;
  #pendingLogin: string | undefined;
  #announced: Capability[] = [];
  closed = false;

  constructor(conn: Deno.Conn, readonly server: FakeConvServer) {
    this.conn = conn;
  }

  send(frame: Frame): void {
    if (this.closed) return;
    const bytes = encodeFrame(frame);
    this.#writes = this.#writes.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
    }).catch(() => this.close());
  }

  async run(): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (let n; (n = await this.conn.read(buffer)) !== null;) {
        for (const frame of this.#decoder.push(buffer.subarray(0, n))) {
          if (!frame.ok) return;
          await this.#handle(frame.value);
          if (this.closed) return;
        }
      }
    } catch {
      // Reset by the client, or closed by the test.
    } finally {
      this.close();
      await this.#writes;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
    this.server.detach(this);
  }

  has(cap: Capability): boolean {
    return this.caps.has(cap);
  }

  async #handle(req: Frame): Promise<void> {
    const s = this.server;
    const action = req.action;
    if (this.login === undefined) {
      if (action === "presence") return this.#presence(req);
      if (action === "authenticate") return await this.#authenticate(req);
      if (action === "quit") return this.#quit();
      return this.send({ response: 401, error: "Authentication required" });
    }
    s.requests.push({ login: this.login, frame: req });
    switch (action) {
      case "presence":
        return this.send({ response: 200, alert: "OK" });
      case "quit":
      case "exit":
        return this.#quit();
      case "get_contacts": {
        const list = s.contactsOf(this.login);
        this.send({ response: 202, quantity: list.length });
        for (const c of list) {
          this.send({ action: "contact_list", user_id: c, online: s.isOnline(c) });
        }
        return;
      }
      case "add_contact":
      case "del_contact": {
        const who = String(req.user_id);
        if (!s.hasUser(who)) return this.send({ response: 404, error: `No such client: ${who}` });
        const mine = s.contacts.get(this.login)!;
        if (action === "add_contact") {
          if (mine.has(who)) {
            return this.send({ response: 409, error: `Client already in contacts: ${who}` });
          }
          mine.add(who);
        } else {
          if (!mine.delete(who)) {
            return this.send({ response: 404, error: `Client not in contacts: ${who}` });
          }
        }
        return this.send({ response: 200, alert: "OK" });
      }
      case "get_users":
        return this.send({ response: 202, users: [...s.users.keys()].sort() });
      case "msg":
        return this.#msg(req);
      case "read":
        return this.#read(req);
      case "history":
        return this.#history(req);
      case "join":
      case "leave":
      case "get_rooms":
      case "members":
      case "invite":
      case "kick":
      case "set_owner":
      case "delete_room":
      case "room_config":
        return this.#room(String(action), req);
      default:
        return this.send({ response: 400, error: `Unknown action: ${String(action)}` });
    }
  }

  #presence(req: Frame): void {
    const login = (req.user as { account_name?: unknown } | undefined)?.account_name;
    if (typeof login !== "string" || !this.server.hasUser(login)) {
      return this.send({ response: 404, error: `No such client: ${String(login)}` });
    }
    this.#pendingLogin = login;
    const announced = Array.isArray(req.capabilities) ? req.capabilities.filter(isCapability) : [];
    this.#announced = announced.filter((c) => this.server.capabilities.includes(c));
    this.send({
      response: 401,
      error: "Authentication required",
      token: "00112233445566778899aabbccddeeff",
      mechanisms: ["SCRAM-SHA-256"],
      // A client that announces nothing hears nothing new.
      ...(Array.isArray(req.capabilities) ? { capabilities: this.#announced } : {}),
    });
  }

  async #authenticate(req: Frame): Promise<void> {
    const data = text.decode(fromBase64(String(req.data ?? "")));
    try {
      if (!this.#scram) {
        const login = this.#pendingLogin;
        const creds = login === undefined ? undefined : this.server.credentials.get(login);
        if (!login || !creds) return this.send({ response: 402, error: "Access denied" });
        const exchange = new ScramServerExchange();
        const first = exchange.serverFirst(data, creds);
        this.#scram = { exchange, creds, login };
        return this.send({
          response: 401,
          error: "Authentication required",
          mechanism: "SCRAM-SHA-256",
          data: toBase64(first),
        });
      }
      const { exchange, creds, login } = this.#scram;
      const final = await exchange.serverFinal(data, creds);
      this.login = login;
      this.caps = new Set(this.#announced);
      this.send({ response: 200, alert: "OK", mechanism: "SCRAM-SHA-256", data: toBase64(final) });
      this.server.attach(this);
    } catch (error) {
      const e = error instanceof JimError ? error : new JimError(400, String(error));
      this.send({ response: e.code, error: e.message });
      this.close();
    }
  }

  #quit(): void {
    this.send({ response: 200, alert: "Bye" });
    void this.#writes.then(() => this.close());
  }

  #room(action: string, req: Frame): void {
    const s = this.server;
    const me = this.login!;
    if (action === "get_rooms") {
      const mine = [...s.rooms.values()].filter((r) => r.members.includes(me))
        .sort((a, b) => a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1);
      this.send({ response: 202, quantity: mine.length });
      for (const r of mine) {
        const last = s.visible(r, me).at(-1)?.id;
        this.send({
          action: "room_list",
          room: r.name,
          owner: r.owner,
          members: r.members.length,
          invite_only: r.inviteOnly,
          history_visible: r.historyVisible,
          ...(last === undefined ? {} : { last_id: last }),
        });
      }
      return;
    }
    const name = req.room;
    if (typeof name !== "string") return this.send({ response: 400, error: "Missing field: room" });
    if (!name.startsWith("#")) {
      return this.send({ response: 400, error: 'Invalid field: room must start with "#"' });
    }
    if (!isAccountName(name.slice(1))) {
      return this.send({
        response: 400,
        error: `Invalid field: room may hold only letters, digits, "_", "-" and "." after "#"`,
      });
    }
    let room = s.rooms.get(name.toLowerCase());
    if (action === "join") {
      if (!room) {
        room = {
          name,
          owner: me,
          members: [me],
          inviteOnly: req.invite_only === true,
          historyVisible: false,
          invites: new Set(),
          since: new Map([[me, s.lastId]]),
        };
        s.rooms.set(name.toLowerCase(), room);
        this.send({ response: 200, alert: `Joined ${name}`, room: name, created: true });
        s.roomEvent(room, { event: "joined", user_id: me });
        return;
      }
      if (room.members.includes(me)) {
        return this.send({
          response: 200,
          alert: `Already a member of ${room.name}`,
          room: room.name,
          created: false,
        });
      }
      if (room.inviteOnly && !room.invites.has(me)) {
        return this.send({ response: 403, error: `Room is invite-only: ${room.name}` });
      }
      room.invites.delete(me);
      room.members.push(me);
      room.since.set(me, s.lastId);
      this.send({ response: 200, alert: `Joined ${room.name}`, room: room.name, created: false });
      s.roomEvent(room, { event: "joined", user_id: me });
      return;
    }
    if (!room) return this.send({ response: 404, error: `No such room: ${name}` });
    if (!room.members.includes(me)) {
      return this.send({ response: 403, error: `Not a member of ${room.name}` });
    }
    const ownerOnly = ["kick", "set_owner", "delete_room", "room_config"];
    if (ownerOnly.includes(action) && room.owner !== me) {
      return this.send({ response: 403, error: `Only the owner of ${room.name} can do that` });
    }
    const who = typeof req.user_id === "string" ? req.user_id : undefined;
    const needsUser = ["invite", "kick", "set_owner"].includes(action);
    if (needsUser && who === undefined) {
      return this.send({ response: 400, error: "Missing field: user_id" });
    }
    if (needsUser && !s.hasUser(who!)) {
      return this.send({ response: 404, error: `No such client: ${who}` });
    }
    switch (action) {
      case "leave": {
        this.send({ response: 200, alert: `Left ${room.name}`, room: room.name });
        s.roomEvent(room, { event: "left", user_id: me }, [me]);
        room.members = room.members.filter((m) => m !== me);
        room.since.delete(me);
        if (room.members.length === 0) {
          s.rooms.delete(room.name.toLowerCase());
          return;
        }
        if (room.owner === me) {
          room.owner = room.members[0]!;
          s.roomEvent(room, { event: "owner", user_id: room.owner });
        }
        return;
      }
      case "members": {
        const list = [...room.members].sort();
        this.send({ response: 202, quantity: list.length });
        for (const m of list) {
          this.send({
            action: "room_member",
            room: room.name,
            user_id: m,
            owner: m === room.owner,
            online: s.isOnline(m),
          });
        }
        return;
      }
      case "invite": {
        if (room.members.includes(who!)) {
          return this.send({ response: 409, error: `Already a member of ${room.name}: ${who}` });
        }
        room.invites.add(who!);
        this.send({ response: 200, alert: `Invited ${who} to ${room.name}`, room: room.name });
        for (const session of s.sessionsOf(who!)) {
          if (session.has("rooms")) {
            session.send({
              action: "room_event",
              time: 1,
              room: room.name,
              event: "invited",
              user_id: who,
              by: me,
            });
          }
        }
        return;
      }
      case "kick": {
        if (who === me) {
          return this.send({ response: 400, error: "Cannot kick yourself: use leave" });
        }
        if (!room.members.includes(who!)) {
          return this.send({ response: 404, error: `Not a member of ${room.name}: ${who}` });
        }
        this.send({ response: 200, alert: `Removed ${who} from ${room.name}`, room: room.name });
        s.roomEvent(room, { event: "kicked", user_id: who, by: me });
        room.members = room.members.filter((m) => m !== who);
        room.since.delete(who!);
        room.invites.delete(who!);
        return;
      }
      case "set_owner": {
        if (!room.members.includes(who!)) {
          return this.send({ response: 404, error: `Not a member of ${room.name}: ${who}` });
        }
        room.owner = who!;
        this.send({ response: 200, alert: `Owner of ${room.name} is now ${who}`, room: room.name });
        s.roomEvent(room, { event: "owner", user_id: who });
        return;
      }
      case "delete_room": {
        this.send({ response: 200, alert: `Deleted ${room.name}`, room: room.name });
        s.roomEvent(room, { event: "deleted", by: me });
        s.rooms.delete(room.name.toLowerCase());
        s.messages.splice(
          0,
          s.messages.length,
          ...s.messages.filter((m) => m.to.toLowerCase() !== room!.name.toLowerCase()),
        );
        return;
      }
      case "room_config": {
        const { invite_only: inviteOnly, history_visible: visible } = req;
        if (typeof inviteOnly !== "boolean" && typeof visible !== "boolean") {
          return this.send({
            response: 400,
            error: "Missing field: invite_only or history_visible",
          });
        }
        if (typeof inviteOnly === "boolean") room.inviteOnly = inviteOnly;
        if (typeof visible === "boolean") room.historyVisible = visible;
        this.send({
          response: 200,
          alert: `Updated ${room.name}`,
          room: room.name,
          invite_only: room.inviteOnly,
          history_visible: room.historyVisible,
        });
        s.roomEvent(room, {
          event: "config",
          invite_only: room.inviteOnly,
          history_visible: room.historyVisible,
        });
        return;
      }
    }
  }

  #roomMsg(req: Frame, to: string): void {
    const s = this.server;
    const from = this.login!;
    const room = s.rooms.get(to.toLowerCase());
    if (!room) return this.send({ response: 404, error: `No such room: ${to}` });
    if (!room.members.includes(from)) {
      return this.send({ response: 403, error: `Not a member of ${room.name}` });
    }
    const others = room.members.filter((m) => m !== from && s.isOnline(m));
    const m = s.append(
      from,
      room.name,
      String(req.message),
      others.length ? "delivered" : "stored",
    );
    for (const login of room.members) {
      for (const r of s.sessionsOf(login)) {
        if (r !== this && r.has("rooms")) r.send(s.msgFrame(m, r));
      }
    }
    this.send(
      this.has("ids")
        ? { response: 200, alert: "OK", id: m.id, ts: m.ts, state: m.state }
        : { response: 200, alert: "OK" },
    );
  }

  #msg(req: Frame): void {
    const s = this.server;
    const from = this.login!;
    const to = String(req.to);
    if (to.startsWith("#")) return this.#roomMsg(req, to);
    if (!s.hasUser(to)) return this.send({ response: 404, error: `No such client: ${to}` });
    const online = s.sessionsOf(to);
    if (online.length === 0 && s.offline === "reject") {
      return this.send({ response: 410, error: `Client not online: ${to}` });
    }
    if (online.length === 0 && s.backlog(to) >= s.maxBacklog) {
      return this.send({
        response: 503,
        error: `Message not stored: ${to} has ${s.maxBacklog} messages waiting`,
      });
    }
    const m = s.append(from, to, String(req.message), online.length > 0 ? "delivered" : "stored");
    for (const r of online) r.send(s.msgFrame(m, r));
    for (const other of s.sessionsOf(from)) {
      if (other !== this && other.has("carbons") && from !== to) {
        other.send({ ...s.msgFrame(m, other), carbon: true });
      }
    }
    if (m.state === "delivered") {
      // The account's other sessions saw the carbon; this tells them it arrived.
      for (const other of s.sessionsOf(from)) {
        if (other !== this && other.has("receipts") && from !== to) {
          other.send({ action: "receipt", time: 1, id: m.id, user_id: to, state: "delivered" });
        }
      }
    }
    if (s.loseReply?.(from, m)) {
      // Stored and routed, but the reply is lost with the connection.
      this.close();
      return;
    }
    const alert = m.state === "stored" ? `Stored for ${to}` : "OK";
    this.send(
      this.has("ids")
        ? { response: 200, alert, id: m.id, ts: m.ts, state: m.state }
        : { response: 200, alert },
    );
  }

  #read(req: Frame): void {
    const s = this.server;
    const me = this.login!;
    const peer = String(req.user_id);
    const id = req.id;
    const m = isMessageId(id) ? s.messages.find((x) => x.id === id) : undefined;
    if (!m || m.from !== peer || m.to !== me) {
      return this.send({ response: 404, error: `No such message: ${String(id)}` });
    }
    const key = `${me}\n${peer}`;
    const mark = s.readMarks.get(key) ?? 0;
    this.send({ response: 200, alert: "OK" });
    if (m.id <= mark) return;
    s.readMarks.set(key, m.id);
    for (const x of s.messages) {
      if (x.from === peer && x.to === me && x.id <= m.id) x.state = "read";
    }
    for (const r of s.sessionsOf(peer)) {
      if (r.has("receipts")) {
        r.send({ action: "receipt", time: 1, id: m.id, user_id: me, state: "read" });
      }
    }
    for (const other of s.sessionsOf(me)) {
      if (other !== this && other.has("receipts")) {
        other.send({
          action: "receipt",
          time: 1,
          id: m.id,
          user_id: peer,
          state: "read",
          own: true,
        });
      }
    }
  }

  #history(req: Frame): void {
    const s = this.server;
    const me = this.login!;
    if (!this.has("ids")) return this.send({ response: 400, error: "Unknown action: history" });
    const limit = req.limit ?? 50;
    if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_HISTORY_PAGE) {
      return this.send({ response: 400, error: "Invalid field: limit must be 1 to 100" });
    }
    const peer = req.with === undefined ? undefined : String(req.with);
    let mine: FakeMessage[];
    if (peer?.startsWith("#")) {
      const room = s.rooms.get(peer.toLowerCase());
      if (!room) return this.send({ response: 404, error: `No such room: ${peer}` });
      if (!room.members.includes(me)) {
        return this.send({ response: 403, error: `Not a member of ${room.name}` });
      }
      mine = s.visible(room, me);
    } else {
      mine = s.messages.filter((m) =>
        !m.to.startsWith("#") && (m.from === me || m.to === me) &&
        (peer === undefined || m.from === peer && m.to === me || m.to === peer && m.from === me)
      );
    }
    for (const key of ["before", "after"] as const) {
      const id = req[key];
      if (id !== undefined && !mine.some((m) => m.id === id)) {
        return this.send({ response: 404, error: `No such message: ${String(id)}` });
      }
    }
    let page: FakeMessage[];
    let more: boolean;
    if (req.after !== undefined) {
      const newer = mine.filter((m) => m.id > (req.after as number));
      page = newer.slice(0, limit as number);
      more = newer.length > page.length;
    } else {
      const older = req.before === undefined
        ? mine
        : mine.filter((m) => m.id < (req.before as number));
      page = older.slice(-(limit as number));
      more = older.length > page.length;
    }
    this.send({ response: 202, quantity: page.length, more });
    for (const m of page) {
      if (m.to.startsWith("#")) {
        this.send({
          action: "history_item",
          id: m.id,
          ts: m.ts,
          time: Math.floor(m.ts / 1000),
          from: m.from,
          to: m.to,
          message: m.text,
        });
        continue;
      }
      const state = m.from === me ? m.state : m.state === "read" ? "read" : "delivered";
      this.send({
        action: "history_item",
        id: m.id,
        ts: m.ts,
        time: Math.floor(m.ts / 1000),
        from: m.from,
        to: m.to,
        encoding: "utf-8",
        message: m.text,
        state,
      });
    }
  }
}

/**
 * The fake server. `await using` closes the listener and every session.
 *
 * @example
 * ```ts
 * import { FakeConvServer } from "./_fake_server.ts";
 * await using srv = await FakeConvServer.start({ users: [{ login: "alice", password: "pw" }] });
 * console.log(srv.port);
 * ```
 */
export class FakeConvServer implements AsyncDisposable {
  readonly host = "127.0.0.1";
  readonly port: number;
  readonly users = new Map<string, string>();
  readonly credentials = new Map<string, ScramCredentials>();
  readonly contacts = new Map<string, Set<string>>();
  readonly capabilities: readonly Capability[];
  readonly offline: "store" | "reject";
  readonly maxBacklog: number;
  readonly messages: FakeMessage[] = [];
  readonly readMarks = new Map<string, number>();
  /** Rooms by lower-cased name. */
  readonly rooms = new Map<string, FakeRoom>();
  /** Every request of a logged-in session, in order. */
  readonly requests: FakeRequest[] = [];
  /** When it returns true for a message just stored, the sender's connection drops unanswered. */
  loseReply: ((from: string, message: FakeMessage) => boolean) | undefined;
  readonly #sessions = new Set<FakeSession>();
  readonly #listener: Deno.Listener;
  readonly #runs = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #nextId = 1000;
  #closed = false;

  private constructor(listener: Deno.Listener, options: FakeConvServerOptions) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.capabilities = options.capabilities ??
      ["ids", "carbons", "presence", "receipts", "rooms"];
    this.offline = options.offline ?? "store";
    this.maxBacklog = options.maxBacklog ?? 1000;
    for (const u of options.users) {
      this.users.set(u.login, u.password);
      this.contacts.set(u.login, new Set());
    }
    for (const [owner, contact] of options.contacts ?? []) this.contacts.get(owner)?.add(contact);
    this.#accepting = this.#accept();
  }

  /** Listens on 127.0.0.1, port 0. */
  static async start(options: FakeConvServerOptions): Promise<FakeConvServer> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const server = new FakeConvServer(listener, options);
    for (const u of options.users) {
      server.credentials.set(
        u.login,
        await deriveScramCredentials(u.password, { iterations: 4096 }),
      );
    }
    return server;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const session = new FakeSession(conn, this);
        this.#sessions.add(session);
        const run = session.run();
        this.#runs.add(run);
        void run.finally(() => this.#runs.delete(run));
      }
    } catch {
      // The listener closed.
    }
  }

  hasUser(login: string): boolean {
    return isAccountName(login) && this.users.has(login);
  }

  contactsOf(login: string): string[] {
    return [...(this.contacts.get(login) ?? [])].sort();
  }

  /** The logged-in sessions of `login`. */
  sessionsOf(login: string): FakeSession[] {
    return [...this.#sessions].filter((s) => s.login === login && !s.closed);
  }

  isOnline(login: string): boolean {
    return this.sessionsOf(login).length > 0;
  }

  /** The id of the newest message (1000 before the first). */
  get lastId(): number {
    return this.#nextId;
  }

  /** The messages of `room` that `login` may read: since it joined, or all when visible. */
  visible(room: FakeRoom, login: string): FakeMessage[] {
    const since = room.historyVisible ? 0 : room.since.get(login) ?? Infinity;
    return this.messages.filter((m) =>
      m.to.toLowerCase() === room.name.toLowerCase() && m.id > since
    );
  }

  /** Pushes a room_event to the `rooms` sessions of every member (and of `also`). */
  roomEvent(room: FakeRoom, fields: Frame, also: string[] = []): void {
    const to = new Set([...room.members, ...also]);
    for (const login of to) {
      for (const s of this.sessionsOf(login)) {
        if (s.has("rooms")) s.send({ action: "room_event", time: 1, room: room.name, ...fields });
      }
    }
  }

  backlog(login: string): number {
    return this.messages.filter((m) => m.to === login && m.state === "stored").length;
  }

  append(from: string, to: string, text: string, state: FakeMessage["state"]): FakeMessage {
    const m = { id: ++this.#nextId, ts: Date.now(), from, to, text, state };
    this.messages.push(m);
    return m;
  }

  msgFrame(m: FakeMessage, to: FakeSession): Frame {
    const base = {
      action: "msg",
      time: Math.floor(m.ts / 1000),
      to: m.to,
      from: m.from,
      encoding: "utf-8",
      message: m.text,
    };
    return to.has("ids") ? { ...base, id: m.id, ts: m.ts } : base;
  }

  attach(session: FakeSession): void {
    const login = session.login!;
    const first = this.sessionsOf(login).length === 1;
    // The offline backlog, in order, once per session.
    const waiting = this.messages.filter((m) => m.to === login && m.state === "stored");
    for (const m of waiting) session.send({ ...this.msgFrame(m, session), stored: true });
    for (const m of waiting) {
      m.state = "delivered";
      for (const s of this.sessionsOf(m.from)) {
        if (s.has("receipts")) {
          s.send({ action: "receipt", time: 1, id: m.id, user_id: login, state: "delivered" });
        }
      }
    }
    if (first) this.#presence(login, "online");
  }

  detach(session: FakeSession): void {
    this.#sessions.delete(session);
    const login = session.login;
    if (login !== undefined && !this.isOnline(login) && !this.#closed) {
      this.#presence(login, "offline");
    }
  }

  #presence(login: string, status: "online" | "offline"): void {
    for (const [owner, list] of this.contacts) {
      if (!list.has(login)) continue;
      for (const s of this.sessionsOf(owner)) {
        if (s.has("presence")) {
          s.send({
            action: "presence",
            time: 1,
            type: "status",
            user: { account_name: login, status },
          });
        }
      }
    }
  }

  /** Sends `frame` as it is to every session of `login`: forged or malformed pushes. */
  inject(login: string, frame: unknown): void {
    for (const s of this.sessionsOf(login)) s.send(frame as Frame);
  }

  /** Drops every connection of `login` without a word, as a lost network would. */
  drop(login: string): void {
    for (const s of this.sessionsOf(login)) s.close();
  }

  /** Closes the listener and every session. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    await this.#accepting;
    for (const s of this.#sessions) s.close();
    await Promise.all([...this.#runs]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
