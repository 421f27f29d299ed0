/**
 * One client connection's bytes: the read loop and framing, the inbound backlog with the rate
 * limit, the bounded outbound queue with coalesced writes and backpressure, and the orderly
 * end (flush, half-close, linger) or the abrupt close. It knows frames, not requests: what a
 * frame means is its owner's business ({@linkcode ConnectionOwner}, the session).
 *
 * An idle connection is kept small, because a server holds thousands: it owns no timer, no
 * suspended async function and no closure of its own; its one pending read holds a 512-byte
 * buffer, and its queues hold nothing until there is something to queue.
 *
 * @module
 */
import { FrameDecoder, FrameError, Status } from "../protocol/mod.ts";
import type { Clock } from "./clock.ts";
import type { ServerLimits } from "./limits.ts";
import { TokenBucket } from "./_rate_limiter.ts";

/** Read buffer of an idle connection, in bytes. */
const IDLE_READ_BUFFER = 512;
/** Largest single write: queued frames are coalesced up to this size. */
const MAX_WRITE = 64 * 1024;

/** What a connection tells its owner. Called synchronously, never concurrently. */
export interface ConnectionOwner {
  /**
   * A complete JSON object arrived (in order, after the rate limit). A returned promise holds
   * the next frame back until it settles; a rejection is a bug that closes the connection.
   */
  onFrame(value: Record<string, unknown>): Promise<void> | void;
  /**
   * A frame that cannot be used: a balanced object that is not JSON (`error.fatal` false: the
   * stream goes on), or a stream that cannot go on (fatal: the connection ends after this).
   */
  onBadFrame(error: FrameError): void;
  /** Bytes arrived, e.g. an answer to a probe. */
  onActivity(): void;
  /** The connection stopped taking frames and is flushing its last writes. */
  onEnding(reason: string): void;
  /** The connection is closed; nothing more will happen. */
  onClosed(reason: string): void;
  /** An unexpected failure in the owner's code, after which the connection closes. */
  onCrash(error: unknown): void;
}

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly limits: ServerLimits;
  readonly clock: Clock;
}

type State = "open" | "ending" | "closed";
type Inbound = Record<string, unknown> | FrameError;

/** The inbox of a connection with nothing waiting: shared, replaced on the first push. */
const NOTHING_WAITING: readonly Inbound[] = Object.freeze([]);

/**
 * Connections with frames queued in this task: one microtask writes them all, so frames that
 * are ready together (the replies to every request of one read, a fan-out) share one write.
 */
let toFlush: Connection[] = [];

function flushAll(): void {
  const connections = toFlush;
  toFlush = [];
  for (const connection of connections) connection._startWrite();
}

/** A client connection. Created and driven by its session. */
export class Connection {
  /** When the connection was accepted, Unix ms. */
  readonly connectedAt: number;
  /** Last time any bytes arrived, Unix ms. */
  lastActivity: number;

  readonly #conn: Deno.Conn;
  readonly #ctx: ConnectionContext;
  readonly #owner: ConnectionOwner;
  readonly #decoder: FrameDecoder;
  readonly #bucket: TokenBucket | undefined;
  #buffer: Uint8Array;
  #state: State = "open";
  #reason = "";
  #eof = false;
  /** After a fatal frame or a backlog overflow: input is read and dropped. */
  #discard = false;
  /** The owner is handling a frame that returned a promise, or the rate limit holds. */
  #busy = false;
  #lingerOnEnd = true;
  #inbox = NOTHING_WAITING as Inbound[];
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waiting for the event loop to turn before counting the backlog (see #accept). */
  #backlog:
    | { timer: ReturnType<typeof setTimeout>; turned: PromiseWithResolvers<void> }
    | undefined;

  /** The first frame waiting to be written, and the ones after it. */
  #head: Uint8Array | undefined;
  #rest: Uint8Array[] | undefined;
  #outBytes = 0;
  /** A write is in flight, or scheduled for the end of this task. */
  #writing = false;
  /** The bytes of the write in flight, and how many of them are written. */
  #chunk: Uint8Array | undefined;
  #written = 0;
  #drainWaiters: { below: number; resolve: () => void }[] | undefined;

  /** Reads, writes, half-closes and owner steps in flight: done() waits for them. */
  #pending = 0;
  #doneWaiters: (() => void)[] | undefined;

  constructor(conn: Deno.Conn, ctx: ConnectionContext, owner: ConnectionOwner) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#owner = owner;
    this.connectedAt = this.lastActivity = ctx.clock.now();
    const limits = ctx.limits;
    this.#decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    this.#bucket = limits.rateLimit > 0
      ? new TokenBucket(limits.rateLimit, limits.rateBurst, () => ctx.clock.now())
      : undefined;
    this.#buffer = new Uint8Array(Math.min(IDLE_READ_BUFFER, limits.readBufferBytes));
  }

