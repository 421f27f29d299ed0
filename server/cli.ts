/**
 * `jim-server`: runs the chat server and administers its users.
 *
 * ```sh
 * deno task server                      # serve on 127.0.0.1:7777 with ./jim-server.db
 * deno task server user add alice       # prompts for the password without echo
 * echo pw | deno task server user add bob --password-stdin --iterations 4096
 * deno task server --help
 * ```
 *
 * Exit codes: 0 on success, 1 on a runtime failure, 2 on a usage error; each failure prints
 * one line to stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { ExitCode, startLifecycle } from "../common/lifecycle.ts";
import { invalidValue, parseBoolean, parseNumber, parsePort, UsageError } from "../common/usage.ts";
import {
  DEFAULT_ITERATIONS,
  JimError,
  loginProblem,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
  Status,
} from "../protocol/mod.ts";
import { EVENT_TYPES, EventFeed, type ServerEvent, type ServerEventType } from "./events.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./limits.ts";
import { JimServer } from "./server.ts";
import { connectionCap, readOpenFileLimit } from "./_fd_limit.ts";
import { openServeResources } from "./serve_resources.ts";
import {
  type ClusterHub,
  defaultNodeName,
  joinCluster,
  NODE_NAME_PATTERN,
  parseClusterUrls,
} from "./cluster.ts";
import { addUser, setPassword } from "./accounts.ts";
import {
  DEFAULT_POOL_SIZE,
  describeDatabase,
  isPostgresUrl,
  openStorage,
} from "./storage/open_storage.ts";
import type { UserRow, UserStore } from "./storage/ports.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;
const PROGRAM = "jim-server";

export { UsageError };

/** Log levels, most severe first. */
export type LogLevel = "error" | "warn" | "info" | "debug";
const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];
/** What each level prints: the default shows connections, logins, disconnections and errors. */
export const LEVEL_TYPES: Readonly<Record<LogLevel, readonly ServerEventType[]>> = {
  error: ["error"],
  warn: ["error", "start", "stop", "cluster"],
  info: ["error", "start", "stop", "connect", "disconnect", "login", "cluster"],
  debug: EVENT_TYPES,
};

type Kind = "string" | "boolean";
/** One flag of the command line. */
export interface FlagSpec {
  type: Kind;
  short?: string;
  /** Environment variable; none for flags that only make sense on the command line. */
  env?: string;
  /** Commands that accept the flag; undefined means every command. */
  commands?: readonly string[];
  help: string;
  /** The limit this flag sets, and the factor from the flag's unit to the limit's. */
  limit?: [keyof ServerLimits, number];
}

// A command that runs the same server (the bin/ root's `gui`) inherits these flags.
const SERVE = ["serve"];
const PASSWORD_COMMANDS = ["user add", "user passwd"];

