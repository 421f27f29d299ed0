/**
 * Real services for tests and benchmarks: Debian's nats-server with JetStream, and a
 * throwaway PostgreSQL cluster. Each runs on a free 127.0.0.1 port out of its own temporary
 * directory and is `await using`-disposable; closing kills it and deletes the directory.
 *
 * Tests that need them are registered with `testWithTools([NATS_SERVER], …)` or
 * `testWithTools([POSTGRESQL], …)` (tests/_tools.ts): outside CI a missing binary skips them
 * with a printed reason; under CI=true they run and fail naming the tool and its Debian
 * package.
 *
 * Nothing here imports server/ or client/, so tests anywhere and tasks/ can use it.
 *
 * @example
 * ```ts
 * import { startNats, startPostgres } from "./_services.ts";
 * await using nats = await startNats();
 * await using pg = await startPostgres();
 * console.log(nats.url, pg.url);
 * ```
 *
 * @module
 */

import { findTool, type Tool, toolPath } from "./_tools.ts";

// ------------------------------------------------------------------ shared plumbing

const LOOPBACK = "127.0.0.1";
/** How long a service may take to come up on a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;
/** How long a graceful stop may take before the process is killed. */
const STOP_TIMEOUT_MS = 15_000;
const decoder = new TextDecoder();

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The first executable named `name` on PATH, then in `extraDirs`. */
function findExecutable(name: string, extraDirs: readonly string[]): string | undefined {
  return findTool(name, [Deno.env.get("PATH") ?? "", ...extraDirs].join(":"));
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves after `ms`, rejects with the signal's reason on abort; leaves no timer behind. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(id);
      reject(signal!.reason);
    };
    const id = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Whether `promise` settles within `ms`; leaves no timer behind. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last `max` characters of a file, or "" when it cannot be read. */
async function tail(path: string, max = 2000): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.length > max ? `…${text.slice(-max)}` : text;
  } catch {
    return "";
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; `input` goes to its stdin so that no secret is in argv. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.input));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Prefixes `taskset -c CPUS` when pinning was asked for and taskset exists. */
function pinned(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  if (cpus === undefined) return [command, args];
  const taskset = findExecutable("taskset", ["/usr/bin"]);
  if (taskset === undefined) return [command, args];
  return [taskset, ["-c", cpus, command, ...args]];
}

/**
 * Runs `start` on a free port; if something took the port between the probe and the bind,
 * tries a new one (three tries in all). Returns the port that worked.
 */
async function onFreePort(
  signal: AbortSignal | undefined,
  start: (port: number) => Promise<void>,
): Promise<number> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    try {
      await start(port);
      return port;
    } catch (error) {
      if (attempt === 3 || signal?.aborted || !/already in use/i.test(String(error))) throw error;
    }
  }
}

/**
 * A queue that runs lifecycle steps one at a time, so that stop(), start() and close() never
 * interleave; a failed step does not block the next.
 */
class Serial {
  #queue: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step, step);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Resolves once every step queued so far has settled. */
  async idle(): Promise<void> {
    await this.#queue;
  }
}

// ------------------------------------------------------------------------------ NATS

/** Where Debian installs nats-server, searched after PATH. */
const NATS_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/bin"];

/**
 * The nats-server binary: `JIM_NATS_SERVER` (if it exists), then PATH, then /usr/sbin;
 * undefined if none.
 */
export function natsServerPath(): string | undefined {
  const override = Deno.env.get("JIM_NATS_SERVER");
  if (override) return isFile(override) ? override : undefined;
  return findExecutable("nats-server", NATS_DIRS);
}

/**
 * nats-server, for `testWithTools([NATS_SERVER], …)`.
 *
 * @example
 * ```ts
 * import { testWithTools } from "./_tools.ts";
 * import { NATS_SERVER, startNats } from "./_services.ts";
 * testWithTools([NATS_SERVER], "needs NATS", async () => {
 *   await using _nats = await startNats();
 * });
 * ```
 */
export const NATS_SERVER: Tool<"nats-server"> = {
  name: "nats-server",
  debian: "nats-server",
  where: "at $JIM_NATS_SERVER if set, else on PATH or in /usr/sbin",
  locate: natsServerPath,
};

