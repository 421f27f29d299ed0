/**
 * One client connection's bytes: the read loop and framing, the inbound backlog with the rate
 * limit, the bounded outbound queue with coalesced writes and backpressure, and the orderly
 * end (flush, half-close, linger) or the abrupt close. It knows frames, not requests: what a
 * frame means is its owner's business ({@linkcode ConnectionOwner}, the session).
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

/** A client connection. Created and driven by its session. */
export class Connection {
  /** The peer's address. */
  readonly ip: string;
  /** The peer's port. */
  readonly port: number;
  /** When the connection was accepted, Unix ms. */
  readonly connectedAt: number;
  /** Last time any bytes arrived, Unix ms. */
  lastActivity: number;

  readonly #conn: Deno.Conn;
  readonly #limits: ServerLimits;
  readonly #clock: Clock;
  readonly #owner: ConnectionOwner;
  readonly #decoder: FrameDecoder;
  readonly #bucket: TokenBucket | undefined;
  #state: State = "open";
  #reason = "";
  #eof = false;
  /** After a fatal frame or a backlog overflow: input is read and dropped. */
  #discard = false;
  /** The owner is handling a frame that returned a promise, or the rate limit holds. */
  #busy = false;
  #inbox: (Record<string, unknown> | FrameError)[] = [];
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #backlogTimer: ReturnType<typeof setTimeout> | undefined;
  #backlogCheck: Promise<void> | undefined;
  #backlogRelease: (() => void) | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerOnEnd = true;

  #out: Uint8Array[] = [];
  #outBytes = 0;
  /** A write is in flight, or scheduled for the end of this task. */
  #writing = false;
  #chunk: Uint8Array | undefined;
  #written = 0;
  #drainWaiters: { below: number; resolve: () => void }[] | undefined;

  #readTask: Promise<void> = Promise.resolve();
  #pumpTask: Promise<void> = Promise.resolve();
  #writeTask: Promise<void> | undefined;
  #writeDone: (() => void) | undefined;
  #shutdownTask: Promise<void> = Promise.resolve();
  #closedSignal: PromiseWithResolvers<void> | undefined;

  constructor(conn: Deno.Conn, ctx: ConnectionContext, owner: ConnectionOwner) {
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.ip = addr.hostname;
    this.port = addr.port;
    this.#conn = conn;
    this.#limits = ctx.limits;
    this.#clock = ctx.clock;
    this.#owner = owner;
    this.connectedAt = this.lastActivity = ctx.clock.now();
    this.#decoder = new FrameDecoder({ maxFrameBytes: ctx.limits.maxFrameBytes });
    this.#bucket = ctx.limits.rateLimit > 0
      ? new TokenBucket(ctx.limits.rateLimit, ctx.limits.rateBurst, () => ctx.clock.now())
      : undefined;
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
    this.#readTask = this.#readLoop();
  }

  /** Resolves once the connection has closed and every task of it has finished. */
  async done(): Promise<void> {
    if (this.#state !== "closed") {
      this.#closedSignal ??= Promise.withResolvers();
      await this.#closedSignal.promise;
    }
    await this.#readTask;
    await this.#pumpTask;
    await this.#writeTask;
    await this.#shutdownTask;
  }