/** Every flag. Each flag except help and version has a JIM_* variable. */
export const FLAGS: Record<string, FlagSpec> = {
  "help": { type: "boolean", short: "h", help: "Show help for the command" },
  "version": { type: "boolean", short: "V", help: "Show the version" },
  "db": {
    type: "string",
    env: "JIM_DB",
    help: "Database: a file (default: jim-server.db) or postgres://USER@HOST:PORT/DB",
  },
  "db-pool": {
    type: "string",
    env: "JIM_DB_POOL",
    help: `PostgreSQL connections per process (default: ${DEFAULT_POOL_SIZE})`,
  },
  "log-level": {
    type: "string",
    env: "JIM_LOG_LEVEL",
    help: "error, warn, info or debug (default: info)",
  },
  "log-format": { type: "string", env: "JIM_LOG_FORMAT", help: "text or json (default: text)" },
  "host": {
    type: "string",
    env: "JIM_HOST",
    commands: SERVE,
    help: "Address to listen on (default: 127.0.0.1)",
  },
  "port": {
    type: "string",
    env: "JIM_PORT",
    commands: SERVE,
    help: "Port to listen on, 0 for any (default: 7777)",
  },
  "legacy-auth": {
    type: "boolean",
    env: "JIM_LEGACY_AUTH",
    commands: SERVE,
    help: "Allow the seed clients' HMAC-MD5 login",
  },
  "tls-cert": {
    type: "string",
    env: "JIM_TLS_CERT",
    commands: SERVE,
    help: "TLS certificate chain, PEM file (with --tls-key)",
  },
  "tls-key": {
    type: "string",
    env: "JIM_TLS_KEY",
    commands: SERVE,
    help: "TLS private key, PEM file (with --tls-cert)",
  },
  "max-frame-bytes": {
    type: "string",
    env: "JIM_MAX_FRAME_BYTES",
    commands: SERVE,
    help: "Largest frame in bytes",
    limit: ["maxFrameBytes", 1],
  },
  "max-message-length": {
    type: "string",
    env: "JIM_MAX_MESSAGE_LENGTH",
    commands: SERVE,
    help: "Longest message text in characters",
    limit: ["maxMessageLength", 1],
  },
  "auth-timeout": {
    type: "string",
    env: "JIM_AUTH_TIMEOUT",
    commands: SERVE,
    help: "Seconds allowed to log in after connecting",
    limit: ["authTimeoutMs", 1000],
  },
  "idle-timeout": {
    type: "string",
    env: "JIM_IDLE_TIMEOUT",
    commands: SERVE,
    help: "Seconds of silence before an idle client is probed",
    limit: ["idleProbeMs", 1000],
  },
  "probe-timeout": {
    type: "string",
    env: "JIM_PROBE_TIMEOUT",
    commands: SERVE,
    help: "Seconds to wait after a probe before closing",
    limit: ["probeGraceMs", 1000],
  },
  "rate-limit": {
    type: "string",
    env: "JIM_RATE_LIMIT",
    commands: SERVE,
    help: "Requests per second per connection, 0 for no limit",
    limit: ["rateLimit", 1],
  },
  "rate-burst": {
    type: "string",
    env: "JIM_RATE_BURST",
    commands: SERVE,
    help: "Requests a connection may send at once",
    limit: ["rateBurst", 1],
  },
  "max-backlog": {
    type: "string",
    env: "JIM_MAX_BACKLOG",
    commands: SERVE,
    help: "Delayed requests per connection before it is closed",
    limit: ["maxBacklog", 1],
  },
  "max-failed-logins": {
    type: "string",
    env: "JIM_MAX_FAILED_LOGINS",
    commands: SERVE,
    help: "Failed logins of one login from one address before it is refused there",
    limit: ["maxFailedLogins", 1],
  },
  "max-failed-logins-per-ip": {
    type: "string",
    env: "JIM_MAX_FAILED_LOGINS_PER_IP",
    commands: SERVE,
    help: "Failed logins from one address, any login, before it is refused",
    limit: ["maxFailedLoginsPerIp", 1],
  },
  "lockout-window": {
    type: "string",
    env: "JIM_LOCKOUT_WINDOW",
    commands: SERVE,
    help: "Seconds over which failed logins count",
    limit: ["failedLoginWindowMs", 1000],
  },
  "takeover-timeout": {
    type: "string",
    env: "JIM_TAKEOVER_TIMEOUT",
    commands: SERVE,
    help: "Seconds an online session has to answer before a new login takes it over",
    limit: ["takeoverTimeoutMs", 1000],
  },
  "max-connections": {
    type: "string",
    env: "JIM_MAX_CONNECTIONS",
    commands: SERVE,
    help: "Connections in total",
    limit: ["maxConnections", 1],
  },
  "max-connections-per-ip": {
    type: "string",
    env: "JIM_MAX_CONNECTIONS_PER_IP",
    commands: SERVE,
    help: "Connections from one IP address",
    limit: ["maxConnectionsPerIp", 1],
  },
  "max-outbound-bytes": {
    type: "string",
    env: "JIM_MAX_OUTBOUND_BYTES",
    commands: SERVE,
    help: "Bytes queued for a client before it counts as too slow",
    limit: ["maxOutboundBytes", 1],
  },
  "read-buffer-bytes": {
    type: "string",
    env: "JIM_READ_BUFFER_BYTES",
    commands: SERVE,
    help: "Largest read buffer of a busy connection, in bytes",
    limit: ["readBufferBytes", 1],
  },
  "max-contacts": {
    type: "string",
    env: "JIM_MAX_CONTACTS",
    commands: SERVE,
    help: "Contacts one user may keep",
    limit: ["maxContacts", 1],
  },
  "linger": {
    type: "string",
    env: "JIM_LINGER",
    commands: SERVE,
    help: "Seconds a closing connection may take to flush its last reply",
    limit: ["lingerMs", 1000],
  },
  // --- cluster (issue 14) ---
  "cluster": {
    type: "string",
    env: "JIM_CLUSTER",
    commands: ["serve", "user list"],
    help: "Join a cluster: NATS URL(s), e.g. nats://127.0.0.1:4222 (comma-separated)",
  },
  "node-name": {
    type: "string",
    env: "JIM_NODE_NAME",
    commands: SERVE,
    help: "This node's name in the cluster (default: HOSTNAME:PORT)",
  },
  "legacy": {
    type: "boolean",
    env: "JIM_LEGACY",
    commands: PASSWORD_COMMANDS,
    help: "Also store the seed's legacy hash (password-equivalent!)",
  },
  "iterations": {
    type: "string",
    env: "JIM_ITERATIONS",
    commands: PASSWORD_COMMANDS,
    help: `PBKDF2 iterations (default: ${DEFAULT_ITERATIONS})`,
  },
  "password-stdin": {
    type: "boolean",
    env: "JIM_PASSWORD_STDIN",
    commands: PASSWORD_COMMANDS,
    help: "Read the password from the first line of stdin",
  },
};

