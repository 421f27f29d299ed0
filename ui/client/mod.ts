/**
 * The chat GUI of the JIM client (issue 6): a local web app on 127.0.0.1 behind an access
 * token that holds one JIM connection and the local history.
 *
 * @example
 * ```ts
 * import { startChatGui } from "./mod.ts";
 * await using gui = await startChatGui({ guiPort: 8081, dataDir: "/tmp/jim" });
 * console.log(gui.url); // http://127.0.0.1:8081/?token=…
 * ```
 *
 * @module
 */
import { AccessTokens } from "../mod.ts";
import {
  closeOnce,
  exposedHosts,
  type GuiListener,
  openInBrowser,
  serveGui,
} from "../_gui_server.ts";
import { createChatApp } from "./app.ts";
import { ChatController } from "./chat_controller.ts";

export { chatErrorHandler, createChatApp } from "./app.ts";
export type { ChatAppOptions } from "./app.ts";
export {
  ChatController,
  type ChatControllerOptions,
  ChatInputError,
  type ConnectParams,
  ServerUnreachableError,
} from "./chat_controller.ts";
export type * from "./_types.ts";

/** Options for {@linkcode startChatGui}. */
export interface ChatGuiOptions {
  /** GUI address; 127.0.0.1 by default. Anything else is exposed to the network: warned. */
  guiHost?: string;
  /** GUI port; 8081 by default, 0 picks a free one. */
  guiPort?: number;
  /** Where histories live; `$XDG_DATA_HOME/jim` or `~/.local/share/jim` by default. */
  dataDir?: string;
  /** Open the URL in the desktop's browser (xdg-open). */
  open?: boolean;
  /** Stops the GUI (and says goodbye to the JIM server) when aborted. */
  signal?: AbortSignal;
  /** Access token; a random one by default. */
  token?: string;
  /** Milliseconds between refreshes of the contacts' online marks (15,000 by default). */
  presencePollMs?: number;
  /** Where warnings go; console.warn by default. */
  warn?: (message: string) => void;
}

/** A running chat GUI. */
export interface ChatGui extends AsyncDisposable {
  /** The URL to open, with the first one-time access token: `http://127.0.0.1:8081/?token=…`. */
  readonly url: string;
  /** Issues a new one-time access token (the unused one dies) and returns its URL. */
  freshUrl(): string;
  /** `http://host:port`, without the token. */
  readonly origin: string;
  readonly port: number;
  /** The first access token, the one in {@linkcode url}. */
  readonly token: string;
  readonly chat: ChatController;
  /** Resolves when the GUI has stopped. */
  readonly finished: Promise<void>;
  /** Disconnects from the JIM server and stops the GUI. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the chat GUI.
 *
 * @example
 * ```ts
 * await using gui = await startChatGui({ guiPort: 0, dataDir: await Deno.makeTempDir() });
 * console.log(gui.url);
 * ```
 */
export async function startChatGui(options: ChatGuiOptions = {}): Promise<ChatGui> {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const guiHost = options.guiHost ?? "127.0.0.1";
  const tokens = new AccessTokens(options.token);
  const token = tokens.current!;
  const hosts = exposedHosts(
    guiHost,
    "chat GUI",
    "Anyone with the URL's token can read and send your messages. Use 127.0.0.1.",
    warn,
  );
  const chat = new ChatController({
    dataDir: options.dataDir,
    presencePollMs: options.presencePollMs,
  });
  let port = 0;
  const app = createChatApp({ token: tokens, chat, port: () => port, hosts });
  let gui: GuiListener;
  try {
    gui = serveGui(guiHost, options.guiPort ?? 8081, tokens, app.fetch);
  } catch (error) {
    await chat.close();
    throw error;
  }
  port = gui.port;
  const { server, origin, url, freshUrl } = gui;

  const close = closeOnce(options.signal, async () => {
    try {
      await chat.close();
    } finally {
      await server.shutdown();
    }
  });
  if (options.signal?.aborted) await close();

  if (options.open) openInBrowser(url, warn);
  return {
    url,
    freshUrl,
    origin,
    port,
    token,
    chat,
    finished: server.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}