  /**
   * Queues a frame. False when it does not fit in the outbound bound: the client is too slow,
   * and the connection has closed.
   */
  send(frame: Uint8Array): boolean {
    if (this.#state === "closed") return false;
    if (this.#outBytes + frame.length > this.#limits.maxOutboundBytes) {
      this.close(`Slow consumer: more than ${this.#limits.maxOutboundBytes} bytes queued`);
      return false;
    }
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (!this.#writing) {
      this.#writing = true;
      // Frames queued by the rest of this task (the replies to every request of one read, a
      // fan-out) go out together in one write.
      queueMicrotask(this.#startWrite);
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
    this.#inbox = [];
    clearTimeout(this.#rateTimer);
    this.#releaseBacklogCheck();
    this.#owner.onEnding(reason);
    if (this.#state !== "ending") return;
    this.#lingerTimer = setTimeout(() => this.close(reason), this.#limits.lingerMs);
    if (!this.#writing) this.#afterFlush();
  }

  /** Closes at once, dropping what is queued. Idempotent. */
  close(reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#reason ||= reason;
    clearTimeout(this.#rateTimer);
    clearTimeout(this.#lingerTimer);
    this.#releaseBacklogCheck();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset; nothing left to release.
    }
    this.#out = [];
    this.#outBytes = 0;
    this.#chunk = undefined;
    this.#wakeDrained();
    this.#inbox = [];
    this.#closedSignal?.resolve();
    this.#owner.onClosed(reason);
  }

  // --- reading -------------------------------------------------------------------------

  /** Ends a pending backlog check early: nothing is waiting any more. */
  #releaseBacklogCheck(): void {
    const release = this.#backlogRelease;
    if (release === undefined) return;
    clearTimeout(this.#backlogTimer);
    this.#backlogTimer = undefined;
    this.#backlogCheck = undefined;
    this.#backlogRelease = undefined;
    // The read loop waits for the check before it reads on.
    release();
  }

  async #readLoop(): Promise<void> {
    // A pending read pins its buffer, so an idle connection holds a small one; a read that
    // fills it switches to the full-size buffer until traffic calms down again.
    const small = Math.min(IDLE_READ_BUFFER, this.#limits.readBufferBytes);
    let buffer = new Uint8Array(small);
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        // A peer vanishing is ordinary; the reason goes with the disconnect event.
        this.close(`Connection lost: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      if (this.#state === "closed") return;
      if (n === null) {
        this.#onEof();
        return;
      }
      // Frames are handled in a separate call so that nothing from them stays referenced by
      // this suspended loop while the connection idles: such leftovers would be promoted to
      // the old generation and fragment it across thousands of idle connections.
      try {
        this.#onData(buffer.subarray(0, n));
      } catch (error) {
        this.#crashed(error);
        return;
      }
      if (this.#backlogCheck) await this.#backlogCheck;
      if (n === buffer.length && buffer.length < this.#limits.readBufferBytes) {
        buffer = new Uint8Array(this.#limits.readBufferBytes);
      } else if (n < small && buffer.length > small) {
        buffer = new Uint8Array(small);
      }
    }
  }

  #onData(chunk: Uint8Array): void {
    this.lastActivity = this.#clock.now();
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

  #accept(item: Record<string, unknown> | FrameError): void {
    if (!this.#busy && this.#inbox.length === 0 && (this.#bucket?.take() ?? 0) === 0) {
      // Nothing waits before it: handle it now, without queueing.
      this.#run(item);
      return;
    }
    this.#inbox.push(item);
    if (!this.#busy) this.#pump();
    if (this.#inbox.length <= this.#limits.maxBacklog) return;
    if (this.#rateTimer !== undefined) {
      this.#overflow();
      return;
    }
    // Waiting behind a request in progress. Storage answers through promises even when it
    // has the answer at once, so a request only counts as waiting if it is still there once
    // the event loop has turned; reading stops until then (#readLoop), which bounds memory.
    if (this.#backlogCheck) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#backlogCheck = promise;
    this.#backlogRelease = resolve;
    this.#backlogTimer = setTimeout(() => {
      this.#releaseBacklogCheck();
      if (this.#state === "open" && this.#inbox.length > this.#limits.maxBacklog) {
        this.#overflow();
      }
    }, 0);
  }

  #overflow(): void {
    this.#discard = true;
    this.#inbox = [];
    this.#owner.onBadFrame(
      new FrameError(`Too many requests: more than ${this.#limits.maxBacklog} waiting`, {
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
      this.#run(this.#inbox.shift()!);
    }
    if (this.#state === "open" && this.#eof && !this.#busy && this.#inbox.length === 0) {
      this.end("Client disconnected");
    }
  }

  #run(item: Record<string, unknown> | FrameError): void {
    if (item instanceof FrameError) {
      this.#owner.onBadFrame(item);
      if (item.fatal) this.end(item.message);
      return;
    }
    const pending = this.#owner.onFrame(item);
    if (pending) {
      this.#busy = true;
      this.#pumpTask = pending.then(
        () => {
          this.#busy = false;
          this.#guardedPump();
        },
        (error) => this.#crashed(error),
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

  readonly #startWrite = (): void => {
    if (this.#state === "closed" || this.#out.length === 0) {
      this.#writing = false;
      return;
    }
    this.#writeTask ??= new Promise((resolve) => (this.#writeDone = resolve));
    this.#chunk = this.#takeChunk();
    this.#written = 0;
    this.#write();
  };

  #write(): void {
    const chunk = this.#chunk!;
    this.#conn.write(this.#written === 0 ? chunk : chunk.subarray(this.#written))
      .then(this.#onWritten, this.#onWriteFailed);
  }

  readonly #onWritten = (n: number): void => {
    const chunk = this.#chunk;
    if (this.#state === "closed" || chunk === undefined) return this.#writeStopped();
    this.#written += n;
    if (this.#written < chunk.length) return this.#write();
    this.#chunk = undefined;
    this.#outBytes -= chunk.length;
    if (this.#drainWaiters) this.#wakeDrained();
    if (this.#out.length > 0) {
      this.#chunk = this.#takeChunk();
      this.#written = 0;
      return this.#write();
    }
    this.#writeStopped();
    if (this.#state === "ending") this.#afterFlush();
  };

  readonly #onWriteFailed = (error: unknown): void => {
    this.#writeStopped();
    this.close(
      this.#reason || `Connection lost: ${error instanceof Error ? error.message : String(error)}`,
    );
  };

  #writeStopped(): void {
    this.#writing = false;
    const done = this.#writeDone;
    this.#writeDone = undefined;
    this.#writeTask = undefined;
    done?.();
  }

  #takeChunk(): Uint8Array {
    const out = this.#out;
    const first = out[0]!;
    if (out.length === 1 || first.length >= MAX_WRITE) {
      out.shift();
      return first;
    }
    let count = 0;
    let size = 0;
    for (const part of out) {
      if (count > 0 && size + part.length > MAX_WRITE) break;
      size += part.length;
      count++;
    }
    const chunk = new Uint8Array(size);
    let offset = 0;
    for (const part of out.splice(0, count)) {
      chunk.set(part, offset);
      offset += part.length;
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
    this.#shutdownTask = this.#conn.closeWrite().catch(() => this.close(this.#reason));
  }
}
