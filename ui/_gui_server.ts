/**
 * How both local GUIs (the chat GUI and the admin GUI) come up and go down: a warning when
 * bound beyond loopback, the HTTP listener with the URL that carries the access token, the
 * desktop browser, and a close that runs once.
 *
 * @module
 */
import { type AccessTokens, isLoopbackHost } from "./access.ts";

/** A GUI's HTTP listener and where a browser finds it. */
export interface GuiListener {
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** The bound port (port 0 is replaced). */
  readonly port: number;
  /** `http://host:port`, without the token. */
  readonly origin: string;
  /** The URL to open, with the first one-time access token. */
  readonly url: string;
  /** Issues a new one-time token (the unused one dies) and returns its URL. */
  freshUrl(): string;
}

/**
 * Warns when `host` is reachable from other machines, naming the GUI and what the token
 * then gives away.
 *
 * @returns the extra `Host` names the app must accept: `[host]` when exposed, else none.
 * @example
 * ```ts
 * import { exposedHosts } from "./_gui_server.ts";
 * const hosts = exposedHosts("0.0.0.0", "chat GUI", "Anyone can read.", console.warn);
 * console.log(hosts); // ["0.0.0.0"], after a WARNING line
 * ```
 */
export function exposedHosts(
  host: string,
  gui: string,
  risk: string,
  warn: (message: string) => void,
): string[] {
  if (isLoopbackHost(host)) return [];
  warn(`WARNING: the ${gui} listens on ${host}, reachable from other machines. ${risk}`);
  return [host];
}

/**
 * Serves `handler` on `host`:`port` and builds the URLs with the one-time `tokens`; a
 * wildcard address is shown as 127.0.0.1, where a browser on this machine reaches it.
 *
 * @throws {Deno.errors.AddrInUse} and other listen errors.
 * @example
 * ```ts
 * import { AccessTokens } from "./access.ts";
 * import { serveGui } from "./_gui_server.ts";
 * const gui = serveGui("127.0.0.1", 0, new AccessTokens(), () => new Response("hi"));
 * console.log(gui.url); // http://127.0.0.1:41234/?token=…
 * await gui.server.shutdown();
 * ```
 */
export function serveGui(
  host: string,
  port: number,
  tokens: AccessTokens,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): GuiListener {
  const first = tokens.current ?? tokens.issue();
  const server = Deno.serve({ hostname: host, port, onListen: () => {} }, handler);
  const bound = server.addr.port;
  const displayHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const origin = `http://${urlHost(displayHost)}:${bound}`;
  return {
    server,
    port: bound,
    origin,
    url: `${origin}/?token=${first}`,
    freshUrl: () => `${origin}/?token=${tokens.issue()}`,
  };
}

/** The signal that makes a running GUI print a fresh one-time URL. */
export const FRESH_URL_SIGNAL: Deno.Signal = "SIGUSR1";

/**
 * Calls `onSignal` on every SIGUSR1 (the GUIs print a fresh URL then) and returns a
 * function that stops listening. Windows has no SIGUSR1: there it does nothing.
 *
 * @example
 * ```ts
 * import { onFreshUrlSignal } from "./_gui_server.ts";
 * const stop = onFreshUrlSignal(() => console.log("fresh URL wanted"));
 * stop();
 * ```
 */
export function onFreshUrlSignal(onSignal: () => void): () => void {
  if (Deno.build.os === "windows") return () => {};
  Deno.addSignalListener(FRESH_URL_SIGNAL, onSignal);
  let added = true;
  return () => {
    if (!added) return;
    added = false;
    Deno.removeSignalListener(FRESH_URL_SIGNAL, onSignal);
  };
}

/**
 * The line the GUIs print under their URL, naming the command that gets a fresh one.
 *
 * @example
 * ```ts
 * import { freshUrlHint } from "./_gui_server.ts";
 * console.log(freshUrlHint()); // "The URL works once; for a fresh one: kill -USR1 4242"
 * ```
 */
export function freshUrlHint(pid: number = Deno.pid): string {
  return Deno.build.os === "windows"
    ? "The URL works once; restart the GUI for a fresh one."
    : `The URL works once; for a fresh one: kill -USR1 ${pid}`;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Makes an idempotent `close()` that runs `body` once, also when `signal` aborts.
 *
 * @example
 * ```ts
 * import { closeOnce } from "./_gui_server.ts";
 * const close = closeOnce(undefined, async () => console.log("closed"));
 * await Promise.all([close(), close()]); // "closed" once
 * ```
 */
export function closeOnce(
  signal: AbortSignal | undefined,
  body: () => Promise<void>,
): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const onAbort = () => void close();
  const close = () => {
    closing ??= (async () => {
      signal?.removeEventListener("abort", onAbort);
      await body();
    })();
    return closing;
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  return close;
}

/**
 * Opens `url` in the desktop's browser with xdg-open; when that is impossible or fails the
 * user is told to open it themselves, and nothing else happens.
 *
 * @example
 * ```ts
 * import { openInBrowser } from "./_gui_server.ts";
 * openInBrowser("http://127.0.0.1:8080/?token=…", console.warn);
 * ```
 */
export function openInBrowser(url: string, warn: (message: string) => void): void {
  try {
    const child = new Deno.Command("xdg-open", {
      args: [url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.status.then((s) => {
      if (!s.success) warn("Could not open a browser: open the URL above yourself");
    });
  } catch {
    warn("Could not open a browser: open the URL above yourself");
  }
}
