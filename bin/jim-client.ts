/**
 * `jim-client`: the client's program. This composition root puts client/cli.ts's console
 * client (`chat`, `send`, `history`) together with the chat GUI's `gui` command from
 * ui/client, whose code (Hono, Preact, the browser bundle) is imported only when `gui` runs;
 * the import's specifier is computed, so Deno does not even read the GUI's source for the
 * console client. `deno compile` is told to include it (tasks/_programs.ts).
 *
 * ```sh
 * deno task client --user alice         # interactive chat
 * deno task client:gui --gui-port 8082  # the chat GUI
 * ```
 *
 * @module
 */
import { type CommandContext, COMMANDS, main } from "../client/cli.ts";

type Env = Record<string, string | undefined>;

/** The chat GUI's command module; its type is checked, its code loads only for `gui`. */
export const CHAT_GUI_MODULE: string = new URL("../ui/client/cli.ts", import.meta.url).href;
type ChatGuiModule = typeof import("../ui/client/cli.ts");

/** `jim-client gui ARGS`: the chat GUI, with its own flags (--gui-port, --open, …). */
async function gui(argv: readonly string[], env: Env): Promise<number> {
  const { guiMain }: ChatGuiModule = await import(CHAT_GUI_MODULE);
  return await guiMain(argv, env);
}

// Reached only when global flags come before `gui` (`--data-dir DIR gui`); `gui …` itself
// goes to the GUI's own parser below.
COMMANDS.gui = (context: CommandContext) => {
  const dataDir = context.config.dataDir ? ["--data-dir", context.config.dataDir] : [];
  return gui([...dataDir, ...context.config.args], context.env);
};

/**
 * Runs jim-client with `argv` and returns the exit code: 0 ok, 1 failure, 2 usage.
 *
 * @example
 * ```ts
 * import { run } from "./jim-client.ts";
 * Deno.exit(await run(["gui", "--gui-port", "8082"]));
 * ```
 */
export function run(argv: readonly string[], env: Env = Deno.env.toObject()): Promise<number> {
  return argv[0] === "gui" ? gui(argv.slice(1), env) : main(argv, env);
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
