/**
 * `jim-server gui`: the admin GUI with the JIM server in the same process. server/main.ts
 * parses the flags (all of `serve`'s plus `--gui-host`, `--gui-port`, `--open`) and calls
 * {@linkcode runGuiCommand}.
 *
 * @module
 */
import type { ServeSettings } from "../../server/main.ts";
import type { ServerEvent } from "../../server/mod.ts";
import { openServeResources, STOP_SIGNALS } from "../../server/serve_resources.ts";
import { isLoopbackHost } from "../mod.ts";
import { freshUrlHint, onFreshUrlSignal } from "../_gui_server.ts";
import { startAdminGui } from "./mod.ts";

/** One-line help of the `gui` command, in server/main.ts's format. */
export const GUI_HELP =
  "gui                    Run the chat server with the admin GUI in a browser";

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
 * Parses `--gui-port`. Returns a message for a bad value instead of throwing so the caller
 * can raise its own usage error.
 *
 * @example
 * ```ts
 * parseGuiPort("8080"); // 8080
 * parseGuiPort("x"); // "Invalid value for --gui-port: x (0 to 65535)"
 * ```
 */
export function parseGuiPort(raw: string | undefined): number | string {
  if (raw === undefined) return 8080;
  const text = raw.trim();
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    return `Invalid value for --gui-port: ${raw} (0 to 65535)`;
  }
  return Number(text);
}

/**
 * Runs the admin GUI until SIGINT or SIGTERM (or `signal`). Returns the exit code.
 *
 * @example
 * ```ts
 * import { serveSettings } from "../../server/main.ts";
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
  const { storage, tls } = await openServeResources(settings);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const onOuterAbort = () => stop.abort();
  signal?.addEventListener("abort", onOuterAbort, { once: true });
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
        },
        guiHost,
        guiPort: flags.guiPort ?? 8080,
        open: flags.open,
        signal: stop.signal,
        warn: (m) => io.err(m),
        onServerEvent: flags.logEvent,
      });
    } catch (error) {
      const reason = error instanceof Deno.errors.AddrInUse
        ? "address in use"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new Error(
        `Cannot serve the admin GUI on ${guiHost}:${flags.guiPort ?? 8080}: ${reason}`,
      );
    }
    // Listen for signals before printing the URL: whoever reads it may stop us right away.
    for (const s of STOP_SIGNALS) Deno.addSignalListener(s, onSignal);
    const jim = gui.controller.status();
    io.out(
      jim.running
        ? `JIM server listening on ${jim.host}:${jim.port} (database ${settings.db})`
        : `JIM server stopped: ${jim.error ?? "not started"}; start it from the GUI`,
    );
    io.out(`Admin GUI: open ${gui.url}`);
    io.out(freshUrlHint());
    if (!isLoopbackHost(guiHost)) io.err(`WARNING: keep this URL secret: it grants admin access`);
    stopFreshUrls = onFreshUrlSignal(() => io.out(`Admin GUI: open ${gui.freshUrl()}`));
    await gui.finished;
    await gui.close();
    io.out("Admin GUI stopped");
    return 0;
  } finally {
    stopFreshUrls();
    signal?.removeEventListener("abort", onOuterAbort);
    for (const s of STOP_SIGNALS) {
      try {
        Deno.removeSignalListener(s, onSignal);
      } catch {
        // Never added.
      }
    }
    await storage.close();
  }
}
