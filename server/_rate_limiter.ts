/**
 * A token bucket: `burst` requests at once, refilled at `rate` per second.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./_rate_limiter.ts";
 * const bucket = new TokenBucket(10, 20);
 * bucket.take(); // 0: go now; otherwise the milliseconds to wait
 * ```
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  constructor(rate: number, burst: number, now: () => number = performance.now.bind(performance)) {
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#last = now();
  }

  /** Takes a token if one is there and returns 0, or returns the wait in ms until one is. */
  take(): number {
    if (this.rate <= 0) return 0;
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.rate));
  }
}
