/**
 * The server under test, as a pinned subprocess: jim-server exactly as it ships (entry point,
 * permissions and V8 flags from tasks/_programs.ts), the baseline relay (relay.ts) or, for the
 * idle workload, the idle floor (idle_floor.ts), with the same V8 flags. Each workload gets a
 * fresh one.
 *
 * @module
 */
import { PROGRAMS } from "../_programs.ts";
import { pinnedCommand, type Pinning } from "./pinning.ts";

/** Which server. */
export type TargetKind = "jim-server" | "relay" | "idle floor";

const JIM_SERVER = PROGRAMS.find((program) => program.name === "jim-server")!;
const RELAY = new URL("./relay.ts", import.meta.url).pathname;
const IDLE_FLOOR = new URL("./idle_floor.ts", import.meta.url).pathname;

/**
 * The runtime flags both servers run with: jim-server's own, unless BENCH_V8_FLAGS replaces
 * them (`BENCH_V8_FLAGS=` runs V8 with its defaults) to compare settings.
 *
 * @example
 * ```ts
 * runtimeFlags(); // ["--v8-flags=--max-semi-space-size=4"]
 * ```
 */
export function runtimeFlags(): string[] {
  const override = Deno.env.get("BENCH_V8_FLAGS");
  if (override === undefined) return [...JIM_SERVER.runtimeFlags];
  return override ? [`--v8-flags=${override}`] : [];
}

/**
 * The command line of a jim-server subcommand, as the installed program runs it.
 *
 * @example
 * ```ts
 * jimServerArgs(["user", "list", "--db", "bench.db"]);
 * ```
 */
export function jimServerArgs(
  args: readonly string[],
  extraFlags: readonly string[] = [],
): string[] {
  return [
    "run",
    ...JIM_SERVER.permissions,
    ...runtimeFlags(),
    ...extraFlags,
    JIM_SERVER.entry,
    ...args,
  ];
}

/** What {@linkcode startTarget} needs. */
export interface TargetOptions {
  kind: TargetKind;
  /** jim-server's database: a SQLite file or a postgres:// URL (without its password). */
  dbPath: string;
  pinning: Pinning;
  /** Connection caps for jim-server: at least the largest workload. */
  connectionLimit: number;
  /** Write a CPU profile (`--cpu-prof`) into this directory when the server exits. */
  profileDir?: string;
  /** More `serve` flags for jim-server, e.g. `--cluster URL --node-name a`. */
  serveArgs?: readonly string[];
  /** More runtime flags, e.g. `--unstable-net` for a cluster node's reusePort. */
  runtimeFlags?: readonly string[];
  /** Added to the environment, e.g. PGPASSWORD, which must not be in argv. */
  env?: Record<string, string>;
}

/** A running server. Dispose of it to stop it (SIGTERM, as an operator would). */
export interface Target extends AsyncDisposable {
  readonly kind: TargetKind;
  readonly port: number;
  readonly pid: number;
  close(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number, status: Promise<Deno.CommandStatus>): Promise<void> {
  let exited = false;
  status.then(() => (exited = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`The server did not listen on 127.0.0.1:${port}`);
}

/**
 * Starts a server on a free loopback port and waits until it accepts connections.
 *
 * @example
 * ```ts
 * await using server = await startTarget({ kind: "relay", dbPath, pinning, connectionLimit: 1 });
 * ```
 */
export async function startTarget(options: TargetOptions): Promise<Target> {
  const port = freePort();
  const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const limit = String(options.connectionLimit);
  const args = options.kind !== "jim-server"
    ? [
      "run",
      "--allow-net",
      ...runtimeFlags(),
      ...profile,
      options.kind === "relay" ? RELAY : IDLE_FLOOR,
      String(port),
    ]
    : jimServerArgs([
      "serve",
      "--db",
      options.dbPath,
      "--port",
      String(port),
      "--legacy-auth",
      "--rate-limit",
      "0",
      "--max-connections",
      limit,
      "--max-connections-per-ip",
      limit,
      "--log-level",
      "error",
      ...(options.serveArgs ?? []),
    ], [...profile, ...(options.runtimeFlags ?? [])]);
  const child = pinnedCommand(options.pinning.server, Deno.execPath(), args, {
    ...(options.env ? { env: options.env } : {}),
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      // jim-server lingers on its connections before it exits; the relay exits at once.
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone in the meantime.
        }
      }, 15_000);
      await child.status;
      clearTimeout(timer);
    })();
  try {
    await waitForPort(port, child.status);
  } catch (error) {
    await close();
    throw error;
  }
  return { kind: options.kind, port, pid: child.pid, close, [Symbol.asyncDispose]: close };
}
