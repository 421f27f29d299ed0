/**
 * The two programs jim ships and exactly the permissions each needs, shared by the compile
 * and install tasks so that a compiled binary and an installed command behave alike.
 */

/** A program built from an entry point with a fixed permission set. */
export interface Program {
  name: "jim-server" | "jim-client";
  entry: string;
  permissions: string[];
  /** Flags for the runtime, embedded in the binary or the installed command. */
  runtimeFlags: string[];
  /**
   * Modules the entry point imports with a computed specifier (the `gui` commands, so that the
   * console programs never read them); `deno compile` must be told to embed them.
   */
  lazyModules: string[];
}

const root = new URL("..", import.meta.url);

/**
 * V8 trades some peak speed for a compact heap. Measured with `deno task bench`: 10,000 idle
 * connections grow the server's RSS by 74 MiB instead of 162 MiB, while ping-pong and flood
 * throughput stay within run-to-run noise (docs/benchmarks.md).
 */
export const SERVER_V8_FLAGS = "--v8-flags=--optimize-for-size";

/** Opening the GUI in a browser (`--open`) runs the desktop's opener, and nothing else. */
const OPENERS = "--allow-run=xdg-open,open";

export const PROGRAMS: readonly Program[] = [
  {
    name: "jim-server",
    entry: new URL("bin/jim-server.ts", root).pathname,
    // Network: the chat port and the GUI port; files: the database and TLS key pair;
    // environment: the JIM_* settings; prlimit: the open-file limit the connection cap fits under.
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${OPENERS},prlimit`,
    ],
    runtimeFlags: [SERVER_V8_FLAGS],
    // The admin GUI, and the PostgreSQL adapter with its client (loaded for a postgres:// --db).
    lazyModules: [
      new URL("ui/server/cli.ts", root).pathname,
      new URL("server/storage/postgres/mod.ts", root).pathname,
    ],
  },
  {
    name: "jim-client",
    entry: new URL("bin/jim-client.ts", root).pathname,
    // Files: the history database under the data directory and a CA certificate;
    // environment: JIM_*, HOME, XDG_DATA_HOME and NO_COLOR.
    permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env", OPENERS],
    runtimeFlags: [],
    lazyModules: [new URL("ui/client/cli.ts", root).pathname],
  },
];

/** The repository root, as a path. */
export const ROOT = root.pathname;
