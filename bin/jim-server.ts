/**
 * `jim-server`: the chat server's program. This composition root puts server/cli.ts's CLI
 * (`serve`, `user …`) together with the admin GUI's `gui` command from ui/server. The GUI's
 * code (Hono, Preact, the browser bundle) is imported only when `gui` runs, so `jim-server
 * serve` loads none of it, not even its source: the import's specifier is computed, which
 * keeps Deno from reading the GUI's module graph at start-up. `deno compile` is told to
 * include it (tasks/_programs.ts).
 *
 * ```sh
 * deno task server                      # serve on 127.0.0.1:7777 with ./jim-server.db
 * deno task start                       # the same with the admin GUI
 * deno task server user add alice       # prompts for the password without echo
 * ```
 *
 * @module
 */
import { main, registerCommand } from "../server/cli.ts";

/** The admin GUI's command module; its type is checked, its code loads only for `gui`. */
export const ADMIN_GUI_MODULE: string = new URL("../ui/server/cli.ts", import.meta.url).href;
type AdminGuiModule = typeof import("../ui/server/cli.ts");

registerCommand("gui", {
  help: "gui                    Run the chat server with the admin GUI in a browser",
  inherits: ["serve"],
  flags: {
    "gui-host": {
      type: "string",
      env: "JIM_GUI_HOST",
      help: "Address of the admin GUI (default: 127.0.0.1; others are warned about)",
    },
    "gui-port": {
      type: "string",
      env: "JIM_GUI_PORT",
      help: "Port of the admin GUI, 0 for any (default: 8080)",
    },
    "open": { type: "boolean", env: "JIM_OPEN", help: "Open the admin GUI in a browser" },
  },
  run: async (inv, io) => {
    const { runGuiInvocation }: AdminGuiModule = await import(ADMIN_GUI_MODULE);
    return await runGuiInvocation(inv, io);
  },
});

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
