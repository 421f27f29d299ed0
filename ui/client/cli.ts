/**
 * `jim-client gui`: the chat GUI. bin/jim-client.ts loads this module only when `gui` runs
 * and hands it the arguments after `gui`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ExitCode, startLifecycle } from "../../common/lifecycle.ts";
import { envValue, parseBoolean, parsePort, UsageError } from "../../common/usage.ts";
import { startChatGui } from "./mod.ts";
import { freshUrlHint, onFreshUrlSignal } from "../_gui_server.ts";

/** The default GUI port (the admin GUI has 8080). */
export const DEFAULT_GUI_PORT = 8081;

/** The `gui` command's help text. */
export const GUI_USAGE = `jim-client gui: chat in a browser; the page holds one JIM connection

Usage:
  jim-client gui [--gui-port ${DEFAULT_GUI_PORT}] [--gui-host 127.0.0.1] [--open] [--data-dir DIR]

Flags (environment variable in brackets):
      --gui-port PORT    GUI port, 0 for any free one (default: ${DEFAULT_GUI_PORT}) [JIM_GUI_PORT]
      --gui-host HOST    GUI address (default: 127.0.0.1); anything else is reachable
                         from other machines and is warned about [JIM_GUI_HOST]
      --open             Open the URL in the desktop's browser [JIM_OPEN]
      --data-dir DIR     History location (default: $XDG_DATA_HOME/jim or
                         ~/.local/share/jim) [JIM_DATA_DIR]
  -h, --help             Show this help

It prints a URL with a one-time access token; open it. The URL works once: for another
browser, send the process SIGUSR1 (the command is printed) and it prints a fresh one. The
server, user and password are entered in the page. Two users on one machine run two GUIs on
different --gui-port values.
`;

/** Parsed `gui` flags. */
export interface GuiCliConfig {
  help: boolean;
  guiPort: number;
  guiHost: string;
  open: boolean;
  dataDir: string | undefined;
}

/**
 * Parses the arguments after `gui`; flags win over environment variables.
 *
 * @example
 * ```ts
 * parseGuiArgs(["--gui-port", "8082", "--open"], {}).guiPort; // 8082
 * ```
 * @throws {UsageError} for an unknown flag, a stray argument or a bad port.
 */
export function parseGuiArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): GuiCliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        "gui-port": { type: "string" },
        "gui-host": { type: "string" },
        open: { type: "boolean" },
        "data-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    const message = (cause as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new UsageError(message, { cause });
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`Unexpected argument: ${positionals[0]}`);
  const envPort = envValue(env, "JIM_GUI_PORT");
  const guiPort = values["gui-port"] !== undefined
    ? parsePort(values["gui-port"], "--gui-port")
    : envPort !== undefined
    ? parsePort(envPort, "JIM_GUI_PORT")
    : DEFAULT_GUI_PORT;
  const guiHost = values["gui-host"] ?? (env.JIM_GUI_HOST || "127.0.0.1");
  if (guiHost.trim() === "" || /\s/.test(guiHost)) {
    throw new UsageError(`Invalid --gui-host: "${guiHost}"`);
  }
  const envOpen = envValue(env, "JIM_OPEN");
  return {
    help: values.help ?? false,
    guiPort,
    guiHost,
    open: values.open ?? (envOpen === undefined ? false : parseBoolean(envOpen, "JIM_OPEN")),
    dataDir: values["data-dir"] ?? (env.JIM_DATA_DIR || undefined),
  };
}

/** Where the command prints. */
export interface GuiIo {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Runs `jim-client gui` until SIGINT or SIGTERM (or `signal`); returns the exit code: 0 after
 * a clean stop, 1 when the GUI cannot start, 2 for a usage error.
 *
 * @example
 * ```ts
 * Deno.exit(await guiMain(["--gui-port", "8082"], Deno.env.toObject()));
 * ```
 */
export async function guiMain(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: GuiIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
  signal?: AbortSignal,
): Promise<number> {
  let config: GuiCliConfig;
  try {
    config = parseGuiArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`jim-client gui: ${error.message}`);
    io.err("Try 'jim-client gui --help'.");
    return ExitCode.Usage;
  }
  if (config.help) {
    io.out(GUI_USAGE.trimEnd());
    return ExitCode.Ok;
  }
  // SIGINT and SIGTERM stop the GUI; an error that escaped a handler is reported, and the
  // GUI keeps serving the page's other requests.
  using lifecycle = startLifecycle({
    signal,
    onEscaped: (message) => io.err(`jim-client gui: ${message}`),
  });
  let stopFreshUrls = () => {};
  try {
    let gui;
    try {
      gui = await startChatGui({
        guiHost: config.guiHost,
        guiPort: config.guiPort,
        dataDir: config.dataDir,
        open: config.open,
        signal: lifecycle.signal,
        warn: (m) => io.err(m),
      });
    } catch (error) {
      const reason = error instanceof Deno.errors.AddrInUse
        ? "address in use (another GUI on this port? try --gui-port)"
        : error instanceof Error
        ? error.message
        : String(error);
      io.err(`jim-client gui: Cannot serve on ${config.guiHost}:${config.guiPort}: ${reason}`);
      return ExitCode.Failure;
    }
    io.out(`Chat GUI: ${gui.url}`);
    io.out("Open that URL in a browser. Press Ctrl+C to stop.");
    io.out(freshUrlHint());
    const current = gui;
    stopFreshUrls = onFreshUrlSignal(() => io.out(`Chat GUI: ${current.freshUrl()}`));
    await gui.finished;
    await gui.close();
    io.out("Chat GUI stopped.");
    return ExitCode.Ok;
  } finally {
    stopFreshUrls();
  }
}
