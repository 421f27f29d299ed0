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

/** Options for {@linkcode LocalHub}. */
export interface LocalHubOptions {
  /** Live sessions one account may have; 1 (the seed's behaviour) by default. */
  maxSessionsPerAccount?: number;
}

const ATTACHED: AttachResult = Object.freeze({ ok: true });
const FULL: AttachResult = Object.freeze({ ok: false, reason: "full" });
const ABORTED: AttachResult = Object.freeze({ ok: false, reason: "aborted" });
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
        if (this.#presence.size > 0) {
          this.#emit({ login: session.login, key: session.key, online: true });
        }
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
      if (entry.sessions.size === 1) {
        const [last] = entry.sessions;
        this.#accounts.set(session.key, last!);
      }
      return;
    }
    if (entry !== session) return;
    this.#accounts.delete(session.key);
    if (this.#presence.size > 0) {
      this.#emit({ login: entry.login, key: session.key, online: false });
    }
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
    return entries.flatMap((entry) => sessionsOf(entry).map((s) => ({ id: s.id, login: s.login })));
  }

  endSessions(key: string, notice: Notice): number {
    const entry = this.#accounts.get(key);
    if (entry === undefined) return 0;
    const sessions = sessionsOf(entry);
    for (const session of sessions) session.notify(notice);
    return sessions.length;
  }

  on(type: "presence", listener: (change: PresenceChange) => void): () => void;
  on(type: "resync", listener: () => void): () => void;
  on(type: "login", listener: (outcome: LoginOutcome) => void): () => void;
  on(
    type: "presence" | "resync" | "login",
    listener: ((change: PresenceChange) => void) | (() => void) | ((o: LoginOutcome) => void),
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
    return Promise.resolve();
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
