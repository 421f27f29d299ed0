/**
 * The hub of a cluster node (issue 14): local sessions as {@linkcode LocalHub} keeps them, the
 * other nodes' sessions through NATS.
 *
 * - **Delivery.** Each node subscribes to `jim.a.<account>` for the accounts it has sessions
 *   of, and only those. A message for an account with sessions elsewhere is delivered to the
 *   local sessions synchronously and published once to that subject; nothing on the message
 *   path awaits NATS.
 * - **Leases.** Each session holds one of its account's slots in the KV bucket
 *   (`sess.<account>.<n>`, n below the session cap), taken with `create()`, which succeeds
 *   only for a free slot: the cap holds across the cluster. Each node puts a heartbeat
 *   (`node.<node>`) every `heartbeatMs` and watches the bucket, which gives it every other
 *   node's sessions (presence, admin views, "is bob online anywhere?"). nats-server 2.9 has
 *   no per-key TTL and ages entries out silently, so leases are not refreshed one by one:
 *   every node checks every heartbeat, and deletes the leases of a node whose heartbeat is
 *   older than `leaseTtlMs`, so its users are offline within that time of a crash.
 * - **Takeover.** At the cap, the holders are asked (`jim.n.<node>` request) whether their
 *   sessions are alive, as `LocalHub` probes its own; a holder on a node that does not answer
 *   is taken over.
 * - **NATS down.** The node goes on alone: other nodes' sessions count as offline (so their
 *   messages are stored), new logins attach under the local cap, and at reconnect the node
 *   reads the bucket anew, takes slots for what attached meanwhile, and emits `resync` so that
 *   sessions fetch what they missed.
 *
 * @module
 */
import {
  connect,
  type Msg,
  type NatsConnection,
  type QueuedIterator,
  type Subscription,
} from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import { Envelope } from "./envelope.ts";
import type {
  AttachOptions,
  AttachResult,
  DeliveryResult,
  Hub,
  HubSession,
  HubSessionInfo,
  LoginOutcome,
  Notice,
  PresenceChange,
} from "./hub.ts";
import { LocalHub } from "./local_hub.ts";
import {
  accountSubject,
  LOGIN_SUBJECT,
  NODE_NAME_PATTERN,
  nodeKey,
  nodeSubject,
  parseKey,
  roomSubject,
  slotKey,
  untoken,
} from "./_cluster_names.ts";

/** The notice of a session whose slot another login took while this node was cut off. */
const TAKEN_OVER: Notice = Object.freeze({
  code: 403,
  text: "Session taken over: logged in again from another connection",
});

/** Options for {@linkcode NatsHub.connect}. */
export interface NatsHubOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** This node's name: unique in the cluster, shown in admin views. */
  node: string;
  /** Live sessions one account may have in the whole cluster; 1 by default. */
  maxSessionsPerAccount?: number;
  /** How often the node puts its heartbeat, ms; 1000 by default. */
  heartbeatMs?: number;
  /**
   * A node whose heartbeat is older than this (ms) counts as crashed: its sessions go
   * offline and their leases are deleted. 5000 by default; at least twice `heartbeatMs`.
   */
  leaseTtlMs?: number;
  /** How long one KV call or NATS request may take, ms; 2000 by default. */
  timeoutMs?: number;
  /** How long a session elsewhere has to answer a takeover probe, ms; 5000 by default. */
  takeoverTimeoutMs?: number;
  /** The KV bucket; `jim-sessions` by default. */
  bucket?: string;
  /** Where the hub tells what happens to the cluster (joins, outages, crashed nodes). */
  log?: (level: "info" | "error", message: string) => void;
}

/** A session lease as stored in the bucket. */
interface Lease {
  node: string;
  id: string;
  login: string;
  since: number;
  /** Whether the session announced `rooms`: only those get room traffic. */
  rooms?: boolean;
}

interface RemoteLease extends Lease {
  key: string;
  kvKey: string;
  revision: number;
}

interface Held {
  kvKey: string;
  revision: number;
}

const ATTACHED: AttachResult = Object.freeze({ ok: true });
const FULL: AttachResult = Object.freeze({ ok: false, reason: "full" });
const ABORTED: AttachResult = Object.freeze({ ok: false, reason: "aborted" });
const encoder = new TextEncoder();

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isWrongSequence(error: unknown): boolean {
  return /wrong last sequence/i.test(errorText(error));
}

