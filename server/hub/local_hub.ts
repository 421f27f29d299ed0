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

/** An online account: its login as the first session gave it, and its live sessions. */
interface Account {
  login: string;
  sessions: Set<HubSession>;
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
  readonly #accounts = new Map<string, Account>();
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
      const account = this.#accounts.get(session.key);
      if (account?.sessions.has(session)) return ATTACHED;
      if (!account || account.sessions.size < this.maxSessionsPerAccount) {
        this.#add(session, account);
        return ATTACHED;
      }
      if (await this.#allAnswer([...account.sessions])) break;
    }
    return this.#closed || options.signal?.aborted ? ABORTED : FULL;
  }

  detach(session: HubSession): void {
    const account = this.#accounts.get(session.key);
    if (!account?.sessions.delete(session)) return;
    if (account.sessions.size > 0) return;
    this.#accounts.delete(session.key);
    if (this.#presence.size > 0) {
      this.#emit({ login: account.login, key: session.key, online: false });
    }
  }

  sendToAccount(
    key: string,
    envelope: Envelope,
    options?: { except?: string },
  ): DeliveryResult {
    const account = this.#accounts.get(key);
    if (!account) return NOBODY;
    const except = options?.except;
    let sessions = 0;
    let delivered = 0;
    // A copy only when there are several: a session too slow to take the message detaches
    // while the set is being walked.
    const targets = account.sessions.size === 1 ? account.sessions : [...account.sessions];
    for (const session of targets) {
      if (session.id === except) continue;
      sessions++;
      if (session.deliver(envelope)) delivered++;
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
    return [...this.#accounts.values()].map((account) => account.login);
  }

  sessions(key?: string): HubSessionInfo[] {
    const accounts = key === undefined
      ? [...this.#accounts.values()]
      : [this.#accounts.get(key)].filter((a) => a !== undefined);
    return accounts.flatMap((account) =>
      [...account.sessions].map((s) => ({ id: s.id, login: s.login }))
    );
  }

  endSessions(key: string, notice: Notice): number {
    const account = this.#accounts.get(key);
    if (!account) return 0;
    const sessions = [...account.sessions];
    for (const session of sessions) session.notify(notice);
    return sessions.length;
  }

  on(_type: "presence", listener: (change: PresenceChange) => void): () => void {
    this.#presence.add(listener);
    return () => this.#presence.delete(listener);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#accounts.clear();
    this.#presence.clear();
    return Promise.resolve();
  }

  #add(session: HubSession, account: Account | undefined): void {
    if (account) {
      account.sessions.add(session);
      return;
    }
    this.#accounts.set(session.key, { login: session.login, sessions: new Set([session]) });
    if (this.#presence.size > 0) {
      this.#emit({ login: session.login, key: session.key, online: true });
    }
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