/** Flag values by flag name, from the command line or the environment. */
export type Values = Record<string, string | boolean | undefined>;

/** Parsed command line: the command path (e.g. "user add"), its arguments and flag values. */
export interface Invocation {
  command: string;
  /** Whether the command was named (serve is also the default). */
  explicit: boolean;
  args: string[];
  values: Values;
}

const COMMAND_HELP: Record<string, string> = {
  "serve": "serve                  Run the chat server (the default command)",
  "user add": "user add NAME          Add a user; the password is prompted for",
  "user list": "user list              List users, newest first",
  "user passwd": "user passwd NAME       Change a user's password",
  "user remove": "user remove NAME       Remove a user and their contacts",
};

/** A command added by a composition root (bin/jim-server.ts adds `gui`). */
export interface ExtraCommand {
  /** One line for the help: the usage, two or more spaces, then what it does. */
  help: string;
  /** The command's own flags; each is taken by this command only. */
  flags?: Record<string, FlagSpec>;
  /** Commands whose flags and variables this one takes too, e.g. `["serve"]`. */
  inherits?: readonly string[];
  /** Runs the command; returns the exit code. */
  run(inv: Invocation, io: CliIo): Promise<number>;
}

/** Extra commands by name, as registered with {@linkcode registerCommand}. */
export const EXTRA_COMMANDS: Map<string, ExtraCommand> = new Map();

/**
 * Adds a command to the CLI. Register it before {@linkcode main} runs; its flags show in the
 * help at once, and its code may load lazily inside `run`.
 *
 * @example
 * ```ts
 * import { main, registerCommand } from "./cli.ts";
 * registerCommand("hello", {
 *   help: "hello                  Say hello",
 *   run: (_inv, io) => {
 *     io.out("hello");
 *     return Promise.resolve(0);
 *   },
 * });
 * await main(["hello"]);
 * ```
 */
export function registerCommand(name: string, command: ExtraCommand): void {
  const known = new Set([
    ...Object.keys(FLAGS),
    ...[...EXTRA_COMMANDS.values()].flatMap((c) => Object.keys(c.flags ?? {})),
  ]);
  for (const flag of Object.keys(command.flags ?? {})) {
    if (known.has(flag)) throw new TypeError(`Cannot register ${name}: flag --${flag} exists`);
  }
  EXTRA_COMMANDS.set(name, command);
}

/** Every flag: the CLI's own and those of the registered commands, each for its command. */
function allFlags(): [string, FlagSpec][] {
  const extra = [...EXTRA_COMMANDS].flatMap(([command, spec]) =>
    Object.entries(spec.flags ?? {}).map(([name, flag]): [string, FlagSpec] => [
      name,
      { ...flag, commands: [command] },
    ])
  );
  return [...Object.entries(FLAGS), ...extra];
}

/** Whether `command` takes the flag: its own, a global one, or one of a command it inherits. */
function takesFlag(spec: FlagSpec, command: string): boolean {
  if (spec.commands === undefined || spec.commands.includes(command)) return true;
  const inherits = EXTRA_COMMANDS.get(command)?.inherits ?? [];
  return inherits.some((parent) => spec.commands!.includes(parent));
}

