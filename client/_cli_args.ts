/**
 * Command-line and environment parsing for jim-client. Pure: it takes argv and an env object,
 * so every rule is testable without a process.
 */
import { parseArgs } from "node:util";
import { envValue, parseBoolean, parseNumber, parsePort, UsageError } from "../common/usage.ts";
import { isAccountName, MAX_NAME_LENGTH } from "../protocol/mod.ts";
import { isConversationName } from "./rooms.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "./jim_client.ts";
import { parseServerList, type ServerAddress } from "./server_list.ts";

export { UsageError };

/** The subcommands; "chat" (interactive) is the default. */
export const COMMAND_NAMES = ["chat", "send", "history", "import-seed"] as const;

/** Flags shared by every subcommand, with their environment variables. */
export interface GlobalConfig {
  user: string | undefined;
  /** The first server of {@linkcode GlobalConfig.servers}: it names the local history. */
  host: string;
  port: number;
  /** Every server of `--host`, tried in turn; `--port` for those given without one. */
  servers: ServerAddress[];
  tls: boolean;
  ca: string | undefined;
  legacyAuth: boolean;
  dataDir: string | undefined;
  passwordStdin: boolean;
  /** Interactive chat: end on a lost connection instead of reconnecting. */
  noReconnect: boolean;
}

/** A parsed command line. */
export interface CliConfig extends GlobalConfig {
  command: string;
  help: boolean;
  version: boolean;
  /** Positional arguments after the subcommand. */
  args: string[];
  to: string | undefined;
  limit: number | undefined;
  json: boolean;
}

const OPTIONS = {
  user: { type: "string", short: "u" },
  host: { type: "string", short: "H" },
  port: { type: "string", short: "p" },
  tls: { type: "boolean" },
  ca: { type: "string" },
  "legacy-auth": { type: "boolean" },
  "data-dir": { type: "string" },
  "password-stdin": { type: "boolean" },
  "no-reconnect": { type: "boolean" },
  to: { type: "string", short: "t" },
  limit: { type: "string", short: "n" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Global flags and the environment variable each one falls back to. */
export const ENV_VARS: Readonly<Record<keyof GlobalConfig, string>> = {
  user: "JIM_USER",
  host: "JIM_HOST",
  port: "JIM_PORT",
  servers: "JIM_HOST",
  tls: "JIM_TLS",
  ca: "JIM_CA",
  legacyAuth: "JIM_LEGACY_AUTH",
  dataDir: "JIM_DATA_DIR",
  passwordStdin: "JIM_PASSWORD_STDIN",
  noReconnect: "JIM_NO_RECONNECT",
};

function envBoolean(env: Record<string, string | undefined>, name: string): boolean {
  const raw = envValue(env, name);
  return raw === undefined ? false : parseBoolean(raw, name);
}

/**
 * Parses argv (without the program name) with the environment as fallback. Flags win over
 * environment variables; global flags may come before or after the subcommand.
 *
 * @throws {UsageError} for an unknown flag or command, or a malformed value.
 */
export function parseCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  commands: readonly string[] = COMMAND_NAMES,
): CliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    const message = (cause as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new UsageError(message, { cause });
  }
  const { values, positionals } = parsed;
  let command = "chat";
  let args = positionals;
  if (positionals.length > 0) {
    const first = positionals[0]!;
    if (!commands.includes(first)) {
      throw new UsageError(`Unknown command: ${first} (commands: ${commands.join(", ")})`);
    }
    command = first;
    args = positionals.slice(1);
  }

  const user = values.user ?? (env[ENV_VARS.user] || undefined);
  if (user !== undefined && !isAccountName(user)) {
    throw new UsageError(
      `Invalid user: 1 to ${MAX_NAME_LENGTH} letters, digits, "_", "-" or ".", got "${user}"`,
    );
  }
  const hostSource = values.host !== undefined
    ? "--host"
    : env[ENV_VARS.host]
    ? ENV_VARS.host
    : undefined;
  const hostText = values.host ?? (env[ENV_VARS.host] || DEFAULT_HOST);
  const envPort = envValue(env, ENV_VARS.port);
  const port = values.port !== undefined
    ? parsePort(values.port, "--port", { min: 1 })
    : envPort !== undefined
    ? parsePort(envPort, ENV_VARS.port, { min: 1 })
    : DEFAULT_PORT;
  const servers = parseServerList(hostText, port, hostSource ?? "host");
  const limit = values.limit === undefined
    ? undefined
    : parseNumber(values.limit, "--limit", { integer: true, min: 1 });
  const config: CliConfig = {
    command,
    args,
    help: values.help ?? false,
    version: values.version ?? false,
    user,
    host: servers[0]!.host,
    port: servers[0]!.port,
    servers,
    tls: values.tls ?? envBoolean(env, ENV_VARS.tls),
    ca: values.ca ?? (env[ENV_VARS.ca] || undefined),
    legacyAuth: values["legacy-auth"] ?? envBoolean(env, ENV_VARS.legacyAuth),
    dataDir: values["data-dir"] ?? (env[ENV_VARS.dataDir] || undefined),
    passwordStdin: values["password-stdin"] ?? envBoolean(env, ENV_VARS.passwordStdin),
    noReconnect: values["no-reconnect"] ?? envBoolean(env, ENV_VARS.noReconnect),
    to: values.to,
    limit,
    json: values.json ?? false,
  };
  if (config.help || config.version) return config;
  checkCommandFlags(config);
  return config;
}

