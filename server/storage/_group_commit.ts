/**
 * Group commit: items appended in the same turn, or while a commit is in flight, are written
 * by one commit. The cost of a commit is shared, and the appender never waits for more than
 * the commit in flight and its own.
 *
 * @module
 */

/**
 * Writes one batch in one transaction. Returns, for each item in order, the error that
 * refused it alone (undefined when it was written); a throw fails the whole batch.
 */
export type CommitBatch<T> = (batch: readonly T[]) => Promise<(unknown | undefined)[]>;

/** Options of {@linkcode GroupCommit}. */
export interface GroupCommitOptions {
  /** Items in one commit at most; 1000 by default. */
  maxBatch?: number;
  /** Items waiting at most; past it {@linkcode GroupCommit.add} refuses with `overflow()`. */
  maxQueued?: number;
}

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A queue of items written in batches by `commit`.
 *
 * @example
 * ```ts
 * import { GroupCommit } from "./_group_commit.ts";
 * const written: number[][] = [];
 * const group = new GroupCommit<number>(
 *   (batch) => {
 *     written.push([...batch]);
 *     return Promise.resolve(batch.map(() => undefined));
 *   },
 *   () => new Error("Too much queued"),
 * );
 * await Promise.all([group.add(1), group.add(2)]);
 * console.log(written); // [[1, 2]]
 * ```
 */
export class GroupCommit<T> {
  readonly #commit: CommitBatch<T>;
  readonly #overflow: () => Error;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  #queue: Pending<T>[] = [];
  #committing: Promise<void> | undefined;
  #scheduled = false;
  #commits = 0;

  /** Creates the queue; `overflow` makes the error for an add past `maxQueued`. */
  constructor(commit: CommitBatch<T>, overflow: () => Error, options: GroupCommitOptions = {}) {
    this.#commit = commit;
    this.#overflow = overflow;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.#maxQueued = Math.max(1, options.maxQueued ?? 100_000);
  }

  /** Commits made so far. */
  get commits(): number {
    return this.#commits;
  }

  /** Items waiting for their commit. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues `item`; resolves once it is committed, rejects when it was refused or failed. */
  add(item: T): Promise<void> {
    if (this.#queue.length >= this.#maxQueued) return Promise.reject(this.#overflow());
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ item, resolve, reject });
    this.#schedule();
    return promise;
  }

  /** Commits everything queued and waits for it; used at close. */
  async settle(): Promise<void> {
    while (this.#committing || this.#queue.length > 0) {
      await (this.#committing ?? this.#next());
    }
  }

  #schedule(): void {
    if (this.#committing || this.#scheduled) return;
    this.#scheduled = true;
    // Everything added in this turn joins the first commit.
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#committing) void this.#next();
    });
  }

  #next(): Promise<void> {
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) return Promise.resolve();
    this.#committing = this.#run(batch).finally(() => {
      this.#committing = undefined;
      if (this.#queue.length > 0) void this.#next();
    });
    return this.#committing;
  }

  async #run(batch: Pending<T>[]): Promise<void> {
    let errors: (unknown | undefined)[];
    try {
      errors = await this.#commit(batch.map((p) => p.item));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#commits++;
    batch.forEach((pending, i) => {
      const error = errors[i];
      if (error === undefined) pending.resolve();
      else pending.reject(error);
    });
  }
}