/** Where the CLI writes; tests and embedders may replace it. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env(name: string): string | undefined;
}

const defaultIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: (name) => Deno.env.get(name),
};

/**
 * Splits arguments into command, positional arguments and flags; flags may come before or
 * after the command. Environment variables fill flags not given.
 *
 * @throws {UsageError} for unknown flags, a flag the command does not take, or a missing value.
 */
export function parseInvocation(argv: string[], io: CliIo = defaultIo): Invocation {
  const flags = allFlags();
  const options: Record<string, { type: Kind; short?: string }> = {};
  for (const [name, spec] of flags) {
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
  const positionals = [...parsed.positionals];
  let command = "serve";
  if (positionals[0] === "serve") positionals.shift();
  else if (positionals[0] === "user") {
    positionals.shift();
    const sub = positionals.shift();
    if (sub === undefined) {
      if (!parsed.values.help) throw new UsageError("Missing command: user add|list|passwd|remove");
      command = "user";
    } else {
      command = `user ${sub}`;
      if (!(command in COMMAND_HELP)) throw new UsageError(`Unknown command: user ${sub}`);
    }
  } else if (positionals[0] !== undefined && EXTRA_COMMANDS.has(positionals[0])) {
    command = positionals.shift()!;
  } else if (positionals[0] !== undefined) {
    throw new UsageError(`Unknown command: ${positionals[0]}`);
  }
  const values: Values = { ...parsed.values };
  for (const [name, spec] of flags) {
    if (values[name] !== undefined) {
      if (!takesFlag(spec, command) && command !== "user") {
        throw new UsageError(`Invalid flag for ${command}: --${name}`);
      }
      continue;
    }
    if (!spec.env) continue;
    const fromEnv = io.env(spec.env);
    if (fromEnv === undefined || fromEnv.trim() === "") continue;
    if (!takesFlag(spec, command)) continue;
    values[name] = spec.type === "boolean" ? parseBoolean(fromEnv, spec.env) : fromEnv;
  }
  return {
    command,
    explicit: positionals.length < parsed.positionals.length,
    args: positionals,
    values,
  };
}

function numberFlag(values: Values, name: string, opts: { integer?: boolean } = {}) {
  const raw = values[name];
  if (raw === undefined) return undefined;
  return parseNumber(String(raw), `--${name}`, opts);
}

/** Settings of `serve`, resolved from flags, environment and defaults. */
export interface ServeSettings {
  host: string;
  port: number;
  /** A file path (SQLite) or a `postgres://` URL. */
  db: string;
  /** PostgreSQL connections in the pool; undefined for SQLite. */
  dbPool: number | undefined;
  legacyAuth: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  logLevel: LogLevel;
  logFormat: "text" | "json";
  limits: ServerLimits;
  /** NATS URLs of the cluster to join (`--cluster`); undefined for a single server. */
  cluster: string[] | undefined;
  /** The node's name in the cluster: `--node-name`, else HOSTNAME:PORT. */
  nodeName: string | undefined;
}

/**
 * Resolves `serve` settings.
 *
 * @throws {UsageError} for a bad value.
 */
export function serveSettings(values: Values): ServeSettings {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  for (const [name, spec] of Object.entries(FLAGS)) {
    if (!spec.limit) continue;
    const [key, factor] = spec.limit;
    const integer = factor === 1 && key !== "rateLimit";
    const value = numberFlag(values, name, { integer });
    if (value === undefined) continue;
    if (value === 0 && key !== "rateLimit" && key !== "rateBurst") {
      throw invalidValue(`--${name}`, String(values[name]), "a number above 0");
    }
    limits[key] = value * factor;
  }
  if (limits.rateLimit > 0 && limits.rateBurst < 1) {
    throw new UsageError("Invalid --rate-burst: must be at least 1 with a rate limit");
  }
  const port = values.port === undefined ? 7777 : parsePort(String(values.port), "--port");
  const tlsCert = values["tls-cert"] as string | undefined;
  const tlsKey = values["tls-key"] as string | undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError("Invalid flags: --tls-cert and --tls-key go together");
  }
  return {
    host: (values.host as string | undefined) ?? "127.0.0.1",
    port,
    db: dbPath(values),
    dbPool: dbPool(values),
    legacyAuth: values["legacy-auth"] === true,
    tlsCert,
    tlsKey,
    logLevel: logLevel(values),
    logFormat: logFormat(values),
    limits,
    ...clusterSettings(values, port),
  };
}

