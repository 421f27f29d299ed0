/**
 * Builds standalone dist/jim-server and dist/jim-client with `deno compile`. The GUI
 * bundles are TypeScript modules the entry points import, so they are embedded as code.
 *
 *     deno task compile [--target x86_64-unknown-linux-gnu] [--out dist]
 *
 * `deno compile` downloads Deno's runtime (denort) unless DENORT_BIN names a local copy;
 * where neither works, this prints one line with the cause and the way out and exits 1.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { PROGRAMS, ROOT } from "./_programs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string" },
    out: { type: "string", default: join(ROOT, "dist") },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("Usage: deno task compile [--target TRIPLE] [--out DIR]");
  Deno.exit(0);
}

await Deno.mkdir(values.out!, { recursive: true });
for (const program of PROGRAMS) {
  const output = join(values.out!, program.name);
  const args = [
    "compile",
    "--quiet",
    ...program.permissions,
    ...program.runtimeFlags,
    ...program.lazyModules.flatMap((module) => ["--include", module]),
    ...(values.target ? ["--target", values.target] : []),
    "--output",
    output,
    program.entry,
  ];
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const text = new TextDecoder().decode(result.stderr);
    if (/denort|dl\.deno\.land|dns error|error sending request/i.test(text)) {
      console.error(
        `Cannot compile ${program.name}: deno compile could not download Deno's runtime (denort); ` +
          "set DENORT_BIN to a local denort binary of the same version, or build on a machine with internet access",
      );
    } else {
      console.error(`Cannot compile ${program.name}: ${lastLine(text)}`);
    }
    Deno.exit(1);
  }
  console.log(`built ${output}`);
}

function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim());
  return lines.find((l) => l.startsWith("error:"))?.slice(6).trim() ??
    lines.filter(Boolean).at(-1) ?? "unknown error";
}
