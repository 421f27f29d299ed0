/**
 * `deno task cluster:demo`: a jim cluster on this machine. Starts nats-server with
 * JetStream and a throwaway PostgreSQL (the launchers of tests/_services.ts), creates the
 * users alice and bob, runs three jim-server nodes on loopback with `--db postgres://…`,
 * `--cluster nats://…` and `--node-name`, prints how to connect, and stops and deletes
 * everything on Ctrl-C (SIGINT) or SIGTERM. docs/cluster.md walks through it.
 *
 *     deno task cluster:demo [--nodes 3] [--port 7771] [--password PW]
 *
 * `--port` is the first node's port (the others follow it); `--port 0` takes free ports.
 * Without `--password` (or JIM_DEMO_PASSWORD) the demo users get a random one, printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { addUser } from "../server/mod.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import { parseNumber, parsePort, UsageError } from "../common/usage.ts";
import { ExitCode } from "../common/lifecycle.ts";
import {
  type NatsServer,
  type PostgresServer,
  startNats,
  startPostgres,
} from "../tests/_services.ts";

const JIM_SERVER = new URL("../bin/jim-server.ts", import.meta.url).pathname;
const HOST = "127.0.0.1";
const DEMO_USERS = ["alice", "bob"] as const;
/** How long a node may take to listen on a loaded machine. */
const START_TIMEOUT_MS = 60_000;
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

/** Parsed flags of the demo. */
export interface DemoConfig {
  nodes: number;
  /** The first node's port; 0 for free ports. */
  port: number;
  password: string | undefined;
}

/**
 * Parses the demo's flags.
 *
 * @example
 * ```ts
 * parseDemoArgs(["--nodes", "2", "--port", "0"], {}).nodes; // 2
 * ```
 * @throws {UsageError} for an unknown flag or a bad value.
 */
export function parseDemoArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): DemoConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: "string" },
        port: { type: "string" },
        password: { type: "string" },
      },
      strict: true,
    }));
  } catch (cause) {
    throw new UsageError((cause as Error).message, { cause });
  }
  const nodes = values.nodes === undefined
    ? 3
    : parseNumber(values.nodes, "--nodes", { integer: true, min: 1, max: 9 });
  const port = values.port === undefined ? 7771 : parsePort(values.port, "--port");
  if (port !== 0 && port + nodes - 1 > 65535) {
    throw new UsageError(`Invalid --port: ${nodes} nodes from ${port} go past 65535`);
  }
  const password = values.password ?? (env.JIM_DEMO_PASSWORD || undefined);
  if (password !== undefined && password.length > 1024) {
    throw new UsageError("Invalid --password: exceeds 1024 characters");
  }
  return { nodes, port, password };
}

/** A jim-server node of the demo, its output in a log file. */
class Node {
  readonly #child: Deno.ChildProcess;
  readonly #logging: Promise<unknown>;
  #exited = false;

  constructor(
    readonly name: string,
    readonly log: string,
    args: string[],
    env: Record<string, string>,
  ) {
    // setpriv's parent-death signal stops the node with the demo, even when the demo is
    // killed with SIGKILL.
    const setpriv = which("setpriv");
    const deno = Deno.execPath();
    // Cluster nodes listen with reusePort, still behind --unstable-net in Deno 2.9.
    const command = ["run", "-A", "--unstable-net", JIM_SERVER, ...args];
    this.#child = new Deno.Command(setpriv ?? deno, {
      args: setpriv ? ["--pdeathsig", "TERM", "--", deno, ...command] : command,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child.status.then(() => (this.#exited = true));
    const file = Deno.openSync(log, { write: true, create: true, append: true, mode: 0o600 });
    // Written chunk by chunk (FsFile.writable holds data back), so that the log is current.
    let writes = Promise.resolve();
    const copy = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        writes = writes.then(async () => {
          for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
        });
        await writes;
      }
    };
    this.#logging = Promise.all([copy(this.#child.stdout), copy(this.#child.stderr)])
      .finally(() => writes.finally(() => file.close()));
  }

