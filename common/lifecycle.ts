/**
 * The lifecycle every long-running jim command shares (`jim-server serve`, `jim-server gui`,
 * `jim-client gui`): SIGINT and SIGTERM stop it gracefully, an error that escaped every
 * handler is reported instead of killing the process, and the exit codes mean the same in
 * every program.
 *
 * @module
 */
import { UsageError } from "./usage.ts";

/** Exit codes of every jim program. */
export const ExitCode = {
  /** Done, or stopped by SIGINT or SIGTERM. */
  Ok: 0,
  /** A runtime failure: cannot listen, cannot open the database, not delivered, … */
  Failure: 1,
  /** A usage error: bad flag, value or argument. */
  Usage: 2,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * The exit code for an error that ended a command: {@linkcode ExitCode.Usage} for a
 * {@linkcode UsageError}, {@linkcode ExitCode.Failure} for anything else.
 *
 * @example
 * ```ts
 * import { UsageError } from "./usage.ts";
 * exitCodeOf(new UsageError("Unknown command: x")); // 2
 * ```
 */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof UsageError ? ExitCode.Usage : ExitCode.Failure;
}

/** The signals that stop a running command gracefully; Windows has only SIGINT. */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** Options for {@linkcode startLifecycle}. */
export interface LifecycleOptions {
  /** Stops the command as well when it aborts (tests, embedders). */
  signal?: AbortSignal;
  /**
   * Told about an error that escaped every handler: an unhandled promise rejection or an
   * exception thrown in a callback. The process keeps running: one connection's bug must not
   * stop the service for everyone. `message` is one line: "Internal error: …".
   */
  onEscaped(message: string, reason: unknown): void;
}

/** A running command's lifecycle. Dispose of it when the command has stopped. */
export interface Lifecycle extends Disposable {
  /** Aborts on SIGINT or SIGTERM, when the outer signal aborts, or on {@linkcode stop}. */
  readonly signal: AbortSignal;
  /** Stops the command as a signal would. */
  stop(): void;
}

/**
 * The one line reported for an escaped error.
 *
 * @example
 * ```ts
 * escapedMessage(new Error("boom")); // "Internal error: boom"
 * ```
 */
export function escapedMessage(reason: unknown): string {
  const text = reason instanceof Error ? reason.message : String(reason);
  return `Internal error: ${text.split("\n")[0]}`;
}

/**
 * Starts listening for the stop signals and for escaped errors. Start it once the command
 * can stop cleanly (after it listens), and dispose of it once it has stopped: that removes
 * every listener, so the next command in the same process starts afresh.
 *
 * @example
 * ```ts
 * import { startLifecycle } from "./lifecycle.ts";
 * using lifecycle = startLifecycle({ onEscaped: (line) => console.error(line) });
 * await new Promise((resolve) => lifecycle.signal.addEventListener("abort", resolve));
 * ```
 */
export function startLifecycle(options: LifecycleOptions): Lifecycle {
  const stop = new AbortController();
  const onStop = () => stop.abort();
  const outer = options.signal;
  if (outer?.aborted) stop.abort();
  else outer?.addEventListener("abort", onStop, { once: true });
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onStop);
  const onEscaped = (event: PromiseRejectionEvent | ErrorEvent) => {
    event.preventDefault();
    const reason = "reason" in event ? event.reason : event.error;
    options.onEscaped(escapedMessage(reason), reason);
  };
  globalThis.addEventListener("unhandledrejection", onEscaped);
  globalThis.addEventListener("error", onEscaped);
  let disposed = false;
  return {
    signal: stop.signal,
    stop: onStop,
    [Symbol.dispose]() {
      if (disposed) return;
      disposed = true;
      outer?.removeEventListener("abort", onStop);
      for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onStop);
      globalThis.removeEventListener("unhandledrejection", onEscaped);
      globalThis.removeEventListener("error", onEscaped);
    },
  };
}
