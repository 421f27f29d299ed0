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
 * A young generation of at most 4 MiB per semi-space keeps the heap compact after a login
 * burst: 10,000 idle connections grow the server's RSS by about 74 MiB, against 115 MiB with
 * V8's defaults. `--optimize-for-size` was 6 MiB smaller still, but its old-generation policy
 * made garbage collection 13% of ping-pong with stored messages, and cost 20 to 30% of the
 * throughput (docs/benchmarks.md, "The server's V8 flags").
 */
export const SERVER_V8_FLAGS = "--v8-flags=--max-semi-space-size=4";

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
