/**
 * Where the server reads the time. Every decision that depends on time (login deadline, idle
 * probe, rate limit, login throttle, takeover) reads it here, so that tests can hold time
 * still and move it on purpose instead of racing the wall clock.
 *
 * @example
 * ```ts
 * import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
 * const clock: Clock = SYSTEM_CLOCK;
 * console.log(clock.now() > 0); // true
 * ```
 *
 * @module
 */

/** A source of Unix milliseconds. */
export interface Clock {
  /** The current time in Unix milliseconds. */
  now(): number;
}

/** The real clock, `Date.now()`. */
export const SYSTEM_CLOCK: Clock = Object.freeze({ now: () => Date.now() });
