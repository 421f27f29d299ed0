/**
 * Message ids, assigned in memory before a message is routed, so that no id waits for the
 * database. A hybrid logical clock: each id is `max(previous + STEP, (now - EPOCH) * 2^12 +
 * node)`, so ids follow the wall clock where it moves on, keep increasing where it stands
 * still or goes back, and never collide between nodes, whose ids differ in their low
 * {@linkcode NODE_BITS} bits. Every id is a positive integer below 2^53 (until about the
 * year 2095).
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** Bits of an id that name the node: up to 16 nodes in a cluster. */
export const NODE_BITS = 4;
/** How far one node's consecutive ids lie apart: its node bits stay the same. */
const STEP = 2 ** NODE_BITS;
/** Ids per millisecond of the clock: 256 per node before ids run ahead of it. */
const PER_MS = 2 ** 12;
/** 2026-01-01T00:00:00Z: ids count from here, which keeps them below 2^53 for 69 years. */
export const ID_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Options for {@linkcode MessageIds}. */
export interface MessageIdsOptions {
  /** The node's index in a cluster, 0 to 15; 0 for a single server. */
  node?: number;
  /** An id already used (the highest stored): every new id is above it. */
  after?: number;
}

/**
 * The id allocator of one server (one cluster node).
 *
 * @example
 * ```ts
 * import { MessageIds } from "./message_ids.ts";
 * import { SYSTEM_CLOCK } from "./clock.ts";
 * const ids = new MessageIds(SYSTEM_CLOCK);
 * const a = ids.next();
 * console.log(ids.next() > a); // true
 * ```
 */
export class MessageIds {
  readonly node: number;
  readonly #clock: Clock;
  #last: number;

  /**
   * @throws {RangeError} for a node index outside 0 to 15 or a bad `after`.
   */
  constructor(clock: Clock, options: MessageIdsOptions = {}) {
    const node = options.node ?? 0;
    if (!Number.isInteger(node) || node < 0 || node >= STEP) {
      throw new RangeError(`Invalid node index: must be 0 to ${STEP - 1}`);
    }
    const after = options.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new RangeError("Invalid last id: must be a whole number of 0 or more");
    }
    this.node = node;
    this.#clock = clock;
    // The first id above `after` that carries this node's bits.
    this.#last = after - (((after - node) % STEP) + STEP) % STEP;
  }

  /** The last id given, or where the allocator started. */
  get last(): number {
    return this.#last;
  }

  /** A new id, above every id this allocator gave or was told of. */
  next(): number {
    const fromClock = Math.max(0, Math.floor(this.#clock.now()) - ID_EPOCH_MS) * PER_MS +
      this.node;
    const id = Math.max(this.#last + STEP, fromClock);
    if (!Number.isSafeInteger(id)) throw new RangeError("Cannot allocate a message id: exhausted");
    this.#last = id;
    return id;
  }
}
