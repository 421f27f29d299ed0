/**
 * Installs `jim-server` and `jim-client` commands with `deno install -g`, with the same
 * permissions as the compiled binaries.
 *
 *     deno task install [--root DIR]
 *
 * The commands land in DIR/bin (default: Deno's install root, usually ~/.deno/bin).
 */
import { parseArgs } from "node:util";
import { PROGRAMS, ROOT } from "./_programs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("Usage: deno task install [--root DIR]");
  Deno.exit(0);
}

for (const program of PROGRAMS) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "install",
      "--global",
      "--force",
      "--quiet",
      "--config",
      `${ROOT}deno.json`,
      ...program.permissions,
      ...program.runtimeFlags,
      "--name",
      program.name,
      ...(values.root ? ["--root", values.root] : []),
      program.entry,
    ],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) {
    console.error(`Cannot install ${program.name}: deno install failed`);
    Deno.exit(1);
  }
  console.log(`installed ${program.name}${values.root ? ` into ${values.root}/bin` : ""}`);
}
