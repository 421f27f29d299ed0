/**
 * Small utilities that server/, client/ and ui/ share, and that import nothing of ours but
 * protocol/: the one {@linkcode BoundedQueue}, the one {@linkcode UsageError} with the parsing
 * of flag and environment values, and the lifecycle of a long-running command.
 *
 * @example
 * ```ts
 * import { BoundedQueue, parsePort, startLifecycle } from "./mod.ts";
 * const port = parsePort(Deno.env.get("JIM_GUI_PORT") ?? "8080", "JIM_GUI_PORT");
 * const events = new BoundedQueue<string>(256, { overflow: "drop-newest" });
 * using lifecycle = startLifecycle({ onEscaped: (line) => events.push(line) });
 * console.log(port, lifecycle.signal.aborted);
 * ```
 *
 * @module
 */
export * from "./bounded_queue.ts";
export * from "./lifecycle.ts";
export * from "./usage.ts";
