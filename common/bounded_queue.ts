/**
 * The one bounded FIFO of jim: the client's message streams, the server's event
 * subscriptions and the GUIs' live streams each hold one. A producer never blocks and memory
 * never grows past `capacity`: when full, the queue drops an item (the oldest or the new one,
 * as chosen) and counts it in `missed`.
 *
 * @module
 */

/** What a full queue drops: the oldest item (to keep the newest) or the item being pushed. */
export type Overflow = "drop-oldest" | "drop-newest";

/** Options for {@linkcode BoundedQueue}. */
export interface BoundedQueueOptions {
  /** What a full queue drops; "drop-oldest" by default. */
  overflow?: Overflow;
  /** Called once when the queue ends, by {@linkcode BoundedQueue.end} or `return()`. */
  onEnd?: () => void;
}

/** Why {@linkcode BoundedQueue.wait} returned. */
export type WaitResult = "item" | "ended" | "timeout";

// Taken items are skipped by an index and compacted now and then: amortised O(1) per item,
// where Array#shift would copy the whole array each time.
const COMPACT_AFTER = 256;

/**
 * A bounded FIFO, read with `for await`, {@linkcode BoundedQueue.poll},
 * {@linkcode BoundedQueue.drain} or {@linkcode BoundedQueue.wait}. One reader at a time.
 *
 * @example
 * ```ts
 * import { BoundedQueue } from "./bounded_queue.ts";
 * const queue = new BoundedQueue<number>(2);
 * for (const n of [1, 2, 3]) queue.push(n);
 * console.log(queue.missed, queue.drain()); // 1 [2, 3]
 * queue.end();
 * for await (const n of queue) console.log(n); // nothing: ended and empty
 * ```
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  /** Most items held at once. */
  readonly capacity: number;
  /** What a full queue drops. */
  readonly overflow: Overflow;
  #items: T[] = [];
  #head = 0;
  #missed = 0;
  #ended = false;
  #waiter: ((why: "item" | "ended") => void) | undefined;
  #onEnd: (() => void) | undefined;

  /**
   * Makes an empty queue that holds at most `capacity` items.
   *
   * @throws {RangeError} when `capacity` is not a positive integer.
   */
  constructor(capacity: number, options: BoundedQueueOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("Cannot create queue: capacity must be a positive integer");
    }
    this.capacity = capacity;
    this.overflow = options.overflow ?? "drop-oldest";
    this.#onEnd = options.onEnd;
  }

  /** Items waiting to be taken. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** How many items were dropped because the queue was full. */
  get missed(): number {
    return this.#missed;
  }

  /** Whether the queue has ended; items already queued can still be taken. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Adds an item. A full queue drops the oldest item or this one (see `overflow`).
   *
   * @returns false when this item was dropped or the queue has ended.
   */
  push(item: T): boolean {
    if (this.#ended) return false;
    if (this.size >= this.capacity) {
      this.#missed++;
      if (this.overflow === "drop-newest") return false;
      this.poll();
    }
    this.#items.push(item);
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter("item");
    }
    return true;
  }

  /** Takes the oldest item without waiting, or undefined when empty. */
  poll(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    // Let the item be collected before compaction.
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Takes every queued item, oldest first. */
  drain(): T[] {
    const items = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return items;
  }

  /** Returns the missed count and resets it, for a reader that reports losses as it goes. */
  takeMissed(): number {
    const missed = this.#missed;
    this.#missed = 0;
    return missed;
  }

  /**
   * Waits until an item is queued or the queue ends, or `timeoutMs` pass.
   *
   * @throws {Error} when another wait or next() is already waiting.
   */
  wait(timeoutMs?: number): Promise<WaitResult> {
    if (this.size > 0) return Promise.resolve("item");
    if (this.#ended) return Promise.resolve("ended");
    if (this.#waiter) {
      return Promise.reject(new Error("Cannot read queue: another reader is already waiting"));
    }
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiter = undefined;
          resolve("timeout");
        }, timeoutMs);
      }
      this.#waiter = (why) => {
        clearTimeout(timer);
        resolve(why);
      };
    });
  }

  /** Ends the queue: later pushes are ignored, a waiting reader wakes. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.("ended");
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }

  /** The next item, waiting for one; done once the queue has ended and is empty. */
  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.size > 0) return { value: this.poll()!, done: false };
      if (this.#ended) return { value: undefined, done: true };
      await this.wait();
    }
  }

  /** Drops what is queued and ends the queue (leaving a `for await` loop does this). */
  return(): Promise<IteratorResult<T>> {
    this.#items = [];
    this.#head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The queue itself: it is its own iterator. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
