/**
 * Who watches whose presence, for the accounts online here, and the coalesced pushes that
 * follow from it. A hub owns one and tells it of each presence change; {@linkcode LocalHub}
 * for its own sessions, the cluster's hub also for changes heard from other nodes.
 *
 * The cost of a change is O(watchers): the watched account's entry names the accounts that
 * have it as a contact and are online here, and only their sessions that asked for presence
 * (the `presence` capability) get anything. Pushes wait for the end of the tick: a watcher
 * gets at most one frame per contact per tick, with the final state, and nothing for a flap
 * that ends where it started.
 *
 * @module
 */
import { Envelope } from "./envelope.ts";
import type { HubSession, PresenceChange } from "./hub.ts";

/** What the watch needs of its hub: the live sessions of an account. */
export type SessionsOf = (key: string) => Iterable<HubSession>;

/** A push waiting for the end of the tick. */
interface Pending {
  login: string;
  online: boolean;
  /** What the watcher last heard (or would have): a flap back to it sends nothing. */
  initial: boolean;
}

/**
 * The reverse of the contact lists of online accounts, and the pushes of one tick.
 *
 * @example
 * ```ts ignore
 * import { PresenceWatch } from "./presence_watch.ts";
 * const watch = new PresenceWatch((key) => sessionsOfAccount(key));
 * watch.watch("alice", ["bob", "carol"]); // alice's contacts, loaded when she logged in
 * watch.changed({ login: "Bob", key: "bob", online: true }); // alice's presence sessions hear it
 * watch.drop("alice"); // her last session left
 * ```
 */
export class PresenceWatch {
  readonly #sessionsOf: SessionsOf;
  /** Owner key -> keys of the accounts it watches. */
  readonly #watching = new Map<string, Set<string>>();
  /** Watched key -> keys of the owners watching it. */
  readonly #watchers = new Map<string, Set<string>>();
  readonly #pending = new Map<HubSession, Map<string, Pending>>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** A watch whose pushes go to the sessions `sessionsOf` names. */
  constructor(sessionsOf: SessionsOf) {
    this.#sessionsOf = sessionsOf;
  }

  /** How many accounts watch `key`. */
  watcherCount(key: string): number {
    return this.#watchers.get(key)?.size ?? 0;
  }

  /** The keys `owner` watches. */
  watched(owner: string): string[] {
    return [...this.#watching.get(owner) ?? []];
  }

  /** `owner` watches `keys` too (a union with what it watched). */
  watch(owner: string, keys: Iterable<string>): void {
    let watching = this.#watching.get(owner);
    for (const key of keys) {
      if (key === owner) continue; // One's own sessions are not news to oneself.
      if (!watching) this.#watching.set(owner, watching = new Set());
      watching.add(key);
      let watchers = this.#watchers.get(key);
      if (!watchers) this.#watchers.set(key, watchers = new Set());
      watchers.add(owner);
    }
  }

  /** `owner` stops watching `keys`, or everything. */
  unwatch(owner: string, keys?: Iterable<string>): void {
    const watching = this.#watching.get(owner);
    if (!watching) return;
    for (const key of keys ?? [...watching]) {
      if (!watching.delete(key)) continue;
      const watchers = this.#watchers.get(key);
      watchers?.delete(owner);
      if (watchers?.size === 0) this.#watchers.delete(key);
    }
    if (watching.size === 0) this.#watching.delete(owner);
  }

  /**
   * `key` is gone for good (the account was removed): it watches nothing, and nobody
   * watches it any more, so a new account of the same name is nobody's contact.
   */
  forget(key: string): void {
    this.unwatch(key);
    const watchers = this.#watchers.get(key);
    if (!watchers) return;
    this.#watchers.delete(key);
    for (const owner of watchers) {
      const watching = this.#watching.get(owner);
      watching?.delete(key);
      if (watching?.size === 0) this.#watching.delete(owner);
    }
  }

  /** A session left: what was waiting for it is dropped. */
  left(session: HubSession): void {
    this.#pending.delete(session);
  }

  /**
   * An account came online or went offline: each session with `presence` of each account
   * watching it hears so at the end of the tick.
   */
  changed(change: PresenceChange): void {
    const watchers = this.#watchers.get(change.key);
    if (!watchers) return;
    for (const owner of watchers) {
      for (const session of this.#sessionsOf(owner)) {
        if (!session.caps.has("presence")) continue;
        let queue = this.#pending.get(session);
        if (!queue) this.#pending.set(session, queue = new Map());
        const waiting = queue.get(change.key);
        if (waiting) {
          waiting.online = change.online;
          waiting.login = change.login;
        } else {
          queue.set(change.key, {
            login: change.login,
            online: change.online,
            initial: !change.online,
          });
        }
      }
    }
    if (this.#pending.size > 0) this.#timer ??= setTimeout(() => this.flush(), 0);
  }

  /** Sends what waits now instead of at the end of the tick. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const pending = [...this.#pending];
    this.#pending.clear();
    // One envelope per account and state: encoded once however many watchers get it.
    const envelopes = new Map<string, Envelope>();
    const time = Math.floor(Date.now() / 1000);
    for (const [session, queue] of pending) {
      for (const [key, push] of queue) {
        if (push.online === push.initial) continue;
        const id = `${push.online ? "+" : "-"}${key}`;
        let envelope = envelopes.get(id);
        if (!envelope) {
          envelope = new Envelope({
            action: "presence",
            time,
            type: "status",
            user: { account_name: push.login, status: push.online ? "online" : "offline" },
          });
          envelopes.set(id, envelope);
        }
        // False: too slow; it closes itself, and the rest of its queue is moot.
        if (!session.deliver(envelope)) break;
      }
    }
  }

  /** Drops everything and the timer. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
    this.#watching.clear();
    this.#watchers.clear();
  }
}