  /** The peer's address (read from the connection, which keeps it anyway). */
  get ip(): string {
    return (this.#conn.remoteAddr as Deno.NetAddr).hostname;
  }

  /** The peer's port. */
  get port(): number {
    return (this.#conn.remoteAddr as Deno.NetAddr).port;
  }

  /** Whether the connection still takes frames. */
  get open(): boolean {
    return this.#state === "open";
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Why the connection is ending or closed; empty while open. */
  get reason(): string {
    return this.#reason;
  }

  /** Frames received and not yet handled. */
  get pendingFrames(): number {
    return this.#inbox.length;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#outBytes;
  }

  /** Starts reading. */
  start(): void {
    this.#read();
  }

  /** Resolves once the connection has closed and nothing of it is in flight any more. */
  done(): Promise<void> {
    if (this.#state === "closed" && this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#doneWaiters ??= []).push(resolve));
  }

  /**
   * Queues a frame. False when it does not fit in the outbound bound: the client is too slow,
   * and the connection has closed.
   */
  send(frame: Uint8Array): boolean {
    if (this.#state === "closed") return false;
    const max = this.#ctx.limits.maxOutboundBytes;
    if (this.#outBytes + frame.length > max) {
      this.close(`Slow consumer: more than ${max} bytes queued`);
      return false;
    }
    if (this.#head === undefined) this.#head = frame;
    else (this.#rest ??= []).push(frame);
    this.#outBytes += frame.length;
    if (!this.#writing) {
      this.#writing = true;
      if (toFlush.push(this) === 1) queueMicrotask(flushAll);
    }
    return true;
  }

  /**
   * Resolves once at most `below` bytes are queued, or the connection has closed: for
   * streaming a long list without filling the outbound bound.
   */
  drain(below: number): Promise<void> {
    if (this.#outBytes <= below || this.#state === "closed") return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    (this.#drainWaiters ??= []).push({ below, resolve });
    return promise;
  }

  /**
   * Ends the connection after the queued frames are written: no more frames are handled,
   * the queue is flushed, the write side is half-closed, and the peer's EOF is awaited for at
   * most `lingerMs`. Closing with unread input would make the kernel send a reset, which can
   * destroy the last reply before the peer reads it. With `linger: false` it closes as soon
   * as the queue is written.
   */
  end(reason: string, options: { linger?: boolean } = {}): void {
    if (this.#state !== "open") return;
    this.#state = "ending";
    this.#reason = reason;
    if (options.linger === false) this.#lingerOnEnd = false;
    this.#inbox = NOTHING_WAITING as Inbound[];
    clearTimeout(this.#rateTimer);
    this.#endBacklogWait();
    this.#owner.onEnding(reason);
    if (this.#state !== "ending") return;
    this.#lingerTimer = setTimeout(() => this.close(reason), this.#ctx.limits.lingerMs);
    if (!this.#writing) this.#afterFlush();
  }

  /** Closes at once, dropping what is queued. Idempotent. */
  close(reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#reason ||= reason;
    clearTimeout(this.#rateTimer);
    clearTimeout(this.#lingerTimer);
    this.#endBacklogWait();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset; nothing left to release.
    }
    this.#head = undefined;
    this.#rest = undefined;
    this.#outBytes = 0;
    this.#wakeDrained();
    this.#inbox = NOTHING_WAITING as Inbound[];
    this.#owner.onClosed(reason);
    this.#settle();
  }

  // --- reading -------------------------------------------------------------------------

  #read(): void {
    this.#pending++;
    // One callback for both outcomes: an idle connection's pending read holds one closure.
    const settled = (result: unknown) => this.#onRead(result);
    this.#conn.read(this.#buffer).then(settled, settled);
  }

  #onRead(result: unknown): void {
    this.#pending--;
    if (result !== null && typeof result !== "number") return this.#onReadFailed(result);
    const n = result;
    if (this.#state === "closed") return this.#settle();
    if (n === null) {
      this.#onEof();
      return this.#settle();
    }
    try {
      this.#onData(this.#buffer.subarray(0, n));
    } catch (error) {
      this.#crashed(error);
      return this.#settle();
    }
    // The frames may have closed it (a slow consumer, a crash).
    if (this.closed) return this.#settle();
    // A pending read pins its buffer, so an idle connection holds a small one; a read that
    // fills it switches to the full-size buffer until traffic calms down again.
    const size = this.#buffer.length;
    const small = Math.min(IDLE_READ_BUFFER, this.#ctx.limits.readBufferBytes);
    if (n === size && size < this.#ctx.limits.readBufferBytes) {
      this.#buffer = new Uint8Array(this.#ctx.limits.readBufferBytes);
    } else if (n < small && size > small) {
      this.#buffer = new Uint8Array(small);
    }
    if (this.#backlog) {
      // Read on once the event loop has turned and the backlog has been counted.
      this.#pending++;
      this.#backlog.turned.promise.then(() => {
        this.#pending--;
        if (this.#state === "closed") return this.#settle();
        this.#read();
      });
      return;
    }
    this.#read();
  }

  #onReadFailed(error: unknown): void {
    // A peer vanishing is ordinary; the reason goes with the disconnect event.
    this.close(`Connection lost: ${error instanceof Error ? error.message : String(error)}`);
    this.#settle();
  }

  #onData(chunk: Uint8Array): void {
    this.lastActivity = this.#ctx.clock.now();
    if (this.#discard || this.#state !== "open") return;
    this.#owner.onActivity();
    let frames;
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#discard = true;
      this.#accept(error as FrameError);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      if (this.#discard || this.#state !== "open") break;
      const frame = frames[i]!;
      this.#accept(frame.ok ? frame.value : frame.error);
    }
  }

  #onEof(): void {
    this.#eof = true;
    if (this.#state === "ending") {
      if (!this.#writing) this.close(this.#reason);
    } else if (this.#state === "open" && !this.#busy && this.#inbox.length === 0) {
      this.end("Client disconnected");
    }
  }

  #accept(item: Inbound): void {
    if (!this.#busy && this.#inbox.length === 0 && (this.#bucket?.take() ?? 0) === 0) {
      // Nothing waits before it: handle it now, without queueing.
      this.#run(item);
      return;
    }
    if (this.#inbox === NOTHING_WAITING) this.#inbox = [];
    this.#inbox.push(item);
    if (!this.#busy) this.#pump();
    const max = this.#ctx.limits.maxBacklog;
    if (this.#inbox.length <= max) return;
    if (this.#rateTimer !== undefined) {
      this.#overflow();
      return;
    }
    // Waiting behind a request in progress. Storage answers through promises even when it
    // has the answer at once, so a request only counts as waiting if it is still there once
    // the event loop has turned; reading stops until then (#onRead), which bounds memory.
    if (this.#backlog) return;
    const turned = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#endBacklogWait();
      if (this.#state === "open" && this.#inbox.length > max) this.#overflow();
    }, 0);
    this.#backlog = { timer, turned };
  }

  /** Ends a wait for the event loop to turn; the read loop goes on. */
  #endBacklogWait(): void {
    const backlog = this.#backlog;
    if (!backlog) return;
    this.#backlog = undefined;
    clearTimeout(backlog.timer);
    backlog.turned.resolve();
  }

  #overflow(): void {
    this.#discard = true;
    this.#inbox = NOTHING_WAITING as Inbound[];
    const max = this.#ctx.limits.maxBacklog;
    this.#owner.onBadFrame(
      new FrameError(`Too many requests: more than ${max} waiting`, {
        fatal: true,
        code: Status.TOO_LARGE,
      }),
    );
    this.end("Request backlog overflow");
  }

  /** Handles queued frames in order, pausing for the rate limit or an async step. */
  #pump(): void {
    while (this.#state === "open" && this.#inbox.length > 0 && !this.#busy) {
      const wait = this.#bucket?.take() ?? 0;
      if (wait > 0) {
        this.#busy = true;
        this.#rateTimer = setTimeout(() => {
          this.#rateTimer = undefined;
          this.#busy = false;
          this.#guardedPump();
        }, wait);
        return;
      }
      const item = this.#inbox.shift()!;
      if (this.#inbox.length === 0) this.#inbox = NOTHING_WAITING as Inbound[];
      this.#run(item);
    }
    if (this.#state === "open" && this.#eof && !this.#busy && this.#inbox.length === 0) {
      this.end("Client disconnected");
    }
  }

  #run(item: Inbound): void {
    if (item instanceof FrameError) {
      this.#owner.onBadFrame(item);
      if (item.fatal) this.end(item.message);
      return;
    }
    const pending = this.#owner.onFrame(item);
    if (pending) {
      this.#busy = true;
      this.#pending++;
      pending.then(
        () => {
          this.#pending--;
          this.#busy = false;
          this.#guardedPump();
          this.#settle();
        },
        (error) => {
          this.#pending--;
          this.#crashed(error);
          this.#settle();
        },
      );
    }
  }

  /** The pump outside a read: a bug must end this connection, never the process. */
  #guardedPump(): void {
    try {
      this.#pump();
    } catch (error) {
      this.#crashed(error);
    }
  }

  #crashed(error: unknown): void {
    this.#owner.onCrash(error);
    this.close("Internal server error");
  }

  // --- writing -------------------------------------------------------------------------

  /** @internal Starts the write scheduled by {@linkcode send}. */
  _startWrite(): void {
    if (this.#state === "closed" || this.#head === undefined) {
      this.#writing = false;
      return;
    }
    this.#chunk = this.#takeChunk();
    this.#written = 0;
    this.#write();
  }

  #write(): void {
    const chunk = this.#chunk!;
    this.#pending++;
    const settled = (result: unknown) => this.#onWritten(result);
    this.#conn.write(this.#written === 0 ? chunk : chunk.subarray(this.#written))
      .then(settled, settled);
  }

  #onWritten(result: unknown): void {
    this.#pending--;
    if (typeof result !== "number") return this.#onWriteFailed(result);
    const n = result;
    const chunk = this.#chunk;
    if (this.#state === "closed" || chunk === undefined) {
      this.#writing = false;
      return this.#settle();
    }
    this.#written += n;
    if (this.#written < chunk.length) return this.#write();
    this.#chunk = undefined;
    this.#outBytes -= chunk.length;
    if (this.#drainWaiters) this.#wakeDrained();
    if (this.#head !== undefined) {
      this.#chunk = this.#takeChunk();
      this.#written = 0;
      return this.#write();
    }
    this.#writing = false;
    if (this.#state === "ending") this.#afterFlush();
  }

  #onWriteFailed(error: unknown): void {
    this.#writing = false;
    this.#chunk = undefined;
    this.close(
      this.#reason || `Connection lost: ${error instanceof Error ? error.message : String(error)}`,
    );
    this.#settle();
  }

  /** Takes the head of the queue, with as many frames after it as fit in one write. */
  #takeChunk(): Uint8Array {
    const head = this.#head!;
    const rest = this.#rest;
    if (!rest || head.length >= MAX_WRITE) {
      this.#head = rest?.shift();
      if (rest?.length === 0) this.#rest = undefined;
      return head;
    }
    let size = head.length;
    let count = 0;
    while (count < rest.length && size + rest[count]!.length <= MAX_WRITE) {
      size += rest[count]!.length;
      count++;
    }
    if (count === 0) {
      this.#head = rest.shift();
      if (rest.length === 0) this.#rest = undefined;
      return head;
    }
    const chunk = new Uint8Array(size);
    chunk.set(head, 0);
    let offset = head.length;
    for (let i = 0; i < count; i++) {
      chunk.set(rest[i]!, offset);
      offset += rest[i]!.length;
    }
    if (count === rest.length) {
      this.#head = undefined;
      this.#rest = undefined;
    } else {
      this.#head = rest[count];
      rest.splice(0, count + 1);
      if (rest.length === 0) this.#rest = undefined;
    }
    return chunk;
  }

  #wakeDrained(): void {
    const waiters = this.#drainWaiters;
    if (!waiters) return;
    const closed = this.#state === "closed";
    const left = waiters.filter((waiter) => {
      if (!closed && this.#outBytes > waiter.below) return true;
      waiter.resolve();
      return false;
    });
    this.#drainWaiters = left.length > 0 ? left : undefined;
  }

  // --- ending --------------------------------------------------------------------------

  #afterFlush(): void {
    if (this.#state === "closed") return;
    if (this.#eof || !this.#lingerOnEnd) {
      this.close(this.#reason);
      return;
    }
    this.#pending++;
    this.#conn.closeWrite().catch(() => this.close(this.#reason)).finally(() => {
      this.#pending--;
      this.#settle();
    });
  }

  /** Wakes done() once the connection is closed and nothing is in flight. */
  #settle(): void {
    if (this.#state !== "closed" || this.#pending > 0) return;
    const waiters = this.#doneWaiters;
    this.#doneWaiters = undefined;
    if (waiters) { for (const wake of waiters) wake(); }
  }
}
