/**
 * The connection cap the descriptor limit allows. Each connection holds one descriptor; the
 * process also needs some for itself (the database and its WAL, the listener, the admin GUI
 * and its browser connections, Deno's own caches and event loop) and for connections being
 * refused with 503, which hold theirs until the reply is flushed. A cap above what is left
 * makes `accept()` fail with EMFILE, and clients then time out instead of being told.
 *
 * Deno has no getrlimit(); Linux shows the limits of the process in /proc/self/limits, and
 * `prlimit` prints those it inherits.
 *
 * @module
 */

/** Descriptors kept for the process itself: measured at about 30 with the admin GUI open. */
export const BASE_RESERVE = 64;
/** At most this many refused connections linger at once to be told 503. */
export const MAX_REJECTING = 256;

/** What {@linkcode connectionCap} allows. */
export interface ConnectionCap {
  /** The effective connection cap: the requested one, lowered to fit the descriptor limit. */
  maxConnections: number;
  /** Refused connections that may linger at once to be told 503. */
  rejectSlots: number;
  /** RLIMIT_NOFILE (soft), when known. */
  openFileLimit?: number;
}

/**
 * The soft RLIMIT_NOFILE of this process, or undefined where it cannot be learnt or is
 * unlimited. Given `text` (the contents of /proc/self/limits) it parses that. Otherwise it
 * reads /proc/self/limits, which Deno allows only with --allow-all, and failing that asks
 * `prlimit` (util-linux), which reports the limits it inherited from this process and needs
 * only --allow-run=prlimit. Neither is attempted without its permission, so nothing prompts.
 *
 * @example
 * ```ts
 * import { readOpenFileLimit } from "./_fd_limit.ts";
 * readOpenFileLimit("Max open files            1024                 4096                 files");
 * // 1024
 * ```
 */
export function readOpenFileLimit(text?: string): number | undefined {
  if (text !== undefined) return parseLimits(text);
  if (Deno.build.os !== "linux") return undefined;
  if (Deno.permissions.querySync({ name: "read", path: "/proc/self/limits" }).state === "granted") {
    try {
      return parseLimits(Deno.readTextFileSync("/proc/self/limits"));
    } catch {
      // Deno guards /proc/self beyond --allow-read; try prlimit.
    }
  }
  if (Deno.permissions.querySync({ name: "run", command: "prlimit" }).state !== "granted") {
    return undefined;
  }
  try {
    const out = new Deno.Command("prlimit", {
      args: ["--nofile", "--output=SOFT", "--noheadings"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const soft = new TextDecoder().decode(out.stdout).trim();
    return out.success && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined; // No prlimit on this system.
  }
}

function parseLimits(text: string): number | undefined {
  const match = text.match(/^Max open files\s+(\d+|unlimited)\s/m);
  if (!match || match[1] === "unlimited") return undefined;
  return Number(match[1]);
}

/**
 * Lowers `requested` to what `openFileLimit` leaves after the reserve: the process's own
 * {@linkcode BASE_RESERVE} and the slots for refused connections (a sixteenth of the limit,
 * 4 to {@linkcode MAX_REJECTING}).
 *
 * @example
 * ```ts
 * import { connectionCap } from "./_fd_limit.ts";
 * connectionCap(20_000, 1024).maxConnections; // 896
 * ```
 * @throws {RangeError} when the limit leaves no descriptor for connections.
 */
export function connectionCap(requested: number, openFileLimit: number | undefined): ConnectionCap {
  if (openFileLimit === undefined) return { maxConnections: requested, rejectSlots: MAX_REJECTING };
  const rejectSlots = Math.max(4, Math.min(MAX_REJECTING, Math.floor(openFileLimit / 16)));
  const room = openFileLimit - BASE_RESERVE - rejectSlots;
  if (room < 1) {
    throw new RangeError(
      `Cannot serve: the open-file limit of ${openFileLimit} leaves no descriptors for ` +
        `connections; at least ${
          BASE_RESERVE + rejectSlots + 1
        } are needed (raise it with ulimit -n)`,
    );
  }
  return { maxConnections: Math.min(requested, room), rejectSlots, openFileLimit };
}