function checkCommandFlags(config: CliConfig): void {
  const misplaced = (flag: string, where: string) =>
    new UsageError(`${flag} belongs to "${where}", not "${config.command}"`);
  if (config.to !== undefined && config.command !== "send") throw misplaced("--to", "send");
  if (config.limit !== undefined && config.command !== "history") {
    throw misplaced("--limit", "history");
  }
  if (config.json && config.command !== "history") throw misplaced("--json", "history");
  switch (config.command) {
    case "chat":
      if (config.args.length > 0) {
        throw new UsageError(`Unexpected argument: ${config.args[0]} (try --help)`);
      }
      break;
    case "send":
      if (config.to === undefined) throw new UsageError('Missing --to: send --to NAME "text"');
      if (!isConversationName(config.to)) throw new UsageError(`Invalid --to: "${config.to}"`);
      if (config.args.length === 0 || config.args.join(" ").trim() === "") {
        throw new UsageError('Missing message text: send --to NAME "text"');
      }
      break;
    case "import-seed":
      if (config.args.length !== 1) {
        throw new UsageError("Expected one file: import-seed FILE --user NAME");
      }
      break;
    case "history":
      if (config.args.length !== 1) {
        throw new UsageError("Expected one contact: history NAME [--limit N] [--json]");
      }
      if (!isConversationName(config.args[0])) {
        throw new UsageError(`Invalid contact name: "${config.args[0]}"`);
      }
      break;
  }
}

/** The --help text. */
export function usage(commands: readonly string[] = COMMAND_NAMES): string {
  const extra = commands.filter((c) => !(COMMAND_NAMES as readonly string[]).includes(c));
  return `jim-client: chat with a jim (JIM protocol) server from a terminal

Usage:
  jim-client [flags]                              interactive chat (type /help inside)
  jim-client send --to NAME "text" [flags]        send one message; exit 0 when the server
                                                  took it (delivered, or stored for later)
  jim-client history NAME [--limit N] [--json]    print the local history with NAME (or #room)
  jim-client import-seed FILE [flags]             import a seed client's contacts and
                                                  messages into the local history
${extra.map((c) => `  jim-client ${c} [flags]\n`).join("")}
Flags (environment variable in brackets):
  -u, --user NAME        Your login [JIM_USER]
  -H, --host LIST        Server host, or several servers of one cluster tried in turn
                         when one cannot be reached or dies: HOST[:PORT],… with IPv6
                         in brackets, e.g. a:7777,[::1]:7778 (default: ${DEFAULT_HOST})
                         [JIM_HOST]
  -p, --port PORT        Server port, for hosts without one (default: ${DEFAULT_PORT})
                         [JIM_PORT]
      --tls              Connect with TLS [JIM_TLS]
      --ca FILE          Trust this PEM CA certificate; implies --tls [JIM_CA]
      --legacy-auth      Allow the seed's HMAC-MD5 login, used only when the server
                         offers nothing else [JIM_LEGACY_AUTH]
      --data-dir DIR     History location (default: $XDG_DATA_HOME/jim or
                         ~/.local/share/jim) [JIM_DATA_DIR]
      --password-stdin   Read the password from the first line of stdin [JIM_PASSWORD_STDIN]
      --no-reconnect     Interactive chat: exit 1 when the connection is lost instead of
                         reconnecting [JIM_NO_RECONNECT]
  -t, --to NAME          send: the recipient
  -n, --limit N          history: how many messages (default: 50)
      --json             history: print JSON
  -h, --help             Show this help
  -V, --version          Show the version

The password comes from --password-stdin, else JIM_PASSWORD, else a prompt without echo.
Flags may come before or after the command. NO_COLOR turns colors off.

Exit codes: 0 ok, 1 failure (e.g. not delivered, login refused, connection lost for good,
not a seed database), 2 usage error.
`;
}
