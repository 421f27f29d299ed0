/**
 * `jim-server gui`: the admin GUI with the JIM server in the same process. bin/jim-server.ts
 * registers the command with server/cli.ts, which parses the flags (all of `serve`'s plus
 * `--gui-host`, `--gui-port`, `--open`), and loads this module only when `gui` runs.
 *
 * @module
 */
import { ExitCode, startLifecycle } from "../../common/lifecycle.ts";
import { invalidValue, parsePort } from "../../common/usage.ts";
import {
  type CliIo,
  expectArgs,
  formatEvent,
  type Invocation,
  LEVEL_TYPES,
  type ServeSettings,
  serveSettings,
} from "../../server/cli.ts";
import { describeDatabase, type ServerEvent, type ServerEventType } from "../../server/mod.ts";
import { openServeResources } from "../../server/serve_resources.ts";
import { isLoopbackHost } from "../mod.ts";
import { freshUrlHint, onFreshUrlSignal } from "../_gui_server.ts";
import { startAdminGui } from "./mod.ts";

/** The admin GUI's default port. */
export const DEFAULT_GUI_PORT = 8080;

/** The GUI's own flags. */
export interface GuiFlags {
  /** 127.0.0.1 by default. */
  guiHost?: string;
  /** 8080 by default. */
  guiPort?: number;
  /** Open the URL with xdg-open. */
  open?: boolean;
  /** Prints a server event if the log level wants it (as `serve` does). */
  logEvent?: (event: ServerEvent) => void;
}

/** Where the command prints. */
export interface GuiIo {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Runs `jim-server gui` from the parsed command line: the serve settings and the GUI's own
 * flags, server events printed per `--log-level` as `serve` prints them.
 *
 * @example
 * ```ts
 * import { parseInvocation } from "../../server/cli.ts";
 * const code = await runGuiInvocation(parseInvocation(["gui", "--gui-port", "0"]), {
 *   out: console.log,
 *   err: console.error,
 *   env: (name) => Deno.env.get(name),
 * });
 * ```
 * @throws {UsageError} for a bad flag value.
 */
export function runGuiInvocation(inv: Invocation, io: CliIo): Promise<number> {
  expectArgs(inv, 0);
  const rawPort = inv.values["gui-port"] as string | undefined;
  const guiPort = rawPort === undefined ? DEFAULT_GUI_PORT : parsePort(rawPort, "--gui-port");
  const guiHost = inv.values["gui-host"] as string | undefined;
  if (guiHost !== undefined && guiHost.trim() === "") {
    throw invalidValue("--gui-host", guiHost, "a host name or an IP address");
  }
  const settings = serveSettings(inv.values);
  const shown = new Set<ServerEventType>(LEVEL_TYPES[settings.logLevel]);
  const logEvent = (event: ServerEvent) => {
    if (shown.has(event.type)) io.out(formatEvent(event, settings.logFormat));
  };
  return runGuiCommand(
    settings,
    { guiHost, guiPort, open: inv.values.open === true, logEvent },
    io,
  );
}

/**
 * Runs the admin GUI until SIGINT or SIGTERM (or `signal`). Returns the exit code.
 *
 * @example
 * ```ts
 * import { serveSettings } from "../../server/cli.ts";
 * await runGuiCommand(serveSettings({}), { guiPort: 8080 }, { out: console.log, err: console.error });
 * ```
 */
export async function runGuiCommand(
  settings: ServeSettings,
  flags: GuiFlags,
  io: GuiIo,
  signal?: AbortSignal,
): Promise<number> {
  const guiHost = flags.guiHost ?? "127.0.0.1";
  const guiPort = flags.guiPort ?? DEFAULT_GUI_PORT;
  const { storage, tls } = await openServeResources(settings);
  // SIGINT and SIGTERM stop the GUI; an error that escaped a handler is logged as `serve`
  // logs it, and the GUI keeps running.
  using lifecycle = startLifecycle({
    signal,
    onEscaped: (message) => {
      if (flags.logEvent) flags.logEvent({ seq: 0, time: Date.now(), type: "error", message });
      else io.err(`jim-server: ${message}`);
    },
  });
  let stopFreshUrls = () => {};
  try {
    let gui;
    try {
      gui = await startAdminGui({
        storage,
        jim: {
          host: settings.host,
          port: settings.port,
          legacyAuth: settings.legacyAuth,
          tls,
          limits: settings.limits,
          offlineMessages: settings.offlineMessages,
        },
        guiHost,
        guiPort,
        open: flags.open,
        signal: lifecycle.signal,
        warn: (m) => io.err(m),
        onServerEvent: flags.logEvent,
      });
    } catch (error) {
      const reason = error instanceof Deno.errors.AddrInUse
        ? "address in use"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new Error(`Cannot serve the admin GUI on ${guiHost}:${guiPort}: ${reason}`);
    }
    // Stopped before the GUI listened for it (the outer signal was already aborted).
    if (lifecycle.signal.aborted) await gui.close();
    const jim = gui.controller.status();
    io.out(
      jim.running
        ? `JIM server listening on ${jim.host}:${jim.port} (database ${
          describeDatabase(settings.db)
        })`
        : `JIM server stopped: ${jim.error ?? "not started"}; start it from the GUI`,
    );
    io.out(`Admin GUI: open ${gui.url}`);
    io.out(freshUrlHint());
    if (!isLoopbackHost(guiHost)) io.err(`WARNING: keep this URL secret: it grants admin access`);
    stopFreshUrls = onFreshUrlSignal(() => io.out(`Admin GUI: open ${gui.freshUrl()}`));
    await gui.finished;
    await gui.close();
    io.out("Admin GUI stopped");
    return ExitCode.Ok;
  } finally {
    stopFreshUrls();
    await storage.close();
  }
}