  /** The node's process id (the setpriv wrapper execs it, so it is the same process). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits until the node says where it listens; returns the port. */
  async listening(signal: AbortSignal): Promise<number> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (true) {
      signal.throwIfAborted();
      const text = await Deno.readTextFile(this.log).catch(() => "");
      const match = /Listening on [^\s]*:(\d+)/.exec(text);
      if (match) return Number(match[1]);
      if (this.#exited || Date.now() > deadline) {
        throw new Error(
          `${this.name} did not start${this.#exited ? " (it exited)" : ""}:\n${text.slice(-2000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM, then SIGKILL if it has not stopped within 10 s. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // gone in between
      }
      const timer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, STOP_TIMEOUT_MS);
      await this.#child.status;
      clearTimeout(timer);
    }
    await this.#child.status;
    await this.#logging;
  }
}

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/bin", "/bin"])) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** What the demo runs, for {@linkcode stopDemo}. */
interface Demo {
  dir: string;
  nats?: NatsServer;
  pg?: PostgresServer;
  nodes: Node[];
}

async function stopDemo(demo: Demo, say: (line: string) => void): Promise<void> {
  await Promise.all(demo.nodes.map((n) => n.stop()));
  await demo.nats?.close();
  await demo.pg?.close();
  await Deno.remove(demo.dir, { recursive: true }).catch(() => {});
  say("Cluster demo stopped: nodes, NATS and PostgreSQL are gone, and so is their data.");
}

/**
 * Runs the demo until `signal` aborts; returns the exit code.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGINT", () => stop.abort());
 * Deno.exit(await runDemo({ nodes: 3, port: 7771, password: undefined }, stop.signal));
 * ```
 */
export async function runDemo(
  config: DemoConfig,
  signal: AbortSignal,
  say: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  const demo: Demo = { dir: await Deno.makeTempDir({ prefix: "jim-cluster-demo-" }), nodes: [] };
  try {
    say("Starting PostgreSQL and nats-server…");
    [demo.pg, demo.nats] = await Promise.all([startPostgres({ signal }), startNats({ signal })]);
    const pg = demo.pg;
    const password = config.password ?? randomPassword();
    {
      await using storage = await PostgresStorage.open(pg.url, { pool: 2 });
      for (const login of DEMO_USERS) await addUser(storage.users, login, password);
    }
    // The database password reaches the nodes in their environment, never in argv, where
    // `ps` would show it; the file is for the commands printed below.
    const passwordFile = `${demo.dir}/db-password`;
    await Deno.writeTextFile(passwordFile, pg.password, { mode: 0o600 });
    const dbUrl = `postgres://${pg.user}@${pg.host}:${pg.port}/${pg.database}`;
    for (let i = 1; i <= config.nodes; i++) {
      const name = `node-${i}`;
      const port = config.port === 0 ? 0 : config.port + i - 1;
      const args = ["serve", "--host", HOST, "--port", String(port), "--db", dbUrl];
      args.push("--cluster", demo.nats.url, "--node-name", name);
      demo.nodes.push(new Node(name, `${demo.dir}/${name}.log`, args, { PGPASSWORD: pg.password }));
    }
    const ports = await Promise.all(demo.nodes.map((n) => n.listening(signal)));
    const list = ports.map((p) => `${HOST}:${p}`).join(",");
    say("");
    say(
      `jim cluster demo: ${config.nodes} node(s) on PostgreSQL ${pg.host}:${pg.port} and ` +
        `NATS ${demo.nats.url}`,
    );
    demo.nodes.forEach((n, i) =>
      say(`  ${n.name}  ${HOST}:${ports[i]}  pid ${n.pid}  log ${n.log}`)
    );
    say(`  nats-server pid ${demo.nats.pid}, PostgreSQL pid ${pg.pid}, data in ${demo.dir}`);
    say("");
    say(`Users: ${DEMO_USERS.join(", ")}, password ${password}`);
    say("Console, one terminal per user (each fails over to the next node when one dies):");
    for (const user of DEMO_USERS) say(`  deno task client -u ${user} --host ${list}`);
    say("Chat GUI: deno task client:gui, then in the page:");
    say(`  Server IP ${list}`);
    say("Admin GUI, the whole cluster's users:");
    say(`  PGPASSWORD="$(cat ${passwordFile})" deno task server gui --db ${dbUrl}`);
    say(`Crash a node: kill -9 ${demo.nodes[0]!.pid}   (its clients move to the next one)`);
    say("");
    say("Cluster demo ready. Press Ctrl-C to stop everything.");
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    say("");
    say("Stopping…");
    return ExitCode.Ok;
  } catch (error) {
    if (signal.aborted) return ExitCode.Ok;
    say(`cluster demo: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.Failure;
  } finally {
    await stopDemo(demo, say);
  }
}

if (import.meta.main) {
  let config: DemoConfig;
  try {
    config = parseDemoArgs(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`cluster demo: ${error.message}`);
    Deno.exit(ExitCode.Usage);
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("Stopped by a signal"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const code = await runDemo(config, stop.signal);
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.exit(code);
}
