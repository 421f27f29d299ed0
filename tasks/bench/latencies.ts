/**
 * Latency samples in a growable Float64Array, summarized as percentiles.
 *
 * @module
 */

/**
 * The value below which a share `p` of the sorted samples lie; NaN for no samples.
 *
 * @example
 * ```ts
 * percentile(new Float64Array([1, 2, 3, 4]), 0.5); // 3
 * ```
 */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Latencies in milliseconds. */
export class Latencies {
  #values = new Float64Array(1 << 16);
  #length = 0;

  /** Records one sample. */
  add(ms: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = ms;
  }

  /** Forgets every sample. */
  clear(): void {
    this.#length = 0;
  }

  /** How many samples there are. */
  get count(): number {
    return this.#length;
  }

  /** Median, 99th percentile and maximum. */
  summary(): { p50: number; p99: number; max: number } {
    const sorted = this.#values.slice(0, this.#length).sort();
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: percentile(sorted, 1),
    };
  }
}