function isLease(value: unknown): value is Lease {
  const v = value as Partial<Lease> | null;
  return typeof v === "object" && v !== null && typeof v.node === "string" &&
    typeof v.id === "string" && typeof v.login === "string" && typeof v.since === "number";
}

/**
 * A cluster node's hub, over NATS (routing) and a JetStream KV bucket (leases, presence).
 *
 * @example
 * ```ts ignore
 * import { JimServer, SqliteStorage } from "../mod.ts";
 * import { NatsHub } from "./nats_hub.ts";
 * await using storage = SqliteStorage.open("jim-server.db");
 * const hub = await NatsHub.connect({ servers: "nats://127.0.0.1:4222", node: "a" });
 * await using server = await JimServer.listen({ storage, hub, port: 7777, reusePort: true });
 * await server.finished;
 * await hub.close();
 * ```
 */
export class NatsHub implements Hub {
  readonly node: string;
  readonly maxSessionsPerAccount: number;

  readonly #local: LocalHub;
  readonly #nc: NatsConnection;
  readonly #kv: KV;
  readonly #heartbeatMs: number;
  readonly #leaseTtlMs: number;
  readonly #timeoutMs: number;
  readonly #takeoverTimeoutMs: number;
  readonly #log: (level: "info" | "error", message: string) => void;

  /** Other nodes' sessions by account key, each by its slot's KV key. */
  readonly #remote = new Map<string, Map<string, RemoteLease>>();
  readonly #remoteByKv = new Map<string, RemoteLease>();
  /** Other nodes: when their heartbeat was last written (ms) and its revision. */
  readonly #nodes = new Map<string, { at: number; revision: number }>();
  /** Local sessions and the slot each holds. */
  readonly #held = new Map<HubSession, Held>();
  readonly #heldByKv = new Map<string, HubSession>();
  readonly #byId = new Map<string, HubSession>();
  /** Local sessions attached without a slot, while NATS could not be reached. */
  readonly #unleased = new Set<HubSession>();
  /** Slots being created or released by this node. */
  readonly #creating = new Set<string>();
  readonly #releases = new Map<string, Promise<void>>();
  readonly #subs = new Map<string, Subscription>();
  /** Who is online in the cluster as this node sees it: account key to login. */
  readonly #online = new Map<string, string>();
  /** Accounts with a local attach in progress, by how many. */
  readonly #attaching = new Map<string, number>();
  readonly #presence = new Set<(change: PresenceChange) => void>();
  readonly #resync = new Set<() => void>();
  readonly #logins = new Set<(outcome: LoginOutcome) => void>();
  readonly #tasks = new Set<Promise<unknown>>();

  /** Whether the remote view is valid: NATS is up and the bucket was read since it came back. */
  #connected = false;
  #watcher: QueuedIterator<KvWatchEntry> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating = false;
  #closing: Promise<void> | undefined;

  private constructor(nc: NatsConnection, kv: KV, options: NatsHubOptions) {
    this.#nc = nc;
    this.#kv = kv;
    this.node = options.node;
    const max = options.maxSessionsPerAccount ?? 1;
    this.#local = new LocalHub({ maxSessionsPerAccount: max });
    this.maxSessionsPerAccount = max;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#leaseTtlMs = options.leaseTtlMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#takeoverTimeoutMs = options.takeoverTimeoutMs ?? 5000;
    this.#log = options.log ?? (() => {});
    this.#local.on("presence", (change) => this.#recompute(change.key));
  }

