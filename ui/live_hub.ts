/**
 * A bounded hub that fans events out to browsers over Server-Sent Events.
 *
 * - Recent events sit in a ring buffer with increasing ids (`<epoch>-<n>`), so a browser that
 *   reconnects with `Last-Event-ID` catches up on what it missed. A fresh page gets the buffer
 *   replayed after a `ready` event.
 * - An id the hub cannot continue from (too old, or from an earlier run of the GUI) gets a
 *   `reset` event, then the buffer: the page should refetch its state.
 * - Each stream has a bounded queue. A stream that falls behind loses events and, once it
 *   drains, gets a `missed` event with the count.
 * - A comment line every `keepaliveMs` keeps proxies and the browser from timing out.
 *
 * Data events carry the default SSE type ("message") with JSON `{ topic, data }`.
 *
 * @module
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { BoundedQueue } from "../common/bounded_queue.ts";

/** One published event. */
export interface LiveEvent<T = unknown> {
  /** `<epoch>-<n>`; n increases by one per event. */
  id: string;
  /** What kind of event, e.g. "server-event" or "clients". */
  topic: string;
  data: T;
}

/** Options for {@linkcode LiveHub}. */
export interface LiveHubOptions {
  /** Events kept for catch-up (500 by default). */
  capacity?: number;
  /** Events queued per stream before it starts missing them (256 by default). */
  queueSize?: number;
  /** Milliseconds between keepalive comments (15,000 by default). */
  keepaliveMs?: number;
  /** Reconnection delay the browser is told to use, in ms (1,000 by default). */
  retryMs?: number;
}

/**
 * Fans events out to SSE streams with catch-up and bounded queues.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const hub = new LiveHub();
 * const app = new Hono();
 * app.get("/api/events", (c) => hub.stream(c));
 * hub.publish("clients", { changed: "alice" });
 * ```
 */
export class LiveHub<T = unknown> {
  readonly #capacity: number;
  readonly #queueSize: number;
  readonly #keepaliveMs: number;
  readonly #retryMs: number;
  readonly #epoch: string;
  readonly #buffer: LiveEvent<T>[] = [];
  readonly #streams = new Set<BoundedQueue<LiveEvent<T>>>();
  #seq = 0;
  #closed = false;

  constructor(options: LiveHubOptions = {}) {
    this.#capacity = Math.max(1, options.capacity ?? 500);
    this.#queueSize = Math.max(1, options.queueSize ?? 256);
    this.#keepaliveMs = Math.max(1, options.keepaliveMs ?? 15_000);
    this.#retryMs = Math.max(1, Math.trunc(options.retryMs ?? 1_000));
    // A new epoch per hub tells a browser reconnecting to a restarted GUI that its ids are void.
    this.#epoch = Date.now().toString(36) + crypto.getRandomValues(new Uint8Array(2)).join("");
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** The id of the newest event, or `<epoch>-0` before any. */
  get lastId(): string {
    return `${this.#epoch}-${this.#seq}`;
  }

  /** Events still in the ring buffer, oldest first. */
  recent(): readonly LiveEvent<T>[] {
    return [...this.#buffer];
  }

  /** Publishes an event to every open stream and the catch-up buffer. */
  publish(topic: string, data: T): LiveEvent<T> {
    const event: LiveEvent<T> = { id: `${this.#epoch}-${++this.#seq}`, topic, data };
    if (this.#closed) return event;
    this.#buffer.push(event);
    if (this.#buffer.length > this.#capacity) this.#buffer.shift();
    for (const q of this.#streams) q.push(event);
    return event;
  }

  /** Events after `lastEventId`, or `null` when the hub cannot continue from that id. */
  #since(lastEventId: string): LiveEvent<T>[] | null {
    const m = /^([a-z0-9]+)-(\d+)$/.exec(lastEventId);
    if (!m || m[1] !== this.#epoch) return null;
    const n = Number(m[2]);
    if (n > this.#seq) return null;
    const oldest = this.#seq - this.#buffer.length + 1;
    if (n < oldest - 1) return null;
    return this.#buffer.slice(n - oldest + 1);
  }

  /**
   * Answers an SSE request. Honors `Last-Event-ID` (or a `lastEventId` query parameter, for a
   * client that had to open a new EventSource) for catch-up, and ends when the client goes
   * away or the hub closes.
   */
  stream(c: Context): Response {
    // Drop-newest: the stream reports its loss with a `missed` event, and the page refetches.
    const queue = new BoundedQueue<LiveEvent<T>>(this.#queueSize, { overflow: "drop-newest" });
    if (this.#closed) queue.end();
    const lastEventId = c.req.header("last-event-id") || c.req.query("lastEventId");
    const catchUp = lastEventId ? this.#since(lastEventId) : null;
    const backlog = catchUp ?? [...this.#buffer];
    const opening = catchUp !== null
      ? null
      : lastEventId
      ? { event: "reset", data: JSON.stringify({ reason: "Cannot resume: events were missed" }) }
      : { event: "ready", data: JSON.stringify({}) };
    // Registered before the response starts so nothing published in between is lost.
    this.#streams.add(queue);
    return streamSSE(c, async (sse) => {
      sse.onAbort(() => queue.end());
      try {
        await sse.write(`retry: ${this.#retryMs}\n\n`);
        if (opening) await sse.writeSSE(opening);
        for (const event of backlog) await sse.writeSSE(this.#frame(event));
        while (!sse.aborted) {
          const why = await queue.wait(this.#keepaliveMs);
          if (why === "timeout") {
            if (sse.aborted) break;
            await sse.write(": keepalive\n\n");
            continue;
          }
          // An ended stream stops at once; the browser catches up by its last event id.
          if (queue.ended || sse.aborted) break;
          for (const event of queue.drain()) {
            if (sse.aborted) break;
            await sse.writeSSE(this.#frame(event));
          }
          const count = queue.takeMissed();
          if (count > 0) {
            await sse.writeSSE({ event: "missed", data: JSON.stringify({ count }) });
          }
        }
      } finally {
        queue.end();
        this.#streams.delete(queue);
      }
    });
  }

  #frame(event: LiveEvent<T>) {
    return { id: event.id, data: JSON.stringify({ topic: event.topic, data: event.data }) };
  }

  /**
   * Ends the open streams but stays open: browsers reconnect and catch up from their last
   * event id. Useful after revoking a session, and to test reconnection.
   */
  disconnectAll(): void {
    for (const q of this.#streams) q.end();
  }

  /** Ends every stream; later publishes are ignored. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const q of this.#streams) q.end();
  }
}
