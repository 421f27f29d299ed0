/**
 * The hub of a single process.
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";
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
import { PresenceWatch } from "./presence_watch.ts";

/** Options for {@linkcode LocalHub}. */
export interface LocalHubOptions {
  /** Live sessions one account may have; 1 (the seed's behaviour) by default. */
  maxSessionsPerAccount?: number;
}

const ATTACHED: AttachResult = Object.freeze({ ok: true });
const FULL: AttachResult = Object.freeze({ ok: false, reason: "full" });
const ABORTED: AttachResult = Object.freeze({ ok: false, reason: "aborted" });
const NO_SESSIONS: readonly HubSession[] = Object.freeze([]);
const NOBODY: DeliveryResult = Object.freeze({ sessions: 0, delivered: 0 });
const TAKEN: DeliveryResult = Object.freeze({ sessions: 1, delivered: 1 });
const REFUSED: DeliveryResult = Object.freeze({ sessions: 1, delivered: 0 });

/**
 * An account with several live sessions. An account with one (the usual case, and the only
 * one under a cap of 1) is kept as that session alone: no set for each of thousands.
 */
class Several {
  constructor(readonly login: string, readonly sessions: Set<HubSession>) {}
}

type Entry = HubSession | Several;

function describe(s: HubSession): HubSessionInfo {
  const info: HubSessionInfo = { id: s.id, login: s.login };
  if (s.address !== undefined) info.address = s.address;
  if (s.since !== undefined) info.since = s.since;
  if (s.caps.size > 0) info.caps = [...s.caps];
  return info;
}

function sessionsOf(entry: Entry): HubSession[] {
  return entry instanceof Several ? [...entry.sessions] : [entry];
}

/**
 * Who is online in this process: for each account, the set of its live sessions.
 *
 * @example
 * ```ts ignore
 * import { LocalHub } from "./local_hub.ts";
 * const hub = new LocalHub();
 * const off = hub.on("presence", (change) => console.log(change.login, change.online));
 * if ((await hub.attach(session)).ok) hub.sendToAccount(session.key, envelope);
 * hub.detach(session);
 * off();
 * ```
 */
export class LocalHub implements Hub {
  readonly maxSessionsPerAccount: number;
  readonly #accounts = new Map<string, Entry>();
  readonly #presence = new Set<(change: PresenceChange) => void>();
  /** One probe per session at a time, shared by every login that waits on it. */
  readonly #probes = new WeakMap<HubSession, Promise<boolean>>();
  /** Who watches whose presence, among the accounts online here. */
  readonly #watch = new PresenceWatch((key) => this.#sessionsOf(key));
  #closed = false;