/** `--cluster` and `--node-name`; a node name without a cluster is a usage error. */
function clusterSettings(values: Values, port: number) {
  const raw = values.cluster as string | undefined;
  const name = values["node-name"] as string | undefined;
  if (raw === undefined) {
    if (name !== undefined) throw new UsageError("Invalid flag: --node-name needs --cluster");
    return { cluster: undefined, nodeName: undefined };
  }
  const parsed = parseClusterUrls(raw);
  if ("problem" in parsed) throw invalidValue("--cluster", raw, "nats://HOST:PORT[,...]");
  if (name !== undefined && !NODE_NAME_PATTERN.test(name)) {
    throw invalidValue("--node-name", name, "1 to 100 letters, digits, . _ : @ -");
  }
  return { cluster: parsed.urls, nodeName: name ?? defaultNodeName(port) };
}

function dbPath(values: Values): string {
  const db = values.db as string | undefined;
  if (db === "") throw invalidValue("--db", db, "a file path or a postgres:// URL");
  if (db !== undefined && !isPostgresUrl(db) && /^[a-z][a-z0-9+.-]*:\/\//i.test(db)) {
    throw invalidValue("--db", describeDatabase(db), "a file path or a postgres:// URL");
  }
  return db ?? "jim-server.db";
}

/** The pool size for a PostgreSQL database; refused for SQLite, where it means nothing. */
function dbPool(values: Values): number | undefined {
  if (!isPostgresUrl(dbPath(values))) {
    if (values["db-pool"] !== undefined) {
      throw new UsageError("Invalid flag: --db-pool is for a postgres:// --db only");
    }
    return undefined;
  }
  const raw = values["db-pool"];
  if (raw === undefined) return DEFAULT_POOL_SIZE;
  return parseNumber(String(raw), "--db-pool", { integer: true, min: 1, max: 1000 });
}

function logLevel(values: Values): LogLevel {
  const level = (values["log-level"] as string | undefined) ?? "info";
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw invalidValue("--log-level", level, "error, warn, info or debug");
  }
  return level as LogLevel;
}

function logFormat(values: Values): "text" | "json" {
  const format = (values["log-format"] as string | undefined) ?? "text";
  if (format !== "text" && format !== "json") {
    throw invalidValue("--log-format", format, "text or json");
  }
  return format;
}

/** The help text for a command, or the overview. */
export function helpText(command?: string): string {
  const flagsFor = (cmd: string) =>
    allFlags()
      .filter(([, spec]) => takesFlag(spec, cmd))
      .map(([name, spec]) => {
        const short = spec.short ? `-${spec.short}, ` : "    ";
        const arg = spec.type === "string" ? " VALUE" : "";
        const env = spec.env ? ` [${spec.env}]` : "";
        return `  ${short}--${(name + arg).padEnd(28)} ${spec.help}${env}`;
      })
      .join("\n");
  if (command && command !== "user" && (command in COMMAND_HELP || EXTRA_COMMANDS.has(command))) {
    const line = COMMAND_HELP[command] ?? EXTRA_COMMANDS.get(command)!.help;
    return `Usage: ${PROGRAM} ${line.split(/\s{2,}/)[0]} [flags]\n\n${
      line.split(/\s{2,}/)[1]
    }.\n\nFlags:\n${flagsFor(command)}\n\nFlags may come before or after the command.`;
  }
  const commands = [
    ...Object.values(COMMAND_HELP),
    ...[...EXTRA_COMMANDS.values()].map((c) => c.help),
  ].filter((line) => command !== "user" || line.startsWith("user"));
  return `${PROGRAM} ${VERSION}: the JIM chat server

Usage: ${PROGRAM} [command] [flags]

Commands:
${commands.map((line) => `  ${line}`).join("\n")}

Run '${PROGRAM} COMMAND --help' for a command's flags. Flags may come before or after the
command, and each has an environment variable (shown in brackets).

Exit codes: 0 success, 1 runtime failure, 2 usage error.`;
}

