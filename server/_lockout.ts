/**
 * Counts failed logins per key (a login or an IP) in a sliding window. Memory is bounded:
 * the oldest keys are forgotten first when `maxKeys` is reached.
 *
 * @example
 * ```ts
 * import { FailedLogins } from "./_lockout.ts";
 * const failures = new FailedLogins(5, 300_000);
 * failures.fail("ip:127.0.0.1");
 * failures.retryAfter("ip:127.0.0.1"); // 0 until the fifth failure
 * ```
 */
export class FailedLogins {
  readonly max: number;
  readonly windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  #failures = new Map<string, number[]>();

  constructor(
    max: number,
    windowMs: number,
    options: { maxKeys?: number; now?: () => number } = {},
  ) {
    this.max = max;
    this.windowMs = windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  #recent(key: string, now: number): number[] | undefined {
    const list = this.#failures.get(key);
    if (!list) return undefined;
    const cutoff = now - this.windowMs;
    while (list.length > 0 && list[0]! <= cutoff) list.shift();
    if (list.length === 0) {
      this.#failures.delete(key);
      return undefined;
    }
    return list;
  }

  /** Milliseconds until `key` may try again; 0 when it is not locked out. */
  retryAfter(key: string): number {
    const now = this.#now();
    const list = this.#recent(key, now);
    if (!list || list.length < this.max) return 0;
    // Locked until the failure that made it `max` leaves the window.
    return Math.max(1, list[list.length - this.max]! + this.windowMs - now);
  }

  /** Failures of `key` within the window (at most `max`: older ones are not kept). */
  count(key: string): number {
    return this.#recent(key, this.#now())?.length ?? 0;
  }

  /** Records a failure for `key`. */
  fail(key: string): void {
    const now = this.#now();
    const list = this.#recent(key, now) ?? [];
    list.push(now);
    // Older failures than `max` never matter; keep the list short.
    if (list.length > this.max) list.shift();
    this.#failures.delete(key);
    this.#failures.set(key, list);
    if (this.#failures.size > this.#maxKeys) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
  }

  /** Forgets `key`'s failures (after a successful login). */
  clear(key: string): void {
    this.#failures.delete(key);
  }
}
