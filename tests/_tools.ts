/**
 * Outside programs that tests need, and the one rule for a missing one: under CI=true the
 * test runs and fails, naming the program and the Debian package that installs it;
 * elsewhere the test is ignored, and a line on stderr says which test and why. Nothing is
 * passed over in silence.
 *
 * Every such test is registered through {@linkcode testWithTools} (or, for a step,
 * {@linkcode withTools}). The programs are {@linkcode Tool}s: the ones found on PATH are
 * here; chromium is in tests/_browser.ts, nats-server and PostgreSQL in tests/_services.ts,
 * next to the code that finds them. Their launchers fail with the same message
 * ({@linkcode toolPath}).
 *
 * @example
 * ```ts
 * import { testWithTools, TMUX } from "./_tools.ts";
 * testWithTools([TMUX], "the console on a terminal", async (_t, { tmux }) => {
 *   await new Deno.Command(tmux, { args: ["-V"] }).output();
 * });
 * ```
 *
 * @module
 */

/** An outside program a test needs. */
export interface Tool<N extends string = string> {
  /** Its name, in messages and as the key of its path in {@linkcode ToolPaths}. */
  readonly name: N;
  /** The Debian package that installs it. */
  readonly debian: string;
  /** Where it was looked for, for messages: "on PATH", "at /usr/bin/chromium". */
  readonly where: string;
  /** Its absolute path (for PostgreSQL, its bin directory), or undefined when missing. */
  locate(): string | undefined;
}

/** The tools a test asked for, by name, as absolute paths. */
export type ToolPaths<N extends string = string> = Record<N, string>;

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

/** A program looked up on PATH. */
export function onPath<const N extends string>(name: N, debian: string): Tool<N> {
  return { name, debian, where: "on PATH", locate: () => findTool(name) };
}

/** python3: the seed client and raw TCP resets. */
export const PYTHON3: Tool<"python3"> = onPath("python3", "python3");
/** tmux: the console client on a real terminal. */
export const TMUX: Tool<"tmux"> = onPath("tmux", "tmux");
/** util-linux `script`: a pseudo-terminal for a password prompt. */
export const SCRIPT: Tool<"script"> = onPath("script", "bsdutils");
/** prlimit: a server started under a low descriptor limit. */
export const PRLIMIT: Tool<"prlimit"> = onPath("prlimit", "util-linux");
/** A C compiler: the benchmark's load generator. */
export const CC: Tool<"cc"> = onPath("cc", "gcc");

/** "tmux not found on PATH (apt-get install tmux)": the sentence every notice uses. */
export function missingToolMessage(tool: Tool): string {
  return `${tool.name} not found ${tool.where} (apt-get install ${tool.debian})`;
}

/**
 * The path of `tool`.
 *
 * @throws {Error} naming the tool and its Debian package when it is missing.
 */
export function toolPath(tool: Tool): string {
  const path = tool.locate();
  if (path === undefined) throw new Error(`Cannot run without ${missingToolMessage(tool)}`);
  return path;
}

/** A test or step definition whose function also gets the tools' paths. */
export interface ToolTestDefinition<N extends string>
  extends Omit<Deno.TestDefinition, "fn" | "name"> {
  name: string;
  fn: (t: Deno.TestContext, paths: ToolPaths<N>) => void | Promise<void>;
}

/**
 * The Deno test (or step) definition for a test that needs `tools`: as given when they are
 * all found; failing at once, naming the missing ones, under CI=true; ignored elsewhere,
 * with a line on stderr saying why.
 *
 * @example
 * ```ts
 * import { PYTHON3, withTools } from "./_tools.ts";
 * Deno.test("resets", async (t) => {
 *   await t.step(withTools([PYTHON3], {
 *     name: "a real reset",
 *     fn: (_t, { python3 }) => console.log(python3),
 *   }));
 * });
 * ```
 */
export function withTools<const N extends string>(
  tools: readonly Tool<N>[],
  definition: ToolTestDefinition<N>,
): Deno.TestDefinition {
  const { fn, ...rest } = definition;
  const paths = {} as ToolPaths<N>;
  const missing: Tool<N>[] = [];
  for (const tool of tools) {
    const path = tool.locate();
    if (path === undefined) missing.push(tool);
    else paths[tool.name] = path;
  }
  if (missing.length === 0 || definition.ignore === true) {
    return { ...rest, fn: (t) => fn(t, paths) };
  }
  const why = missing.map(missingToolMessage).join("; ");
  if (underCi()) {
    return {
      ...rest,
      fn() {
        throw new Error(`Cannot run this test: ${why}. Under CI=true it must run.`);
      },
    };
  }
  console.error(`SKIPPING "${definition.name}": ${why}. Under CI=true this is a failure.`);
  return { ...rest, ignore: true, fn: () => {} };
}

/**
 * Registers a Deno test that needs `tools` (see {@linkcode withTools}); called like
 * `Deno.test`, with the tools first.
 */
export function testWithTools<const N extends string>(
  tools: readonly Tool<N>[],
  definition: ToolTestDefinition<N>,
): void;
export function testWithTools<const N extends string>(
  tools: readonly Tool<N>[],
  name: string,
  fn: ToolTestDefinition<N>["fn"],
  options?: Omit<ToolTestDefinition<N>, "name" | "fn">,
): void;
export function testWithTools<const N extends string>(
  tools: readonly Tool<N>[],
  nameOrDefinition: string | ToolTestDefinition<N>,
  fn?: ToolTestDefinition<N>["fn"],
  options: Omit<ToolTestDefinition<N>, "name" | "fn"> = {},
): void {
  const definition = typeof nameOrDefinition === "string"
    ? { ...options, name: nameOrDefinition, fn: fn! }
    : nameOrDefinition;
  Deno.test(withTools(tools, definition));
}
