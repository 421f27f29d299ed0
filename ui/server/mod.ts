/**
 * The admin GUI of the JIM server (issue 5): a local web app on 127.0.0.1 behind an access
 * token, running the JIM server in the same process.
 *
 * @example
 * ```ts
 * import { SqliteStorage } from "../../server/mod.ts";
 * import { startAdminGui } from "./mod.ts";
 * await using storage = SqliteStorage.open("jim.db");
 * await using gui = await startAdminGui({ storage, jim: { host: "127.0.0.1", port: 7777 } });
 * console.log(gui.url); // http://127.0.0.1:8080/?token=…
 * ```
 *
 * @module
 */
import {
  JimServer,
  type JimServerOptions,
  type ServerEvent,
  type Storage,
} from "../../server/mod.ts";
import { AccessTokens, LiveHub } from "../mod.ts";
import { closeOnce, exposedHosts, openInBrowser, serveGui } from "../_gui_server.ts";
import { AdminController, type ListenFn } from "./controller.ts";
import { createAdminApp } from "./routes.ts";

export { AdminController, AdminError, describeListenError } from "./controller.ts";
export type { JimServerHandle, ListenFn } from "./controller.ts";
export { createAdminApp } from "./routes.ts";
export type {
  AdminState,
  ClientRow,
  LogCategory,
  LogEvent,
  ServerStatus,
  ServiceEntry,
  ServiceReply,
} from "./_types.ts";
export { HIDDEN, ServiceLog, type ServiceLogOptions } from "./service_log.ts";

/** Options for {@linkcode startAdminGui}. */
export interface AdminGuiOptions {
  /** The users' storage; the GUI does not close it. */
  storage: Storage;
  /**
   * Options of the JIM servers the GUI starts: where the first one runs (later ones run where
   * the page says) and the `serve` flags (legacyAuth, tls, limits).
   */
  jim: Omit<JimServerOptions, "storage" | "events" | "signal" | "host" | "port"> & {
    host: string;
    port: number;
  };
  /** Starts a JIM server; JimServer.listen with `jim` and `storage` by default. */
  listen?: ListenFn;
  /** Start the JIM server right away (true by default). A failure is shown on the page. */
  startJim?: boolean;
  /** GUI address; 127.0.0.1 by default. Anything else is exposed to the network: warned. */
  guiHost?: string;
  /** GUI port; 8080 by default, 0 picks a free one. */
  guiPort?: number;
  /** Open the URL in the desktop's browser (xdg-open). */
  open?: boolean;
  /** Stops the GUI and the JIM server when aborted. */
  signal?: AbortSignal;
  /** Access token; a random one by default. */
  token?: string;
  /** PBKDF2 iterations for passwords set from the GUI; 600,000 otherwise. */
  iterations?: number;
  /** Where warnings go; console.warn by default. */
  warn?: (message: string) => void;
  /** Called with every JIM server event (the CLI prints them per --log-level). */
  onServerEvent?: (event: ServerEvent) => void;
}

/** A running admin GUI. */
export interface AdminGui extends AsyncDisposable {
  /** The URL to open, with the first one-time access token: `http://127.0.0.1:8080/?token=…`. */
  readonly url: string;
  /** Issues a new one-time access token (the unused one dies) and returns its URL. */
  freshUrl(): string;
  /** `http://host:port`, without the token. */
  readonly origin: string;
  readonly port: number;
  /** The first access token, the one in {@linkcode url}. */
  readonly token: string;
  readonly controller: AdminController;
  /** The GUI's live event hub (Service info, status and table updates). */
  readonly live: LiveHub<unknown>;
  /** Resolves when the GUI has stopped. */
  readonly finished: Promise<void>;
  /** Stops the JIM server and the GUI. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the admin GUI and starts the JIM server.
 *
 * @example
 * ```ts
 * await using gui = await startAdminGui({ store, jim: { host: "127.0.0.1", port: 0 }, guiPort: 0 });
 * console.log(gui.url);
 * ```
 */
export async function startAdminGui(options: AdminGuiOptions): Promise<AdminGui> {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const guiHost = options.guiHost ?? "127.0.0.1";
  const tokens = new AccessTokens(options.token);
  const token = tokens.current!;
  const hosts = exposedHosts(
    guiHost,
    "admin GUI",
    "Anyone with the URL's token can manage the server. Use 127.0.0.1 unless you must.",
    warn,
  );
  const hub = new LiveHub<unknown>({ capacity: 500 });
  const controller = new AdminController({
    storage: options.storage,
    listen: options.listen ??
      ((at) => JimServer.listen({ ...options.jim, ...at, storage: options.storage })),
    host: options.jim.host,
    port: options.jim.port,
    legacyAuth: options.jim.legacyAuth ?? false,
    hub,
    iterations: options.iterations,
    onEvent: options.onServerEvent,
  });
  let port = 0;
  const app = createAdminApp({ token: tokens, controller, hub, port: () => port, hosts });
  const { server, origin, url, freshUrl, port: bound } = serveGui(
    guiHost,
    options.guiPort ?? 8080,
    tokens,
    app.fetch,
  );
  port = bound;

  const close = closeOnce(options.signal, async () => {
    hub.close();
    try {
      await controller.close();
    } finally {
      await server.shutdown();
    }
  });

  if (options.startJim ?? true) {
    try {
      await controller.start();
    } catch (err) {
      // The page shows the reason (port in use…); the GUI stays up to retry.
      warn(`JIM server did not start: ${(err as Error).message}`);
    }
  }
  if (options.open) openInBrowser(url, warn);
  return {
    url,
    freshUrl,
    origin,
    port,
    token,
    controller,
    live: hub,
    finished: server.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}
