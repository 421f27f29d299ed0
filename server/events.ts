/**
 * The server's event feed: connections, logins, requests, responses, pushes, errors, start
 * and stop, published to any number of subscribers.
 *
 * Routing never waits on a subscriber: each subscription has a bounded queue, and a full
 * queue drops the event and counts it in `missed`. The server asks {@linkcode EventFeed.wants}
 * before building an event, so a type nobody subscribed to costs one map lookup.
 *
 * @module
 */
import { BoundedQueue } from "../common/bounded_queue.ts";

/** Every kind of event. */
export type ServerEventType =
  | "start"
  | "stop"
  | "connect"
  | "disconnect"
  | "login"
  | "request"
  | "response"
  | "push"
  | "error"
  /** A cluster node joined, lost or regained NATS, or saw another node crash (issue 14). */
  | "cluster";

/** All event types, in a stable order. */
export const EVENT_TYPES: readonly ServerEventType[] = [
  "start",
  "stop",
  "connect",
  "disconnect",
  "login",
  "request",
  "response",
  "push",
  "error",
  "cluster",
];

/** The connection an event concerns. */
export interface ConnInfo {
  /** The connection's number, counting from 1 per server. */
  id: number;
  /** The peer's address. */
  ip: string;
  /** The peer's port. */
  port: number;
  /** The login, once authenticated. */
  user?: string;
}

/** One published event. Payloads are redacted copies: no secrets ever appear. */
export interface ServerEvent {
  /** Increases by one per published event of this feed. */
  seq: number;
  /** Unix milliseconds. */
  time: number;
  /** What happened. */
  type: ServerEventType;
  /** The connection concerned, if any. */
  conn?: ConnInfo;
  /** The request or response, redacted. */
  payload?: unknown;
  /** A readable line, e.g. "Logged in". */
  message?: string;
}

/** What a publisher passes; the feed adds `seq`, `time` and redaction. */
export interface EventInit {
  /** The connection concerned, if any. */
  conn?: ConnInfo;
  /** The request or response; redacted before anyone sees it. */
  payload?: unknown;
  /** A readable line. */
  message?: string;
}

/** Options for {@linkcode EventFeed.subscribe}. */
export interface SubscribeOptions {
  /** Events held for a slow reader before new ones are dropped; 1024 by default. */
  bufferSize?: number;
  /** Only these types; all by default. */
  types?: Iterable<ServerEventType>;
  /** Unsubscribes when aborted. */
  signal?: AbortSignal;
}

const SECRET_KEYS = new Set([
  "password",
  "passwd",
  "token",
  "data",
  "proof",
  "digest",
  "secret",
  "salt",
  "stored_key",
  "server_key",
  "legacy_hash",
]);
/** The text that stands in for a secret. */
export const REDACTED = "[redacted]";
const MAX_DEPTH = 6;

