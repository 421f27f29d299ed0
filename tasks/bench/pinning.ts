/**
 * CPU pinning for the bench: the server under test on core 0, the load generator on core 1,
 * with `taskset -c`, so that neither steals the other's core and the scheduler does not
 * migrate them mid-run. Without taskset, or with fewer than two usable cores, both run
 * unpinned and the bench says so.
 *
 * @module
 */

/** How to start the two sides of a run. */
export interface Pinning {
  /** Prefix for the server's command line, e.g. `["taskset", "-c", "0"]`; empty when unpinned. */
  readonly server: readonly string[];
  /** Prefix for the load generator's command line. */
  readonly generator: readonly string[];
  /** One line for the output: what was pinned where, or why nothing was. */
  readonly description: string;
}

async function tasksetWorks(core: number): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-c", String(core), "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Pins to cores 0 and 1 when `taskset` can place a process on each.
 *
 * @example
 * ```ts
 * const pinning = await detectPinning();
 * console.error(pinning.description);
 * ```
 */
export async function detectPinning(): Promise<Pinning> {
  if (!(await tasksetWorks(0))) {
    return {
      server: [],
      generator: [],
      description: "taskset not found: server and load generator NOT pinned",
    };
  }
  if (!(await tasksetWorks(1))) {
    return {
      server: [],
      generator: [],
      description: "core 1 not usable: server and load generator NOT pinned",
    };
  }
  return {
    server: ["taskset", "-c", "0"],
    generator: ["taskset", "-c", "1"],
    description: "server pinned to core 0, load generator to core 1 (taskset -c)",
  };
}

/**
 * A Deno.Command for `command args…` behind a pinning prefix. taskset execs the command, so
 * the child's pid is the pinned program's own.
 *
 * @example
 * ```ts
 * pinnedCommand(["taskset", "-c", "0"], Deno.execPath(), ["run", "relay.ts"], { stdout: "null" });
 * ```
 */
export function pinnedCommand(
  prefix: readonly string[],
  command: string,
  args: readonly string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  const [first, ...rest] = prefix;
  return first === undefined
    ? new Deno.Command(command, { ...options, args: [...args] })
    : new Deno.Command(first, { ...options, args: [...rest, command, ...args] });
}
