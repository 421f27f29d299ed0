/**
 * A bounded FIFO that can be iterated asynchronously. When full, the oldest item is dropped
 * and counted in `missed`, so a slow consumer never makes the producer block or grow memory.
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  readonly capacity: number;
  #items: T[] = [];
  #ended = false;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #onReturn: (() => void) | undefined;
  /** How many items were dropped because the queue was full. */
  missed = 0;

  constructor(capacity: number, onReturn?: () => void) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("Cannot create queue: capacity must be a positive integer");
    }
    this.capacity = capacity;
    this.#onReturn = onReturn;
  }

  /** Items waiting to be taken. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an item, dropping the oldest when full; ignored once ended. */
  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.missed++;
    }
    this.#items.push(item);
  }

  /** Ends the queue; items already queued are still delivered. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    const onReturn = this.#onReturn;
    this.#onReturn = undefined;
    onReturn?.();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      return Promise.resolve({ value: this.#items.shift()!, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) {
      return Promise.reject(new Error("Cannot read queue: another next() is still waiting"));
    }
    return new Promise((resolve) => this.#waiter = resolve);
  }

  return(): Promise<IteratorResult<T>> {
    this.#items = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