/**
 * Runs the CLI and returns the exit code. Failures print one line to stderr.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["user", "list", "--db", "test.db"]);
 * ```
 */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv, io);
    if (invocation.values.version) {
      io.out(`${PROGRAM} ${VERSION} (Deno ${Deno.version.deno})`);
      return 0;
    }
    if (invocation.values.help) {
      io.out(helpText(invocation.explicit ? invocation.command : undefined));
      return 0;
    }
    return await run(invocation, io);
  } catch (error) {
    return fail(error, io);
  }
}

function fail(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.err(`${PROGRAM}: ${error.message}`);
    io.err(`Try '${PROGRAM} --help' for more information.`);
    return ExitCode.Usage;
  }
  // A value the store refuses (a login against the name rules) is a usage error too.
  if (error instanceof JimError && error.code === Status.BAD_REQUEST) {
    io.err(`${PROGRAM}: ${error.message}`);
    return ExitCode.Usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`${PROGRAM}: ${message.split("\n")[0]}`);
  return ExitCode.Failure;
}

async function run(inv: Invocation, io: CliIo): Promise<number> {
  const extra = EXTRA_COMMANDS.get(inv.command);
  if (extra) return await extra.run(inv, io);
  switch (inv.command) {
    case "serve":
      expectArgs(inv, 0);
      return await serve(serveSettings(inv.values), io, inv.values);
    case "user list":
      expectArgs(inv, 0);
      return await withUsers(inv, async (users) => {
        printUsers(await users.list(), io);
        for (const line of await nameConflictLines(users)) io.out(line);
        return 0;
      });
    case "user add": {
      expectArgs(inv, 1);
      const problem = loginProblem(inv.args[0]);
      if (problem) throw new JimError(Status.BAD_REQUEST, problem);
      const options = passwordOptions(inv.values);
      return await withUsers(inv, async (users) => {
        // A taken or look-alike name is refused before the password is asked for.
        await users.checkNewLogin(inv.args[0]!);
        const password = await readPassword(inv.values, true);
        const user = await addUser(users, inv.args[0]!, password, options);
        io.out(`Added user ${user.login}${user.legacy ? " (with legacy hash)" : ""}`);
        return 0;
      });
    }
    case "user passwd": {
      expectArgs(inv, 1);
      const options = passwordOptions(inv.values);
      return await withUsers(inv, async (users) => {
        if (!await users.get(inv.args[0]!)) {
          throw new JimError(404, `No such client: ${inv.args[0]}`);
        }
        const password = await readPassword(inv.values, true);
        await setPassword(users, inv.args[0]!, password, options);
        io.out(
          `Changed the password of ${(await users.canonicalLogin(inv.args[0]!)) ?? inv.args[0]}`,
        );
        return 0;
      });
    }
    case "user remove":
      expectArgs(inv, 1);
      return await withUsers(inv, async (users) => {
        const login = (await users.canonicalLogin(inv.args[0]!)) ?? inv.args[0]!;
        await users.remove(inv.args[0]!);
        io.out(`Removed user ${login}`);
        return 0;
      });
    default:
      throw new UsageError(`Unknown command: ${inv.command}`);
  }
}

/**
 * Checks that a command got exactly `n` positional arguments.
 *
 * @throws {UsageError} for a missing or an unexpected argument.
 */
export function expectArgs(inv: Invocation, n: number): void {
  if (inv.args.length < n) throw new UsageError(`Missing argument for ${inv.command}: NAME`);
  if (inv.args.length > n) throw new UsageError(`Unexpected argument: ${inv.args[n]}`);
}

function passwordOptions(values: Values): { legacy?: boolean; iterations?: number } {
  const raw = values.iterations;
  const iterations = raw === undefined ? undefined : parseNumber(String(raw), "--iterations", {
    integer: true,
    min: MIN_ITERATIONS,
    max: MAX_ITERATIONS,
  });
  return {
    ...(values.legacy === true ? { legacy: true } : {}),
    ...(iterations === undefined ? {} : { iterations }),
  };
}

async function withUsers(inv: Invocation, body: (users: UserStore) => Promise<number>) {
  const pool = dbPool(inv.values);
  // A one-off command needs a connection or two, whatever the server's pool is.
  const storage = await openStorage(
    dbPath(inv.values),
    pool === undefined ? {} : { pool: Math.min(pool, 2) },
  );
  try {
    return await body(storage.users);
  } finally {
    await storage.close();
  }
}