  /** Creates an empty hub. */
  constructor(options: LocalHubOptions = {}) {
    const max = options.maxSessionsPerAccount ?? 1;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError("Invalid maxSessionsPerAccount: must be an integer of 1 or more");
    }
    this.maxSessionsPerAccount = max;
  }

  async attach(session: HubSession, options: AttachOptions = {}): Promise<AttachResult> {
    // Two rounds: when several logins meet a silent session at once, the first takes its
    // place and the others then meet a session that answers.
    for (let round = 0; round < 2; round++) {
      if (this.#closed || options.signal?.aborted) return ABORTED;
      const entry = this.#accounts.get(session.key);
      if (entry === session) return ATTACHED;
      if (entry === undefined) {
        this.#accounts.set(session.key, session);
        const change = { login: session.login, key: session.key, online: true };
        this.#watch.changed(change);
        if (this.#presence.size > 0) this.#emit(change);
        return ATTACHED;
      }
      if (entry instanceof Several) {
        if (entry.sessions.has(session)) return ATTACHED;
        if (entry.sessions.size < this.maxSessionsPerAccount) {
          entry.sessions.add(session);
          return ATTACHED;
        }
      } else if (this.maxSessionsPerAccount > 1) {
        this.#accounts.set(session.key, new Several(entry.login, new Set([entry, session])));
        return ATTACHED;
      }
      if (await this.#allAnswer(sessionsOf(entry))) break;
    }
    return this.#closed || options.signal?.aborted ? ABORTED : FULL;
  }

  detach(session: HubSession): void {
    const entry = this.#accounts.get(session.key);
    if (entry instanceof Several) {
      if (!entry.sessions.delete(session)) return;
      this.#watch.left(session);
      if (entry.sessions.size === 1) {
        const [last] = entry.sessions;
        this.#accounts.set(session.key, last!);
      }
      // The watch is for sessions with `presence`; the seed sessions that stay need none.
      if (session.caps.has("presence") && !this.#wantsPresence(session.key)) {
        this.#watch.unwatch(session.key);
      }
      return;
    }
    if (entry !== session) return;
    this.#accounts.delete(session.key);
    this.#watch.left(session);
    this.#watch.unwatch(session.key);
    const change = { login: entry.login, key: session.key, online: false };
    this.#watch.changed(change);
    if (this.#presence.size > 0) this.#emit(change);
  }

  sendToAccount(
    key: string,
    envelope: Envelope,
    options?: { except?: string },
  ): DeliveryResult {
    const entry = this.#accounts.get(key);
    if (entry === undefined) return NOBODY;
    const except = options?.except;
    if (!(entry instanceof Several)) {
      if (except !== undefined && entry.id === except) return NOBODY;
      return entry.deliver(envelope) ? TAKEN : REFUSED;
    }
    let sessions = 0;
    let delivered = 0;
    // A copy: a session too slow to take the message detaches while the set is walked.
    for (const session of [...entry.sessions]) {
      if (except !== undefined && session.id === except) continue;
      sessions++;
      if (session.deliver(envelope)) delivered++;
    }
    return { sessions, delivered };
  }

  sendToRoom(
    _room: string,
    memberKeys: Iterable<string>,
    envelope: Envelope,
    options?: { except?: string },
  ): DeliveryResult {
    const except = options?.except;
    let sessions = 0;
    let delivered = 0;
    for (const key of memberKeys) {
      const entry = this.#accounts.get(key);
      if (entry === undefined) continue;
      for (const session of sessionsOf(entry)) {
        if (session.id === except || !session.caps.has("rooms")) continue;
        sessions++;
        if (session.deliver(envelope)) delivered++;
      }
    }
    return { sessions, delivered };
  }

  isOnline(key: string): boolean {
    return this.#accounts.has(key);
  }

  onlineLogin(key: string): string | undefined {
    return this.#accounts.get(key)?.login;
  }

  onlineLogins(): string[] {
    return [...this.#accounts.values()].map((entry) => entry.login);
  }

  sessions(key?: string): HubSessionInfo[] {
    const entries = key === undefined
      ? [...this.#accounts.values()]
      : [this.#accounts.get(key)].filter((entry) => entry !== undefined);
    return entries.flatMap((entry) => sessionsOf(entry).map(describe));
  }

  endSession(key: string, id: string, notice: Notice): boolean {
    const entry = this.#accounts.get(key);
    if (entry === undefined) return false;
    const session = sessionsOf(entry).find((s) => s.id === id);
    if (!session) return false;
    session.notify(notice);
    return true;
  }

  watchPresence(owner: string, keys: Iterable<string>): void {
    if (this.#wantsPresence(owner)) this.#watch.watch(owner, keys);
  }

  unwatchPresence(owner: string, keys?: Iterable<string>): void {
    this.#watch.unwatch(owner, keys);
  }

  forgetPresence(key: string): void {
    this.#watch.forget(key);
  }

  /** How many online accounts here watch `key` (for tests and admin views). */
  watcherCount(key: string): number {
    return this.#watch.watcherCount(key);
  }

  /** The keys the online account `owner` watches (for tests and admin views). */
  watchedBy(owner: string): string[] {
    return this.#watch.watched(owner);
  }

  endSessions(key: string, notice: Notice): number {
    const entry = this.#accounts.get(key);
    if (entry === undefined) return 0;
    const sessions = sessionsOf(entry);
    for (const session of sessions) session.notify(notice);
    return sessions.length;
  }

  on(type: "presence", listener: (change: PresenceChange) => void): () => void;
  on(type: "resync", listener: (key?: string) => void): () => void;
  on(type: "login", listener: (outcome: LoginOutcome) => void): () => void;
  on(
    type: "presence" | "resync" | "login",
    listener:
      | ((change: PresenceChange) => void)
      | ((key?: string) => void)
      | ((o: LoginOutcome) => void),
  ): () => void {
    // One process never resyncs and hears of no other node's logins.
    if (type !== "presence") return () => {};
    const presence = listener as (change: PresenceChange) => void;
    this.#presence.add(presence);
    return () => this.#presence.delete(presence);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#accounts.clear();
    this.#presence.clear();
    this.#watch.clear();
    return Promise.resolve();
  }

  #sessionsOf(key: string): Iterable<HubSession> {
    const entry = this.#accounts.get(key);
    if (entry === undefined) return NO_SESSIONS;
    return entry instanceof Several ? entry.sessions : [entry];
  }

  /** Whether the account `key` has a live session with `presence`. */
  #wantsPresence(key: string): boolean {
    for (const s of this.#sessionsOf(key)) if (s.caps.has("presence")) return true;
    return false;
  }

  /** Closes the hub, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Probes `sessions`; true when every one answers, false as soon as one does not. */
  #allAnswer(sessions: HubSession[]): Promise<boolean> {
    return new Promise((resolve) => {
      let waiting = sessions.length;
      if (waiting === 0) resolve(true);
      for (const session of sessions) {
        this.#probe(session).then((alive) => {
          if (!alive) resolve(false);
          else if (--waiting === 0) resolve(true);
        });
      }
    });
  }

  #probe(session: HubSession): Promise<boolean> {
    let probe = this.#probes.get(session);
    if (!probe) {
      probe = session.probe().catch(() => false);
      this.#probes.set(session, probe);
      // A later login that meets this session probes it afresh.
      probe.then(() => this.#probes.delete(session));
    }
    return probe;
  }

  #emit(change: PresenceChange): void {
    for (const listener of [...this.#presence]) {
      try {
        listener(change);
      } catch (error) {
        // A listener's bug must not stop routing; it surfaces as an uncaught error event.
        reportError(error);
      }
    }
  }
}