  /**
   * Connects to NATS, opens (or creates) the bucket, claims the node name and reads who is
   * online. A node name whose heartbeat is fresh is waited for until it is stale (a crashed
   * predecessor of this node); if it keeps beating, another node has the name.
   *
   * @throws {Error} "Cannot join the cluster at URL: …" when NATS cannot be reached or the
   *   name is taken; {RangeError} for bad options.
   */
  static async connect(options: NatsHubOptions): Promise<NatsHub> {
    const heartbeatMs = options.heartbeatMs ?? 1000;
    const leaseTtlMs = options.leaseTtlMs ?? 5000;
    const max = options.maxSessionsPerAccount ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 100_000) {
      throw new RangeError("Invalid maxSessionsPerAccount: must be an integer from 1 to 100000");
    }
    if (!(heartbeatMs > 0) || !(leaseTtlMs >= 2 * heartbeatMs)) {
      throw new RangeError("Invalid lease: leaseTtlMs must be at least twice heartbeatMs");
    }
    if (!NODE_NAME_PATTERN.test(options.node)) {
      throw new RangeError(
        `Invalid node name: ${JSON.stringify(options.node)}: 1 to 100 letters, digits, . _ : @ -`,
      );
    }
    const timeoutMs = options.timeoutMs ?? 2000;
    const where = [options.servers].flat().join(",");
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: `jim ${options.node}`,
        // What this node publishes it has delivered locally already.
        noEcho: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        timeout: timeoutMs,
        // A server that stops answering is noticed within seconds, not minutes.
        pingInterval: Math.max(1000, heartbeatMs * 2),
        maxPingOut: 2,
      });
    } catch (error) {
      throw new Error(`Cannot join the cluster at ${where}: ${errorText(error)}`, {
        cause: error,
      });
    }
    try {
      const kv = await new Kvm(jetstream(nc, { timeout: timeoutMs })).create(
        options.bucket ?? "jim-sessions",
        { history: 1 },
      );
      await claimName(kv, options.node, leaseTtlMs, heartbeatMs);
      const hub = new NatsHub(nc, kv, options);
      await hub.#start();
      return hub;
    } catch (error) {
      await nc.close().catch(() => {});
      throw new Error(`Cannot join the cluster at ${where}: ${errorText(error)}`, {
        cause: error,
      });
    }
  }

  /** Whether NATS is reachable and the view of other nodes is current. */
  get connected(): boolean {
    return this.#connected;
  }

  // --- Hub --------------------------------------------------------------------------------

  async attach(session: HubSession, options: AttachOptions = {}): Promise<AttachResult> {
    if (this.#closing || options.signal?.aborted) return ABORTED;
    if (this.#held.has(session) || this.#unleased.has(session)) return ATTACHED;
    // A takeover frees the old slot before the new session attaches: the account is not
    // offline in between, so presence waits for the outcome.
    this.#attaching.set(session.key, (this.#attaching.get(session.key) ?? 0) + 1);
    try {
      return await this.#attach(session, options);
    } finally {
      const n = this.#attaching.get(session.key)! - 1;
      if (n === 0) this.#attaching.delete(session.key);
      else this.#attaching.set(session.key, n);
      this.#recompute(session.key);
    }
  }

  async #attach(session: HubSession, options: AttachOptions): Promise<AttachResult> {
    // Subscribed before the lease is written: a node that sees the lease may publish at once.
    this.#subscribe(session.key);
    const result = await this.#attachLeased(session, options);
    if (!result.ok && !this.#local.isOnline(session.key)) this.#unsubscribe(session.key);
    return result;
  }

  async #attachLeased(session: HubSession, options: AttachOptions): Promise<AttachResult> {
    let held: Held | undefined;
    if (this.#connected) {
      try {
        const slot = await this.#takeSlot(session, options.signal);
        if (slot === "full") return FULL;
        if (slot === "aborted") return ABORTED;
        held = slot;
      } catch (error) {
        // NATS went away mid-login: the node admits under its own cap, as while it is down.
        this.#log("error", `Cluster: no session slot for ${session.login}: ${errorText(error)}`);
      }
    }
    if (this.#closing || options.signal?.aborted) {
      if (held) this.#release(held);
      return ABORTED;
    }
    const result = await this.#local.attach(session, options);
    if (!result.ok || this.#closing) {
      if (held) this.#release(held);
      if (result.ok) this.#local.detach(session);
      return result.ok ? ABORTED : result;
    }
    this.#byId.set(session.id, session);
    if (held) {
      this.#held.set(session, held);
      this.#heldByKv.set(held.kvKey, session);
    } else {
      this.#unleased.add(session);
    }
    return ATTACHED;
  }

  detach(session: HubSession): void {
    if (this.#byId.get(session.id) !== session) return;
    this.#byId.delete(session.id);
    this.#unleased.delete(session);
    const held = this.#held.get(session);
    if (held) {
      this.#held.delete(session);
      this.#heldByKv.delete(held.kvKey);
      this.#release(held);
    }
    this.#local.detach(session);
    if (!this.#local.isOnline(session.key)) this.#unsubscribe(session.key);
  }

  sendToAccount(key: string, envelope: Envelope, options?: { except?: string }): DeliveryResult {
    const local = this.#local.sendToAccount(key, envelope, options);
    const remote = this.#connected ? this.#remote.get(key)?.size ?? 0 : 0;
    if (remote === 0) return local;
    this.#publish(accountSubject(key), { t: "m", m: envelope.message });
    return {
      sessions: local.sessions + remote,
      delivered: local.delivered + remote,
      remote,
    };
  }

  sendToRoom(
    room: string,
    memberKeys: Iterable<string>,
    envelope: Envelope,
    options?: { except?: string },
  ): DeliveryResult {
    const keys = Array.isArray(memberKeys) ? memberKeys as string[] : [...memberKeys];
    const local = this.#local.sendToRoom(room, keys, envelope, options);
    if (!this.#connected || this.#remote.size === 0) return local;
    // One publish per node with members' sessions in the room, naming those members.
    const byNode = new Map<string, Set<string>>();
    let remote = 0;
    for (const key of keys) {
      const leases = this.#remote.get(key);
      if (!leases) continue;
      for (const lease of leases.values()) {
        if (!lease.rooms) continue;
        remote++;
        let members = byNode.get(lease.node);
        if (!members) byNode.set(lease.node, members = new Set());
        members.add(key);
      }
    }
    if (remote === 0) return local;
    for (const [node, members] of byNode) {
      this.#publish(roomSubject(node, room), { k: [...members], m: envelope.message });
    }
    return { sessions: local.sessions + remote, delivered: local.delivered + remote, remote };
  }

  isOnline(key: string): boolean {
    return this.#online.has(key);
  }

  onlineLogin(key: string): string | undefined {
    return this.#online.get(key);
  }

  onlineLogins(): string[] {
    return [...this.#online.values()];
  }

  sessions(key?: string): HubSessionInfo[] {
    const local = this.#local.sessions(key).map((s) => ({ ...s, node: this.node }));
    if (!this.#connected) return local;
    const leases = key === undefined
      ? [...this.#remoteByKv.values()]
      : [...this.#remote.get(key)?.values() ?? []];
    return [...local, ...leases.map((l) => ({ id: l.id, login: l.login, node: l.node }))];
  }

  endSessions(key: string, notice: Notice): number {
    const local = this.#local.endSessions(key, notice);
    const remote = this.#connected ? this.#remote.get(key)?.size ?? 0 : 0;
    if (remote > 0) {
      this.#publish(accountSubject(key), { t: "end", code: notice.code, text: notice.text });
    }
    return local + remote;
  }

  on(type: "presence", listener: (change: PresenceChange) => void): () => void;
  on(type: "resync", listener: () => void): () => void;
  on(type: "login", listener: (outcome: LoginOutcome) => void): () => void;
  on(
    type: "presence" | "resync" | "login",
    listener: ((change: PresenceChange) => void) | (() => void) | ((o: LoginOutcome) => void),
  ): () => void {
    const set =
      (type === "presence"
        ? this.#presence
        : type === "resync"
        ? this.#resync
        : this.#logins) as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  shareLogin(outcome: LoginOutcome): void {
    if (!this.#connected) return;
    this.#publish(LOGIN_SUBJECT, { f: outcome.failed, a: outcome.address, l: outcome.login });
  }

  /**
   * Leaves the cluster: deletes this node's leases and heartbeat (so its users are offline
   * at once, not after the lease TTL), then closes the connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Closes the hub, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    const wasConnected = this.#connected;
    this.#connected = false;
    if (wasConnected && !this.#nc.isClosed()) {
      const leaving = [...this.#held.values()].map((h) =>
        this.#kv.delete(h.kvKey, { previousSeq: h.revision })
      );
      leaving.push(this.#kv.delete(nodeKey(this.node)));
      await Promise.allSettled([...leaving, ...this.#releases.values()]);
    }
    this.#watcher?.stop();
    await this.#nc.close().catch(() => {});
    await Promise.allSettled([...this.#tasks]);
    this.#held.clear();
    this.#heldByKv.clear();
    this.#byId.clear();
    this.#unleased.clear();
    this.#subs.clear();
    await this.#local.close();
    this.#presence.clear();
    this.#resync.clear();
    this.#logins.clear();
  }

  // --- start, watch, heartbeat ------------------------------------------------------------

  async #start(): Promise<void> {
    this.#nc.subscribe(nodeSubject(this.node), { callback: (_e, m) => this.#onProbe(m) });
    this.#nc.subscribe(LOGIN_SUBJECT, { callback: (_e, m) => this.#onLogin(m) });
    this.#nc.subscribe(`${nodeSubject(this.node)}.r.*`, {
      callback: (_e, m) => this.#onRoomMessage(m),
    });
    await this.#watch();
    this.#connected = true;
    this.#track(this.#followStatus());
    this.#timer = setInterval(() => this.#beat(), this.#heartbeatMs);
    this.#log("info", `Cluster: joined as node ${this.node}`);
  }

  /**
   * Starts a watch of the whole bucket and waits until its replay is done, which is when the
   * node's own heartbeat, put after the watch started, comes through.
   */
  async #watch(): Promise<void> {
    this.#watcher?.stop();
    const watcher = await this.#kv.watch({ key: ">" });
    this.#watcher = watcher;
    const replayed = Promise.withResolvers<void>();
    let replaying = true;
    let mark = Infinity;
    let ownSeen = 0;
    const own = nodeKey(this.node);
    this.#track((async () => {
      for await (const entry of watcher) {
        if (entry.key === own) ownSeen = entry.revision;
        if (replaying && ownSeen >= mark) {
          replaying = false;
          replayed.resolve();
        }
        try {
          this.#onEntry(entry, replaying);
        } catch (error) {
          this.#log("error", `Cluster: bad bucket entry ${entry.key}: ${errorText(error)}`);
        }
      }
    })());
    mark = await this.#kv.put(own, this.#heartbeat());
    if (ownSeen >= mark) {
      replaying = false;
      replayed.resolve();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("the session bucket did not replay in time")),
        this.#timeoutMs * 2,
      );
    });
    try {
      await Promise.race([replayed.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #heartbeat(): string {
    return JSON.stringify({ node: this.node, ts: Date.now() });
  }

  #onEntry(entry: KvWatchEntry, replaying: boolean): void {
    const parsed = parseKey(entry.key);
    if (!parsed) return;
    if (parsed.kind === "node") {
      if (parsed.node === this.node) return;
      if (entry.operation === "PUT") {
        this.#nodes.set(parsed.node, { at: entry.created.getTime(), revision: entry.revision });
      } else {
        // A node that left cleanly deleted its leases first; drop whatever is left of it.
        this.#nodes.delete(parsed.node);
        this.#dropNode(parsed.node);
      }
      return;
    }
    if (entry.operation !== "PUT") {
      this.#removeRemote(entry.key);
      const mine = this.#heldByKv.get(entry.key);
      if (mine && !this.#creating.has(entry.key)) {
        // Another node took this node for dead (it was cut off) and freed the slot.
        this.#heldByKv.delete(entry.key);
        this.#held.delete(mine);
        this.#unleased.add(mine);
        if (this.#connected) this.#track(this.#restoreLeases());
      }
      return;
    }
    let lease: unknown;
    try {
      lease = entry.json();
    } catch {
      return;
    }
    if (!isLease(lease)) return;
    if (lease.node === this.node) {
      const mine = this.#heldByKv.get(entry.key);
      if (mine?.id === lease.id) return;
      if (replaying && !this.#creating.has(entry.key) && !this.#releases.has(entry.key)) {
        // Left over by this node's crashed predecessor, or a release lost in an outage.
        this.#track(this.#kv.delete(entry.key, { previousSeq: entry.revision }).catch(() => {}));
      }
      return;
    }
    const remote: RemoteLease = {
      ...lease,
      key: parsed.key,
      kvKey: entry.key,
      revision: entry.revision,
    };
    this.#removeRemote(entry.key, false);
    this.#remoteByKv.set(entry.key, remote);
    let leases = this.#remote.get(parsed.key);
    if (!leases) this.#remote.set(parsed.key, leases = new Map());
    leases.set(entry.key, remote);
    // A lease of a node never heard of counts from its own write, so a dead node's leases go.
    if (!this.#nodes.has(lease.node)) {
      this.#nodes.set(lease.node, { at: entry.created.getTime(), revision: 0 });
    }
    this.#recompute(parsed.key);
  }

  #removeRemote(kvKey: string, recompute = true): RemoteLease | undefined {
    const lease = this.#remoteByKv.get(kvKey);
    if (!lease) return undefined;
    this.#remoteByKv.delete(kvKey);
    const leases = this.#remote.get(lease.key);
    leases?.delete(kvKey);
    if (leases?.size === 0) this.#remote.delete(lease.key);
    if (recompute) this.#recompute(lease.key);
    return lease;
  }

  #dropNode(node: string): RemoteLease[] {
    const dropped = [...this.#remoteByKv.values()].filter((l) => l.node === node);
    for (const lease of dropped) this.#removeRemote(lease.kvKey);
    return dropped;
  }

  /** Every heartbeat: this node's, then a look at everyone else's. */
  #beat(): void {
    if (!this.#connected || this.#beating || this.#closing) return;
    this.#beating = true;
    const beat = this.#kv.put(nodeKey(this.node), this.#heartbeat())
      .catch((error) => this.#log("error", `Cluster: heartbeat failed: ${errorText(error)}`))
      .finally(() => (this.#beating = false));
    this.#track(beat);
    const now = Date.now();
    for (const [node, { at, revision }] of [...this.#nodes]) {
      if (now - at <= this.#leaseTtlMs) continue;
      this.#nodes.delete(node);
      const leases = this.#dropNode(node);
      this.#log(
        "info",
        `Cluster: node ${node} stopped heartbeating ${now - at} ms ago; ` +
          `${leases.length} of its sessions are offline`,
      );
      // Every node that notices deletes; the compare-and-set makes it once per lease and
      // spares a lease that meanwhile went to someone else.
      for (const lease of leases) {
        this.#track(this.#kv.delete(lease.kvKey, { previousSeq: lease.revision }).catch(() => {}));
      }
      if (revision > 0) {
        this.#track(this.#kv.delete(nodeKey(node), { previousSeq: revision }).catch(() => {}));
      }
    }
  }

  async #followStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (this.#closing) return;
      if (status.type === "disconnect") {
        if (!this.#connected) continue;
        this.#connected = false;
        this.#log("error", "Cluster: lost NATS; other nodes' users count as offline");
        for (const key of [...this.#remote.keys()]) this.#recompute(key);
      } else if (status.type === "reconnect") {
        this.#track(this.#rejoin());
      }
    }
  }

  /** After an outage: read the bucket anew, take slots again, then tell sessions to resync. */
  async #rejoin(): Promise<void> {
    for (let attempt = 0; !this.#closing && !this.#nc.isClosed(); attempt++) {
      try {
        this.#remote.clear();
        this.#remoteByKv.clear();
        this.#nodes.clear();
        await this.#watch();
        // Other nodes may have taken this node for dead meanwhile and freed its slots.
        for (const [session, held] of [...this.#held]) {
          const entry = await this.#kv.get(held.kvKey);
          if (entry?.operation === "PUT" && entry.revision === held.revision) continue;
          this.#held.delete(session);
          this.#heldByKv.delete(held.kvKey);
          this.#unleased.add(session);
        }
        this.#connected = true;
        for (const key of new Set([...this.#online.keys(), ...this.#remote.keys()])) {
          this.#recompute(key);
        }
        await this.#restoreLeases();
        this.#log("info", "Cluster: NATS is back; the view of other nodes is current");
        for (const listener of [...this.#resync]) this.#safely(listener);
        return;
      } catch (error) {
        this.#log("error", `Cluster: cannot rejoin yet: ${errorText(error)}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
  }

  /** Takes slots for local sessions that have none; one that finds none left is taken over. */
  async #restoreLeases(): Promise<void> {
    for (const session of [...this.#unleased]) {
      if (this.#closing || !this.#connected) return;
      if (!this.#byId.has(session.id)) {
        this.#unleased.delete(session);
        continue;
      }
      let held: Held | undefined;
      try {
        held = await this.#freeSlot(session);
      } catch (error) {
        this.#log("error", `Cluster: cannot restore a lease: ${errorText(error)}`);
        return;
      }
      if (!this.#unleased.has(session)) {
        if (held) this.#release(held);
        continue;
      }
      this.#unleased.delete(session);
      if (held) {
        this.#held.set(session, held);
        this.#heldByKv.set(held.kvKey, session);
      } else {
        // Logged in here while this node was cut off, and the cap is full elsewhere.
        session.notify(TAKEN_OVER);
      }
    }
  }

  // --- slots --------------------------------------------------------------------------------

  #leaseOf(session: HubSession): string {
    return JSON.stringify(
      {
        node: this.node,
        id: session.id,
        login: session.login,
        since: Date.now(),
        rooms: session.caps.has("rooms"),
      } satisfies Lease,
    );
  }

  /** Creates the first free slot of the session's account, or undefined when none is. */
  async #freeSlot(session: HubSession, signal?: AbortSignal): Promise<Held | undefined> {
    const value = this.#leaseOf(session);
    for (let slot = 0; slot < this.maxSessionsPerAccount; slot++) {
      if (signal?.aborted || this.#closing) return undefined;
      const kvKey = slotKey(session.key, slot);
      if (this.#heldByKv.has(kvKey)) continue;
      await this.#releases.get(kvKey);
      this.#creating.add(kvKey);
      try {
        return { kvKey, revision: await this.#kv.create(kvKey, value) };
      } catch (error) {
        if (!isWrongSequence(error)) throw error;
      } finally {
        this.#creating.delete(kvKey);
      }
    }
    return undefined;
  }

  /**
   * A slot for `session`: a free one, else one whose holder does not answer a probe (two
   * rounds, as in `LocalHub`: several logins may meet the same silent holder).
   */
  async #takeSlot(
    session: HubSession,
    signal: AbortSignal | undefined,
  ): Promise<Held | "full" | "aborted"> {
    for (let round = 0; round < 2; round++) {
      const held = await this.#freeSlot(session, signal);
      if (held) return held;
      if (signal?.aborted || this.#closing) return "aborted";
      const holders = await this.#holders(session.key);
      const alive = await Promise.all(holders.map((h) => this.#alive(h)));
      const silent = holders.filter((_, i) => !alive[i]);
      if (silent.length === 0 && holders.length === this.maxSessionsPerAccount) return "full";
      await Promise.allSettled(
        silent.map((h) => this.#kv.delete(h.kvKey, { previousSeq: h.revision })),
      );
    }
    return signal?.aborted || this.#closing ? "aborted" : "full";
  }

  /** The account's slots as the bucket has them now. */
  async #holders(key: string): Promise<{ kvKey: string; revision: number; lease: Lease }[]> {
    const out = [];
    for (let slot = 0; slot < this.maxSessionsPerAccount; slot++) {
      const kvKey = slotKey(key, slot);
      const entry = await this.#kv.get(kvKey);
      if (entry?.operation !== "PUT") continue;
      let lease: unknown;
      try {
        lease = entry.json();
      } catch {
        lease = undefined;
      }
      // An unreadable slot is nobody's: it is taken over.
      const readable = isLease(lease) ? lease : { node: "", id: "", login: "", since: 0 };
      out.push({ kvKey, revision: entry.revision, lease: readable });
    }
    return out;
  }

  /** Whether a slot's holder is a live session that answers its probe. */
  async #alive(holder: { kvKey: string; lease: Lease }): Promise<boolean> {
    const { lease } = holder;
    if (lease.node === this.node) {
      const session = this.#heldByKv.get(holder.kvKey);
      return session ? await session.probe().catch(() => false) : false;
    }
    if (lease.node === "") return false;
    try {
      const reply = await this.#nc.request(
        nodeSubject(lease.node),
        JSON.stringify({ id: lease.id }),
        { timeout: this.#takeoverTimeoutMs + this.#timeoutMs },
      );
      return reply.string() === "1";
    } catch {
      // No such node (crashed, its lease not yet purged) or no answer in time.
      return false;
    }
  }

  #release(held: Held): void {
    if (this.#nc.isClosed()) return;
    const release = this.#kv.delete(held.kvKey, { previousSeq: held.revision })
      .catch(() => {
        // Gone already, taken over, or NATS is down: then the replay at reconnect, or the
        // other nodes' purge, removes it.
      })
      .finally(() => {
        if (this.#releases.get(held.kvKey) === release) this.#releases.delete(held.kvKey);
      });
    this.#releases.set(held.kvKey, release);
    this.#track(release);
  }

  // --- messages between nodes -------------------------------------------------------------

  #subscribe(key: string): void {
    if (this.#subs.has(key) || this.#nc.isClosed()) return;
    const sub = this.#nc.subscribe(accountSubject(key), {
      callback: (_error, msg) => this.#onAccountMessage(key, msg),
    });
    this.#subs.set(key, sub);
  }

  #unsubscribe(key: string): void {
    const sub = this.#subs.get(key);
    if (!sub) return;
    this.#subs.delete(key);
    if (!this.#nc.isClosed()) sub.unsubscribe();
  }

  #publish(subject: string, body: unknown): void {
    try {
      this.#nc.publish(subject, encoder.encode(JSON.stringify(body)));
    } catch (error) {
      // Closed or draining: the message counts as sent to an offline node.
      this.#log("error", `Cluster: cannot publish: ${errorText(error)}`);
    }
  }

  #onAccountMessage(key: string, msg: Msg): void {
    let body: Record<string, unknown>;
    try {
      body = msg.json();
    } catch {
      return;
    }
    if (typeof body !== "object" || body === null) return;
    if (body.t === "m" && typeof body.m === "object" && body.m !== null) {
      this.#local.sendToAccount(key, new Envelope(body.m as Envelope["message"]));
    } else if (body.t === "end" && typeof body.code === "number" && typeof body.text === "string") {
      this.#local.endSessions(key, { code: body.code, text: body.text });
    }
  }

  #onRoomMessage(msg: Msg): void {
    const room = untoken(msg.subject.slice(msg.subject.lastIndexOf(".") + 1));
    let body: { k?: unknown; m?: unknown };
    try {
      body = msg.json();
    } catch {
      return;
    }
    if (room === undefined || !Array.isArray(body?.k) || typeof body.m !== "object") return;
    if (body.m === null || !body.k.every((k) => typeof k === "string")) return;
    this.#local.sendToRoom(room, body.k as string[], new Envelope(body.m as Envelope["message"]));
  }

  #onProbe(msg: Msg): void {
    let id: unknown;
    try {
      id = msg.json<{ id?: unknown }>().id;
    } catch {
      id = undefined;
    }
    const session = typeof id === "string" ? this.#byId.get(id) : undefined;
    if (!session) {
      msg.respond("0");
      return;
    }
    session.probe().catch(() => false).then((alive) => {
      if (!this.#nc.isClosed()) msg.respond(alive ? "1" : "0");
    });
  }

  #onLogin(msg: Msg): void {
    let body: { f?: unknown; a?: unknown; l?: unknown };
    try {
      body = msg.json();
    } catch {
      return;
    }
    if (typeof body?.f !== "boolean" || typeof body.a !== "string" || typeof body.l !== "string") {
      return;
    }
    const outcome = { failed: body.f, address: body.a, login: body.l };
    for (const listener of [...this.#logins]) this.#safely(() => listener(outcome));
  }

  // --- presence -----------------------------------------------------------------------------

  /** Brings `#online` in line for one account and tells presence listeners of a change. */
  #recompute(key: string): void {
    let login = this.#local.onlineLogin(key);
    if (login === undefined && this.#connected) {
      const leases = this.#remote.get(key);
      if (leases) { for (const lease of leases.values()) login ??= lease.login; }
    }
    const was = this.#online.get(key);
    if (login !== undefined) {
      if (was !== undefined) return;
      this.#online.set(key, login);
      this.#emit({ login, key, online: true });
    } else if (was !== undefined && !this.#attaching.has(key)) {
      this.#online.delete(key);
      this.#emit({ login: was, key, online: false });
    }
  }

  #emit(change: PresenceChange): void {
    for (const listener of [...this.#presence]) this.#safely(() => listener(change));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // A listener's bug must not stop routing; it surfaces as an uncaught error event.
      reportError(error);
    }
  }

  #track<T>(task: Promise<T>): void {
    const tracked = task.catch((error) => {
      this.#log("error", `Cluster: ${errorText(error)}`);
    });
    this.#tasks.add(tracked);
    tracked.finally(() => this.#tasks.delete(tracked));
  }
}

/**
 * Waits out a fresh heartbeat under this node's name: a crashed predecessor's stops within
 * the lease TTL; one that goes on beating belongs to a running node.
 */
async function claimName(kv: KV, node: string, leaseTtlMs: number, heartbeatMs: number) {
  const first = await kv.get(nodeKey(node));
  if (first?.operation !== "PUT") return;
  const age = Date.now() - first.created.getTime();
  if (age > leaseTtlMs) return;
  await new Promise((resolve) => setTimeout(resolve, leaseTtlMs - Math.max(0, age) + heartbeatMs));
  const again = await kv.get(nodeKey(node));
  if (again?.operation === "PUT" && again.revision !== first.revision) {
    throw new Error(
      `node name ${node} is in use by a running node; give each node its own --node-name`,
    );
  }
}