/** Options for {@linkcode startNats}. */
export interface NatsOptions {
  /** Aborting stops start-up, or closes the server once it runs. */
  signal?: AbortSignal;
  /** Pin nats-server to these cores with `taskset -c` (benchmarks), e.g. "0". */
  cpus?: string;
}

/** A running nats-server with JetStream; `await using` closes it and deletes its store. */
export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:PORT`; stays the same across restarts. */
  readonly url: string;
  /** The client port on 127.0.0.1. */
  readonly port: number;
  /** The temporary directory with the config, the log and the JetStream store. */
  readonly dir: string;
  /** The nats-server process id while it runs. */
  readonly pid: number | undefined;
  /** Whether the process is up (it may still be starting or stopping). */
  readonly running: boolean;
  /** Stops the server gracefully (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL), as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
  /** Stops the server if it runs, then starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Kills the server and deletes its directory; idempotent. */
  close(): Promise<void>;
}

function natsConfig(dir: string, port: number): string {
  // JSON strings are valid NATS config strings, which quotes any path safely.
  const q = JSON.stringify;
  return [
    `listen: ${q(`${LOOPBACK}:${port}`)}`,
    `server_name: ${q(`jim-test-${port}`)}`,
    `pid_file: ${q(`${dir}/nats.pid`)}`,
    `log_file: ${q(`${dir}/nats.log`)}`,
    // Bounded so that a test run cannot fill the disk or the memory of a shared machine.
    `jetstream { store_dir: ${q(`${dir}/jetstream`)}, max_memory_store: 64MB,` +
    " max_file_store: 1GB }",
    "",
  ].join("\n");
}

class NatsProcess implements NatsServer {
  readonly dir: string;
  #port: number;
  readonly #binary: string;
  readonly #cpus: string | undefined;
  #child: Deno.ChildProcess | undefined;
  #stderr: Promise<string> | undefined;
  #exited = true;
  #closing: Promise<void> | undefined;
  readonly #serial = new Serial();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();

  constructor(binary: string, dir: string, options: NatsOptions) {
    this.#binary = binary;
    this.dir = dir;
    this.#port = 0;
    this.#cpus = options.cpus;
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `nats://${LOOPBACK}:${this.#port}`;
  }
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }
  get running(): boolean {
    return this.#child !== undefined && !this.#exited;
  }

  /** First start, on a fresh port; close() waits for it. */
  start(): Promise<void> {
    return this.#serial.run(async () => {
      this.#port = await onFreePort(this.#signal, async (port) => {
        this.#port = port;
        await this.#spawn();
      });
    });
  }

  async #spawn(): Promise<void> {
    const config = `${this.dir}/nats.conf`;
    await Deno.writeTextFile(config, natsConfig(this.dir, this.#port));
    await Deno.remove(`${this.dir}/nats.log`).catch(() => {});
    // setpriv's parent-death signal kills nats-server with this process even after a
    // SIGKILL, so that an aborted test run leaves no server behind.
    const setpriv = findExecutable("setpriv", ["/usr/bin"]);
    const [command, args] = pinned(this.#cpus, this.#binary, ["-c", config]);
    const child = new Deno.Command(setpriv ?? command, {
      args: setpriv ? ["--pdeathsig", "KILL", "--", command, ...args] : args,
      cwd: this.dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#exited = false;
    child.status.then(() => (this.#exited = true));
    this.#stderr = new Response(child.stderr).text().catch(() => "");
    try {
      await this.#waitReady();
    } catch (error) {
      await this.#terminate("SIGKILL");
      const log = await tail(`${this.dir}/nats.log`);
      const stderr = (await this.#stderr) ?? "";
      throw new Error(
        `Cannot start nats-server on port ${this.#port}: ${(error as Error).message}` +
          (log || stderr ? `\n${log}${stderr}` : ""),
        { cause: error },
      );
    }
  }

  /** Waits until the server sends its INFO line with JetStream enabled. */
  async #waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (true) {
      this.#signal?.throwIfAborted();
      if (this.#exited) throw new Error("it exited during start-up");
      if (Date.now() > deadline) throw new Error(`not ready after ${START_TIMEOUT_MS} ms`);
      const info = await readNatsInfo(this.#port).catch(() => undefined);
      if (info?.jetstream === true) return;
      await delay(25, this.#signal);
    }
  }

  async #terminate(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    if (!this.#exited) {
      try {
        child.kill(signal);
      } catch {
        // it exited in between
      }
      if (!(await settlesWithin(child.status, STOP_TIMEOUT_MS))) {
        child.kill("SIGKILL");
        await child.status;
      }
    } else {
      await child.status;
    }
    await this.#stderr;
    this.#child = undefined;
    this.#stderr = undefined;
  }

  stop(): Promise<void> {
    return this.#serial.run(() => this.#terminate("SIGTERM"));
  }

  kill(): Promise<void> {
    return this.#serial.run(() => this.#terminate("SIGKILL"));
  }

  restart(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#closing) throw new Error("Cannot restart nats-server: it is closed");
      await this.#terminate("SIGTERM");
      await this.#spawn();
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#signal?.removeEventListener("abort", this.#onAbort);
      await this.#serial.idle();
      await this.#terminate("SIGKILL");
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Connects once and reads the server's INFO line; rejects if there is none within 2 s. */
async function readNatsInfo(port: number): Promise<Record<string, unknown>> {
  const conn = await Deno.connect({ hostname: LOOPBACK, port });
  const timer = setTimeout(() => conn.close(), 2000);
  try {
    const buffer = new Uint8Array(8192);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("closed before INFO");
      text += decoder.decode(buffer.subarray(0, n));
      if (text.length > 65536) throw new Error("INFO line too long");
    }
    const line = text.slice(0, text.indexOf("\r\n"));
    if (!line.startsWith("INFO ")) throw new Error(`unexpected greeting ${line.slice(0, 80)}`);
    return JSON.parse(line.slice(5));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/**
 * Starts nats-server with JetStream on a free 127.0.0.1 port and waits until it accepts
 * clients with JetStream ready.
 *
 * @throws {Error} when nats-server is not installed or does not come up.
 *
 * @example
 * ```ts
 * import { startNats } from "./_services.ts";
 * await using nats = await startNats();
 * await nats.kill();
 * await nats.restart(); // same port, same JetStream store
 * ```
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  options.signal?.throwIfAborted();
  const binary = toolPath(NATS_SERVER);
  const dir = await serviceDir("jim-nats-");
  const nats = new NatsProcess(binary, dir, options);
  try {
    await nats.start();
  } catch (error) {
    await nats.close();
    throw options.signal?.aborted ? options.signal.reason : error;
  }
  return nats;
}

// ------------------------------------------------------------------------ PostgreSQL

/** The PostgreSQL major version the project targets (Debian bookworm's). */
export const POSTGRES_MAJOR = 15;

/**
 * The directory with initdb, pg_ctl and psql: `JIM_PG_BIN` (if initdb is there), then Debian's
 * /usr/lib/postgresql/15/bin, then the newest other /usr/lib/postgresql/N/bin, then wherever
 * initdb is on PATH; undefined if none.
 */
export function postgresBinDir(): string | undefined {
  const override = Deno.env.get("JIM_PG_BIN");
  if (override) return isFile(`${override}/initdb`) ? override : undefined;
  const preferred = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;
  if (isFile(`${preferred}/initdb`)) return preferred;
  try {
    const majors = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => Number(e.name))
      .filter((n) => Number.isInteger(n))
      .sort((a, b) => b - a);
    for (const major of majors) {
      const dir = `/usr/lib/postgresql/${major}/bin`;
      if (isFile(`${dir}/initdb`)) return dir;
    }
  } catch {
    // no Debian layout
  }
  const initdb = findExecutable("initdb", []);
  return initdb?.slice(0, initdb.lastIndexOf("/"));
}

/**
 * PostgreSQL's server programs (its bin directory), for `testWithTools([POSTGRESQL], …)`.
 *
 * @example
 * ```ts
 * import { testWithTools } from "./_tools.ts";
 * import { POSTGRESQL, startPostgres } from "./_services.ts";
 * testWithTools([POSTGRESQL], "needs PostgreSQL", async () => {
 *   await using _pg = await startPostgres();
 * });
 * ```
 */
export const POSTGRESQL: Tool<"postgresql"> = {
  name: "postgresql",
  debian: "postgresql",
  where: `(initdb) in $JIM_PG_BIN if set, else in /usr/lib/postgresql/*/bin or on PATH`,
  locate: postgresBinDir,
};

/** Options for {@linkcode startPostgres}. */
export interface PostgresOptions {
  /** Aborting stops start-up, or closes the server once it runs. */
  signal?: AbortSignal;
  /** Pin the postmaster and its backends to these cores with `taskset -c`, e.g. "0". */
  cpus?: string;
  /**
   * Keep fsync, full-page writes and synchronous commit on, as in production. Off by default:
   * a throwaway test database gains nothing from surviving a power cut.
   */
  durable?: boolean;
}

/** How {@linkcode PostgresServer.stop} shuts down: a clean stop, or a crash. */
export type PostgresStopMode = "fast" | "immediate";

/**
 * A running throwaway PostgreSQL cluster with a password-protected, non-superuser role that
 * owns one database. `await using` stops it and deletes the cluster.
 */
export interface PostgresServer extends AsyncDisposable {
  /** `postgres://USER:PASSWORD@127.0.0.1:PORT/DB` for the test role; same across restarts. */
  readonly url: string;
  /** The same for the superuser `postgres`, for tests that must act as an administrator. */
  readonly adminUrl: string;
  /** Always 127.0.0.1. */
  readonly host: string;
  /** The TCP port; the same across restarts. */
  readonly port: number;
  /** The test database, `jim`, owned by {@linkcode PostgresServer.user}. */
  readonly database: string;
  /** The test role, `jim`: it can log in and owns the database, nothing more. */
  readonly user: string;
  /** The test role's password, random for each cluster. */
  readonly password: string;
  /** The temporary directory with the cluster, the unix socket and the log. */
  readonly dir: string;
  /** The postmaster's process id while it runs. */
  readonly pid: number | undefined;
  /** Whether pg_ctl started it and it has not been stopped since. */
  readonly running: boolean;
  /** Stops the server (`pg_ctl stop -m fast`, or `immediate` to simulate a crash). */
  stop(options?: { mode?: PostgresStopMode }): Promise<void>;
  /** Starts the stopped server again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and deletes its directory; idempotent. */
  close(): Promise<void>;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** The uid and gid of the `postgres` account, for chown. */
async function postgresAccount(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    run("id", ["-u", "postgres"]),
    run("id", ["-g", "postgres"]),
  ]);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new Error(
      "Cannot start PostgreSQL as root: there is no postgres account to run it as " +
        "(apt-get install postgresql creates it)",
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

class PostgresProcess implements PostgresServer {
  readonly host = LOOPBACK;
  readonly database = "jim";
  readonly user = "jim";
  readonly password = randomHex(16);
  readonly #adminPassword = randomHex(16);
  readonly dir: string;
  readonly #bin: string;
  readonly #options: PostgresOptions;
  /** When root: the postgres account that owns the cluster and runs every PostgreSQL tool. */
  #owner: { uid: number; gid: number } | undefined;
  #port = 0;
  #running = false;
  #closing: Promise<void> | undefined;
  readonly #serial = new Serial();
  readonly #onAbort = () => void this.close();

  constructor(bin: string, dir: string, options: PostgresOptions) {
    this.#bin = bin;
    this.dir = dir;
    this.#options = options;
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `postgres://${this.user}:${this.password}@${LOOPBACK}:${this.#port}/${this.database}`;
  }
  get adminUrl(): string {
    return `postgres://postgres:${this.#adminPassword}@${LOOPBACK}:${this.#port}/postgres`;
  }
  get running(): boolean {
    return this.#running;
  }
  get pid(): number | undefined {
    if (!this.#running) return undefined;
    try {
      const pid = Number(Deno.readTextFileSync(`${this.#data}/postmaster.pid`).split("\n")[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  get #data(): string {
    return `${this.dir}/data`;
  }
  get #socketDir(): string {
    return `${this.dir}/socket`;
  }

  /** Runs a PostgreSQL tool as the cluster's owner: through runuser when we are root. */
  async #tool(name: string, args: string[], input?: string): Promise<RunResult> {
    const [command, fullArgs] = pinned(this.#options.cpus, `${this.#bin}/${name}`, args);
    if (this.#owner === undefined) return await run(command, fullArgs, { cwd: this.dir, input });
    return await run("runuser", ["-u", "postgres", "--", command, ...fullArgs], {
      cwd: this.dir,
      input,
    });
  }

  async #writeOwned(path: string, text: string): Promise<void> {
    await Deno.writeTextFile(path, text, { mode: 0o600 });
    if (this.#owner) await Deno.chown(path, this.#owner.uid, this.#owner.gid);
  }

  /** initdb, then the first start; close() waits for it. */
  create(): Promise<void> {
    return this.#serial.run(async () => {
      await this.#init();
      await this.#firstStart();
    });
  }

  async #init(): Promise<void> {
    if (isRoot()) {
      // initdb refuses to run as root; the cluster belongs to the postgres account, which
      // must own the directory it writes in.
      this.#owner = await postgresAccount();
      await Deno.chown(this.dir, this.#owner.uid, this.#owner.gid);
    }
    await Deno.mkdir(this.#socketDir, { mode: 0o700 });
    if (this.#owner) await Deno.chown(this.#socketDir, this.#owner.uid, this.#owner.gid);
    const pwfile = `${this.dir}/pwfile`;
    await this.#writeOwned(pwfile, `${this.#adminPassword}\n`);
    const init = await this.#tool("initdb", [
      "-D",
      this.#data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      // The socket sits in this 0700 directory, so only its owner reaches it; TCP needs a
      // password, as it would in production.
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
      "--no-instructions",
    ]);
    await Deno.remove(pwfile);
    if (init.code !== 0) {
      throw new Error(
        `Cannot initialise PostgreSQL cluster: initdb exited ${init.code}\n${init.stderr}`,
      );
    }
    const durable = this.#options.durable === true;
    const settings = [
      "",
      "# Added by tests/_services.ts",
      `listen_addresses = '${LOOPBACK}'`,
      `unix_socket_directories = '${this.#socketDir.replaceAll("'", "''")}'`,
      "max_connections = 40",
      "shared_buffers = 32MB",
      `fsync = ${durable ? "on" : "off"}`,
      `full_page_writes = ${durable ? "on" : "off"}`,
      `synchronous_commit = ${durable ? "on" : "off"}`,
      "",
    ].join("\n");
    await Deno.writeTextFile(`${this.#data}/postgresql.conf`, settings, { append: true });
  }

  /** The first start, on a fresh port; then the role and the database. */
  async #firstStart(): Promise<void> {
    this.#port = await onFreePort(this.#options.signal, async (port) => {
      this.#port = port;
      await this.#start();
    });
    // The role's password goes through psql's stdin, never argv.
    const sql = `CREATE ROLE ${this.user} LOGIN PASSWORD '${this.password}';\n` +
      `CREATE DATABASE ${this.database} OWNER ${this.user};\n`;
    const created = await this.#tool("psql", [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      this.#socketDir,
      "-p",
      String(this.#port),
      "-U",
      "postgres",
      "-d",
      "postgres",
      "-f",
      "-",
    ], sql);
    if (created.code !== 0) {
      throw new Error(`Cannot create the test role and database: ${created.stderr.trim()}`);
    }
  }

  async #start(): Promise<void> {
    this.#options.signal?.throwIfAborted();
    const log = `${this.dir}/postgres.log`;
    const started = await this.#tool("pg_ctl", [
      "start",
      "-D",
      this.#data,
      "-l",
      log,
      "-o",
      `-p ${this.#port}`,
      "-w",
      "-t",
      String(START_TIMEOUT_MS / 1000),
    ]);
    if (started.code !== 0) {
      // pg_ctl may have left a postmaster behind that came up too late; stop it.
      await this.#tool("pg_ctl", ["stop", "-D", this.#data, "-m", "immediate", "-w"]);
      throw new Error(
        `Cannot start PostgreSQL on port ${this.#port}: pg_ctl exited ${started.code}\n` +
          `${started.stderr}${await tail(log)}`,
      );
    }
    this.#running = true;
  }

  async #stop(mode: PostgresStopMode): Promise<void> {
    if (!this.#running) return;
    const stopped = await this.#tool("pg_ctl", [
      "stop",
      "-D",
      this.#data,
      "-m",
      mode,
      "-w",
      "-t",
      String(STOP_TIMEOUT_MS / 1000),
    ]);
    if (stopped.code !== 0 && this.pid !== undefined) {
      throw new Error(`Cannot stop PostgreSQL: pg_ctl exited ${stopped.code}\n${stopped.stderr}`);
    }
    this.#running = false;
  }

  stop(options: { mode?: PostgresStopMode } = {}): Promise<void> {
    return this.#serial.run(() => this.#stop(options.mode ?? "fast"));
  }

  start(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#closing) throw new Error("Cannot start PostgreSQL: it is closed");
      if (!this.#running) await this.#start();
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.signal?.removeEventListener("abort", this.#onAbort);
      await this.#serial.idle();
      try {
        await this.#stop("immediate");
      } finally {
        await Deno.remove(this.dir, { recursive: true }).catch(() => {});
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Services left by test processes that died without closing them: pg_ctl detaches the
 * postmaster, so it outlives a killed test run, and without setpriv so does nats-server.
 * Stops each one whose creator is gone, and deletes its directory.
 */
async function reapOrphans(tmp: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(tmp)];
  } catch {
    return;
  }
  for (const entry of entries) {
    const kind = /^jim-(nats|pg)-/.exec(entry.name)?.[1];
    if (!entry.isDirectory || kind === undefined) continue;
    const dir = `${tmp}/${entry.name}`;
    const owner = Number(await Deno.readTextFile(`${dir}/owner.pid`).catch(() => ""));
    // Unknown, alive, or another namespace's process: leave it alone.
    if (!Number.isInteger(owner) || owner <= 0 || isFile(`/proc/${owner}/stat`)) continue;
    const pidFile = kind === "pg" ? `${dir}/data/postmaster.pid` : `${dir}/nats.pid`;
    const pid = Number((await Deno.readTextFile(pidFile).catch(() => "")).split("\n")[0]);
    if (Number.isInteger(pid) && pid > 0) {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      // Only a process we can see running from that very directory.
      if (cmdline.includes(dir)) {
        if (kind === "nats") {
          Deno.kill(pid, "SIGKILL");
        } else {
          const pgCtl = `${postgresBinDir()}/pg_ctl`;
          const args = ["stop", "-D", `${dir}/data`, "-m", "immediate", "-w"];
          if (isRoot()) await run("runuser", ["-u", "postgres", "--", pgCtl, ...args]);
          else await run(pgCtl, args);
        }
      } else if (cmdline !== "") {
        continue;
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A fresh temporary directory for a service, marked with this process as its creator. */
async function serviceDir(prefix: "jim-nats-" | "jim-pg-"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await reapOrphans(dir.slice(0, dir.lastIndexOf("/")));
  await Deno.writeTextFile(`${dir}/owner.pid`, `${Deno.pid}\n`);
  return dir;
}

/**
 * Starts a throwaway PostgreSQL cluster: initdb in a temporary directory (as the `postgres`
 * account through runuser when running as root), pg_ctl on a free 127.0.0.1 port, SCRAM
 * authentication over TCP, a role `jim` with a random password owning the database `jim`.
 *
 * @throws {Error} when PostgreSQL is not installed or does not come up.
 *
 * @example
 * ```ts
 * import { startPostgres } from "./_services.ts";
 * await using pg = await startPostgres();
 * await pg.stop();
 * await pg.start(); // same port, same data
 * ```
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  options.signal?.throwIfAborted();
  const bin = toolPath(POSTGRESQL);
  const dir = await serviceDir("jim-pg-");
  const pg = new PostgresProcess(bin, dir, options);
  try {
    await pg.create();
  } catch (error) {
    await pg.close();
    throw options.signal?.aborted ? options.signal.reason : error;
  }
  return pg;
}
