/**
 * Tests that need an outside program (python3, tmux, util-linux `script`): the program is
 * looked up on PATH, and a missing one is never passed over in silence. Under CI=true the
 * test fails and names the program; elsewhere it is ignored and a line on stderr says which
 * test was skipped and why.
 *
 * @example
 * ```ts
 * import { testWithTools } from "./_tools.ts";
 * testWithTools(["tmux"], "the console on a terminal", async (_t, { tmux }) => {
 *   await new Deno.Command(tmux, { args: ["-V"] }).output();
 * });
 * ```
 *
 * @module
 */

/** Whether CI=true (or any value but empty, 0 and false) is set. */
export function underCi(env: (name: string) => string | undefined = Deno.env.get): boolean {
  const ci = env("CI");
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

/**
 * The absolute path of an executable `name` found on PATH, as a shell would find it, or
 * undefined.
 */
export function findTool(name: string, path = Deno.env.get("PATH") ?? ""): string | undefined {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = `${dir.replace(/\/+$/, "")}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** The tools a test asked for, by name, as absolute paths. */
export type ToolPaths<N extends string = string> = Record<N, string>;

/** What {@linkcode testWithTools} decided for a set of tools. */
export interface ToolCheck {
  /** Paths of the tools that were found. */
  paths: ToolPaths;
  /** Names of the tools that were not found. */
  missing: string[];
}

/** Looks every tool up on PATH. */
export function checkTools(names: readonly string[]): ToolCheck {
  const paths: ToolPaths = {};
  const missing: string[] = [];
  for (const name of names) {
    const found = findTool(name);
    if (found) paths[name] = found;
    else missing.push(name);
  }
  return { paths, missing };
}

/** The sentence that names what is missing, shared by the failure and the skip notice. */
export function missingToolsMessage(missing: readonly string[]): string {
  const list = missing.join(", ");
  return `${missing.length === 1 ? "Tool" : "Tools"} not found on PATH: ${list}`;
}

/**
 * Registers a Deno test that needs `tools`. The test gets their absolute paths. When one is
 * missing: under CI=true the test runs and fails naming it; elsewhere the test is ignored
 * and stderr says so.
 */
export function testWithTools<const N extends string>(
  tools: readonly N[],
  name: string,
  fn: (t: Deno.TestContext, paths: ToolPaths<N>) => Promise<void>,
  options: Omit<Deno.TestDefinition, "name" | "fn" | "ignore"> = {},
): void {
  const { paths, missing } = checkTools(tools);
  if (missing.length === 0) {
    Deno.test({ ...options, name, fn: (t) => fn(t, paths as ToolPaths<N>) });
    return;
  }
  const why = missingToolsMessage(missing);
  if (underCi()) {
    Deno.test({
      ...options,
      name,
      fn() {
        throw new Error(`${why} (CI=true: this test must run; install the tool)`);
      },
    });
    return;
  }
  console.error(`SKIPPING "${name}": ${why}. Under CI=true this is a failure.`);
  Deno.test({ ...options, name, ignore: true, fn: () => {} });
}