/**
 * One line per account that the login-name rules found taken by another account when the
 * database was upgraded; none for a database created under the rules.
 */
export async function nameConflictLines(users: UserStore): Promise<string[]> {
  return (await users.nameConflicts()).map((c) =>
    c.kind === "same"
      ? `Name conflict: ${c.login} is the same name as ${c.conflictsWith} and cannot log in; ` +
        `remove it with "${PROGRAM} user remove ${c.login}"`
      : `Name conflict: ${c.login} looks like ${c.conflictsWith}; it still works, but consider ` +
        `removing one of them`
  );
}

function formatTime(ms: number | null): string {
  if (ms === null) return "never";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function printUsers(users: UserRow[], io: CliIo): void {
  const rows = [
    ["LOGIN", "LAST SEEN", "LAST IP", "CREATED", "LEGACY"],
    ...users.map((u) => [
      u.login,
      formatTime(u.lastSeen),
      u.lastIp ?? "-",
      formatTime(u.created),
      u.legacy ? "yes" : "no",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  for (const row of rows) {
    io.out(
      row.map((cell, i) => cell + " ".repeat(widths[i]! - [...cell].length)).join("  ").trimEnd(),
    );
  }
  if (users.length === 0) io.out("(no users)");
}

// --- passwords ---------------------------------------------------------------------------

const MAX_STDIN = 64 * 1024;

async function readPassword(values: Values, confirm: boolean): Promise<string> {
  if (values["password-stdin"] === true) return await passwordFromStdin();
  if (!Deno.stdin.isTerminal()) {
    throw new UsageError(
      "Cannot prompt for a password: stdin is not a terminal; use --password-stdin",
    );
  }
  const password = await promptHidden("Password: ");
  if (confirm) {
    const again = await promptHidden("Repeat password: ");
    if (again !== password) throw new Error("Passwords do not match");
  }
  return password;
}

async function passwordFromStdin(): Promise<string> {
  const reader = Deno.stdin.readable.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      if (value.includes(0x0a)) break;
      if (size > MAX_STDIN) throw new Error("Cannot read password: stdin line too long");
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const text = new TextDecoder().decode(bytes);
  const line = text.split("\n")[0]!.replace(/\r$/, "");
  if (line === "") throw new UsageError("Cannot read password: stdin is empty");
  return line;
}

async function promptHidden(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  // Raw mode first: input typed ahead of the prompt must not be echoed either.
  Deno.stdin.setRaw(true);
  await Deno.stderr.write(encoder.encode(prompt));
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    outer: for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const b of buffer.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) break outer;
        if (b === 0x03) throw new Error("Cancelled");
        if (b === 0x04) {
          if (bytes.length === 0) throw new Error("Cancelled");
          break outer;
        }
        if (b === 0x7f || b === 0x08) {
          // Drop a whole UTF-8 sequence: continuation bytes are 10xxxxxx.
          while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
          continue;
        }
        if (bytes.length >= MAX_STDIN) throw new Error("Cannot read password: too long");
        bytes.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

// --- serve -------------------------------------------------------------------------------

/** Formats one event as a log line. */
export function formatEvent(event: ServerEvent, format: "text" | "json"): string {
  const level = event.type === "error"
    ? "error"
    : ["request", "response", "push"].includes(event.type)
    ? "debug"
    : "info";
  if (format === "json") {
    return JSON.stringify({ ...event, time: new Date(event.time).toISOString(), level });
  }
  const parts = [new Date(event.time).toISOString(), level.toUpperCase().padEnd(5), event.type];
  if (event.conn) {
    parts.push(`#${event.conn.id}`, `${event.conn.ip}:${event.conn.port}`);
    if (event.conn.user !== undefined) parts.push(event.conn.user);
  }
  if (event.message !== undefined) parts.push(event.message);
  if (event.payload !== undefined) parts.push(JSON.stringify(event.payload));
  return parts.join(" ");
}

function settingsLines(s: ServeSettings, openFileLimit: number | undefined): [string, unknown][] {
  return [
    ["version", VERSION],
    ["host", s.host],
    ["port", s.port],
    ["db", describeDatabase(s.db)],
    ...(s.dbPool === undefined ? [] : [["db-pool", s.dbPool] as [string, unknown]]),
    ["legacy-auth", s.legacyAuth],
    ["tls", s.tlsCert ? `${s.tlsCert} + ${s.tlsKey}` : false],
    ["log-level", s.logLevel],
    ["log-format", s.logFormat],
    ...(s.cluster === undefined ? [] : [
      ["cluster", s.cluster.join(",")] as [string, unknown],
      ["node-name", s.nodeName] as [string, unknown],
    ]),
    ...Object.entries(s.limits),
    ["openFileLimit", openFileLimit ?? "unknown"],
  ];
}

async function serve(requested: ServeSettings, io: CliIo, explicit: Values): Promise<number> {
  // The cap the server will apply, shown before it starts: a cap above the descriptor limit
  // would make clients time out instead of getting the 503.
  const openFileLimit = readOpenFileLimit();
  const cap = connectionCap(requested.limits.maxConnections, openFileLimit);
  const settings = {
    ...requested,
    limits: { ...requested.limits, maxConnections: cap.maxConnections },
  };
  if (
    explicit["max-connections"] !== undefined &&
    cap.maxConnections < requested.limits.maxConnections
  ) {
    io.err(
      `${PROGRAM}: --max-connections lowered from ${requested.limits.maxConnections} to ` +
        `${cap.maxConnections} to fit the open-file limit of ${openFileLimit} (raise it with ulimit -n)`,
    );
  }
  const shown = settingsLines(settings, openFileLimit);
  if (settings.logFormat === "json") {
    io.out(
      JSON.stringify({
        time: new Date().toISOString(),
        level: "info",
        type: "settings",
        settings: Object.fromEntries(shown),
      }),
    );
  } else {
    io.out(`${PROGRAM} settings: ${shown.map(([k, v]) => `${k}=${v}`).join(" ")}`);
  }
  const { storage, tls } = await openServeResources(settings);
  for (const line of await nameConflictLines(storage.users)) io.err(`WARNING: ${line}`);
  try {
    const events = new EventFeed();
    const subscription = events.subscribe({
      types: LEVEL_TYPES[settings.logLevel],
      bufferSize: 4096,
    });
    const printer = (async () => {
      let missed = 0;
      for await (const event of subscription) {
        io.out(formatEvent(event, settings.logFormat));
        if (subscription.missed > missed) {
          io.out(
            formatEvent({
              seq: 0,
              time: Date.now(),
              type: "error",
              message: `Log fell behind: ${subscription.missed - missed} events not shown`,
            }, settings.logFormat),
          );
          missed = subscription.missed;
        }
      }
    })();
    // SIGINT and SIGTERM stop the server gracefully. Should a bug escape the sessions, which
    // contain their own failures, it is logged: one connection's trouble must not stop the
    // service for everyone.
    using lifecycle = startLifecycle({
      onEscaped: (message) => events.publish("error", { message }),
    });
    let hub: ClusterHub | undefined;
    if (settings.cluster) {
      try {
        hub = await joinCluster({
          servers: settings.cluster,
          node: settings.nodeName!,
          takeoverTimeoutMs: settings.limits.takeoverTimeoutMs,
          log: (level, message) =>
            events.publish(level === "error" ? "error" : "cluster", { message }),
        });
      } catch (error) {
        subscription.unsubscribe();
        await printer;
        throw error;
      }
    }
    let server: JimServer;
    try {
      server = await JimServer.listen({
        ...(hub ? { hub, reusePort: Deno.build.os === "linux" } : {}),
        host: settings.host,
        port: settings.port,
        storage,
        legacyAuth: settings.legacyAuth,
        tls,
        limits: settings.limits,
        openFileLimit,
        events,
        signal: lifecycle.signal,
      });
    } catch (error) {
      await hub?.close();
      subscription.unsubscribe();
      await printer;
      const reason = error instanceof Deno.errors.AddrInUse
        ? "address in use"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new Error(`Cannot listen on ${settings.host}:${settings.port}: ${reason}`);
    }
    await server.finished;
    await hub?.close();
    subscription.unsubscribe();
    await printer;
    return ExitCode.Ok;
  } finally {
    await storage.close();
  }
}