/**
 * A deep copy of `value` with every secret-bearing field replaced by `"[redacted]"`:
 * passwords, digests, tokens, SCRAM data and proofs, salts and keys.
 *
 * @example
 * ```ts
 * import { redact } from "./events.ts";
 * redact({ action: "authenticate", user: { account_name: "a", password: "d1g" } });
 * // { action: "authenticate", user: { account_name: "a", password: "[redacted]" } }
 * ```
 */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Uint8Array) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // defineProperty, not assignment: a client's "__proto__" key must stay a plain field.
    Object.defineProperty(out, key, {
      value: SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : redact(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * One subscriber's bounded view of the feed. Iterate it with `for await`; `missed` tells how
 * many events were dropped because the reader fell behind.
 */
export class Subscription implements AsyncIterable<ServerEvent> {
  readonly #feed: EventFeed;
  // Drop-newest: a log that fell behind keeps what happened first and says how much it lost.
  readonly #queue: BoundedQueue<ServerEvent>;
  /** The event types this subscription receives. */
  readonly types: ReadonlySet<ServerEventType>;
  #onAbort: (() => void) | undefined;
  #signal: AbortSignal | undefined;

  /** @internal Use {@linkcode EventFeed.subscribe}. */
  constructor(feed: EventFeed, options: SubscribeOptions) {
    this.#feed = feed;
    this.#queue = new BoundedQueue(Math.max(1, Math.trunc(options.bufferSize ?? 1024)), {
      overflow: "drop-newest",
    });
    this.types = new Set(options.types ?? EVENT_TYPES);
    if (options.signal) {
      this.#signal = options.signal;
      this.#onAbort = () => this.unsubscribe();
      options.signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Events dropped so far because the queue was full. */
  get missed(): number {
    return this.#queue.missed;
  }

  /** Events waiting to be read. */
  get size(): number {
    return this.#queue.size;
  }

  /** Whether the subscription has ended. */
  get closed(): boolean {
    return this.#queue.ended;
  }

  /** @internal Called by the feed. Never blocks. */
  push(event: ServerEvent): void {
    this.#queue.push(event);
  }

  /** Takes the next queued event without waiting, or undefined. */
  poll(): ServerEvent | undefined {
    return this.#queue.poll();
  }

  /** Waits for the next event; undefined once unsubscribed and drained. */
  async next(): Promise<ServerEvent | undefined> {
    const result = await this.#queue.next();
    return result.done ? undefined : result.value;
  }

  /** Ends the subscription; queued events can still be read. Idempotent. */
  unsubscribe(): void {
    if (this.#queue.ended) return;
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#feed._remove(this);
    this.#queue.end();
  }

  /** Unsubscribes, for `using`. */
  [Symbol.dispose](): void {
    this.unsubscribe();
  }

  /** The events as they come; ends on unsubscribe. */
  async *[Symbol.asyncIterator](): AsyncIterator<ServerEvent> {
    try {
      for (;;) {
        const event = await this.next();
        if (!event) return;
        yield event;
      }
    } finally {
      this.unsubscribe();
    }
  }
}

/**
 * Fans server events out to subscribers. One feed may outlive several servers (a GUI that
 * stops and starts the server keeps its subscription).
 *
 * @example
 * ```ts
 * import { EventFeed } from "./events.ts";
 * const feed = new EventFeed();
 * using sub = feed.subscribe({ types: ["login"], bufferSize: 100 });
 * feed.publish("login", { message: "alice logged in" });
 * console.log(sub.poll()?.message); // "alice logged in"
 * ```
 */
export class EventFeed {
  #subs = new Set<Subscription>();
  #wanted = new Map<ServerEventType, number>();
  #seq = 0;

  /** Whether anyone subscribed to `type`; publishers check it before building an event. */
  wants(type: ServerEventType): boolean {
    return this.#wanted.has(type);
  }

  /** Number of live subscriptions. */
  get subscriberCount(): number {
    return this.#subs.size;
  }

  /** Starts a bounded subscription. */
  subscribe(options: SubscribeOptions = {}): Subscription {
    const sub = new Subscription(this, options);
    if (options.signal?.aborted) {
      sub.unsubscribe();
      return sub;
    }
    this.#subs.add(sub);
    for (const type of sub.types) this.#wanted.set(type, (this.#wanted.get(type) ?? 0) + 1);
    return sub;
  }

  /** Publishes an event to every subscriber of its type; payloads are redacted here. */
  publish(type: ServerEventType, init: EventInit = {}): void {
    if (!this.#wanted.has(type)) return;
    const event: ServerEvent = { seq: ++this.#seq, time: Date.now(), type };
    if (init.conn) event.conn = { ...init.conn };
    if (init.payload !== undefined) event.payload = redact(init.payload);
    if (init.message !== undefined) event.message = init.message;
    for (const sub of this.#subs) {
      if (sub.types.has(type)) sub.push(event);
    }
  }

  /** @internal Called by {@linkcode Subscription.unsubscribe}. */
  _remove(sub: Subscription): void {
    if (!this.#subs.delete(sub)) return;
    for (const type of sub.types) {
      const n = (this.#wanted.get(type) ?? 1) - 1;
      if (n <= 0) this.#wanted.delete(type);
      else this.#wanted.set(type, n);
    }
  }
}
