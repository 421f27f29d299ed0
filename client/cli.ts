/**
 * jim-client: the console client. Interactive chat by default; `send` and `history` for
 * scripts. Run `deno task client --help`.
 *
 * @module
 */
import denoConfig from "../deno.json" with { type: "json" };
import { MAX_PASSWORD_LENGTH } from "../protocol/mod.ts";
import { ChatSession } from "./chat_session.ts";
import { History, historyPath } from "./history.ts";
import { defaultDataDir } from "./history.ts";
import { type CliConfig, COMMAND_NAMES, parseCli, usage, UsageError } from "./_cli_args.ts";
import { runConsole } from "./_console.ts";
import { formatServerList } from "./server_list.ts";
import { formatMessage } from "./_format.ts";
import { describeRoomEvent } from "./rooms.ts";
import { importSeedClient, SeedImportError } from "./seed_import.ts";
import {
  InputText,
  LineEditor,
  Painter,
  PlainLineReader,
  readHiddenLine,
  Screen,
  useColor,
} from "./_terminal.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoConfig.version;

/** What a subcommand gets. */
export interface CommandContext {
  config: CliConfig;
  env: Record<string, string | undefined>;
  /** Standard output, TTY-aware. */
  out: Screen;
  /** Standard error. */
  err: Screen;
  /** Styles for stdout. */
  paint: Painter;
  /** Styles for stderr. */
  errPaint: Painter;
  /** Standard input as text, shared by the password prompt and the command reader. */
  input: InputText;
  /** Lines of piped input: the password line of --password-stdin, then the commands. */
  lines: PlainLineReader;
  stdinIsTerminal: boolean;
}

/** A subcommand: returns the exit code. */
export type Command = (context: CommandContext) => Promise<number>;

/** Thrown to end with an exit code after a message was printed. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "Exit";
  }
}

/**
 * Where the password will come from. Checked before connecting, so that a missing one is a
 * usage error at once; read only once the server was reached, so that an unreachable server
 * is reported before anyone types a password.
 */
function passwordSource(context: CommandContext): () => Promise<string> {
  const { config, env, input, err } = context;
  if (config.passwordStdin) {
    return async () => {
      // The same reader then takes the commands: a second one would lose what the first
      // had already read past the password line.
      const line = await context.lines.readLine();
      if (line === null || line === "") throw new UsageError("No password on stdin");
      return checkPasswordLength(line);
    };
  }
  const fromEnv = env.JIM_PASSWORD;
  if (fromEnv) {
    checkPasswordLength(fromEnv);
    return () => Promise.resolve(fromEnv);
  }
  if (!context.stdinIsTerminal) {
    throw new UsageError(
      "No password: set JIM_PASSWORD, pass --password-stdin, or run on a terminal",
    );
  }
  return async () => {
    const entered = await readHiddenLine(
      err,
      input,
      `Password for ${config.user}@${formatServerList(config.servers)}: `,
      // "* Connected to …" may still be on its way to stdout.
      { after: context.out },
    );
    if (entered === null) throw new Exit(130);
    return checkPasswordLength(entered);
  };
}

function checkPasswordLength(password: string): string {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new UsageError(`Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

async function openSession(
  context: CommandContext,
  reconnect: boolean,
  onSession?: (session: ChatSession) => void,
): Promise<ChatSession> {
  const { config } = context;
  if (!config.user) throw new UsageError("Missing --user NAME (or JIM_USER)");
  let caCert: string | undefined;
  if (config.ca) {
    try {
      caCert = await Deno.readTextFile(config.ca);
    } catch (cause) {
      throw new UsageError(`Cannot read --ca ${config.ca}: ${(cause as Error).message}`);
    }
  }
  const session = new ChatSession({
    servers: config.servers,
    tls: config.tls || caCert !== undefined,
    ...(caCert ? { caCert } : {}),
    user: config.user,
    password: passwordSource(context),
    allowLegacy: config.legacyAuth,
    reconnect,
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
  });
  onSession?.(session);
  await session.open();
  return session;
}

async function chat(context: CommandContext): Promise<number> {
  const { out, paint } = context;
  const session = await openSession(context, !context.config.noReconnect, (s) => {
    s.addEventListener("message", (e) => {
      const m = e.detail;
      // A carbon reads as one's own line; what waited on the server shows its date.
      const note = m.via === "carbon" || m.via === "self" ? "(from another device)" : undefined;
      out.print(formatMessage(m, s.user, paint, {
        date: m.via === "backlog" && new Date(m.time).toDateString() !== new Date().toDateString(),
        ...(note ? { note, state: false } : {}),
      }));
    });
    s.addEventListener("room", (e) => {
      // One's own joins and leaves are answered by the command itself.
      const own = e.detail.user !== undefined &&
        e.detail.user.toLowerCase() === s.user.toLowerCase();
      if (own && (e.detail.event === "joined" || e.detail.event === "left")) return;
      out.print(paint.dim(`* ${describeRoomEvent(e.detail, s.user)}`));
    });
    s.addEventListener("presence", (e) => {
      const { login, online } = e.detail;
      out.print(paint.dim(`* ${login} ${online ? "is online" : "went offline"}`));
    });
    s.addEventListener("disconnected", (e) => {
      // One line for the loss; the attempts stay in the service log until "Reconnected".
      if (e.detail.reconnecting) out.print(paint.red(`* ${e.detail.reason}; reconnecting`));
    });
    s.addEventListener("service", (e) => {
      if (s.reconnecting || e.detail.text.startsWith("Answered a probe")) return;
      const line = `* ${e.detail.text}`;
      out.print(e.detail.level === "error" ? paint.red(line) : paint.dim(line));
    });
  });
  await using _ = session;
  let source;
  if (context.stdinIsTerminal && context.out.tty && !context.config.passwordStdin) {
    Deno.stdin.setRaw(true);
    source = new LineEditor(out, context.input);
  } else {
    source = context.lines;
  }
  try {
    return await runConsole(session, source, out, paint);
  } finally {
    if (source instanceof LineEditor) Deno.stdin.setRaw(false);
  }
}

async function send(context: CommandContext): Promise<number> {
  const { config, out, err, errPaint } = context;
  const to = config.to!;
  const text = config.args.join(" ");
  // A one-shot command reports a loss by its exit code instead of waiting for the server.
  await using session = await openSession(context, false);
  const record = await session.send(to, text);
  await session.quit();
  if (to.startsWith("#") && record.status !== "failed") {
    // Rooms have no offline backlog: members who are away read it in the room's history.
    await out.print(`Posted to ${record.contact} (#${record.id})`);
    return 0;
  }
  if (record.status === "delivered" || record.status === "read") {
    await out.print(`Delivered to ${to} (#${record.id})`);
    return 0;
  }
  if (record.status === "stored") {
    await out.print(
      `Stored for ${to}: the message waits on the server until ${to} logs in (#${record.id})`,
    );
    return 0;
  }
  await err.print(errPaint.red(`jim-client: Not delivered to ${to}: ${record.error}`));
  return 1;
}

async function history(context: CommandContext): Promise<number> {
  const { config, out, paint } = context;
  if (!config.user) throw new UsageError("Missing --user NAME (or JIM_USER)");
  const contact = config.args[0]!;
  const dataDir = config.dataDir ?? defaultDataDir(context.env);
  const path = historyPath(dataDir, config.user, config.host, config.port);
  let records: ReturnType<History["messages"]> = [];
  let exists = true;
  try {
    Deno.statSync(path);
  } catch {
    exists = false; // Nothing stored yet; do not create a database just to read it.
  }
  if (exists) {
    using store = History.open({ path });
    records = store.messages(contact, { limit: config.limit ?? 50 });
  }
  if (config.json) {
    await out.print(JSON.stringify(records, null, 2));
  } else if (records.length === 0) {
    await out.print(`No messages with ${contact}`);
  } else {
    const lines = records.map((r) =>
      formatMessage(r, config.user!, paint, { date: true, marks: true })
    );
    await out.print(lines.join("\n"));
  }
  return 0;
}

async function importSeed(context: CommandContext): Promise<number> {
  const { config, out, err, errPaint } = context;
  if (!config.user) throw new UsageError("Missing --user NAME (or JIM_USER): whose history it is");
  const file = config.args[0]!;
  const dataDir = config.dataDir ?? defaultDataDir(context.env);
  using store = History.open({
    dataDir,
    account: config.user,
    host: config.host,
    port: config.port,
  });
  let report;
  try {
    report = await importSeedClient(file, config.user, store);
  } catch (error) {
    if (!(error instanceof SeedImportError)) throw error;
    await err.print(errPaint.red(`jim-client: ${error.message}`));
    return 1;
  }
  const lines = [
    `Imported ${file} into ${store.path}:`,
    `  ${report.added} message(s) added, ${report.duplicates} already there`,
    `  ${report.contacts} contact(s) added` +
    (report.contacts > 0 ? " (and on the server at your next login)" : ""),
  ];
  if (report.skipped.length > 0) {
    lines.push(`  ${report.skipped.length} row(s) skipped:`);
    for (const s of report.skipped.slice(0, 20)) lines.push(`    ${s.row}: ${s.reason}`);
    if (report.skipped.length > 20) lines.push(`    … and ${report.skipped.length - 20} more`);
  }
  await out.print(lines.join("\n"));
  return 0;
}

/**
 * The subcommands. A composition root may add more before calling {@linkcode main}:
 * bin/jim-client.ts adds `gui`.
 */
export const COMMANDS: Record<string, Command> = {
  chat,
  send,
  history,
  "import-seed": importSeed,
};

/**
 * Runs jim-client with `argv` and returns the exit code: 0 ok, 1 failure, 2 usage.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["history", "bob", "--user", "alice", "--json"]));
 * ```
 */
export async function main(
  argv: readonly string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<number> {
  const stdoutTty = Deno.stdout.isTerminal();
  const stderrTty = Deno.stderr.isTerminal();
  const stdinIsTerminal = Deno.stdin.isTerminal();
  const out = new Screen(Deno.stdout, stdoutTty);
  const err = new Screen(Deno.stderr, stderrTty);
  const paint = new Painter(useColor(stdoutTty, env));
  const errPaint = new Painter(useColor(stderrTty, env));
  const names = Object.keys(COMMANDS);
  let config: CliConfig;
  try {
    config = parseCli(argv, env, names.length ? names : COMMAND_NAMES);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    await err.print(errPaint.red(`jim-client: ${error.message}`));
    await err.print("Try 'jim-client --help'.");
    return 2;
  }
  if (config.help) {
    await out.write(usage(names));
    return 0;
  }
  if (config.version) {
    await out.print(`jim-client ${VERSION} (Deno ${Deno.version.deno})`);
    return 0;
  }
  const input = new InputText(Deno.stdin);
  const context: CommandContext = {
    config,
    env,
    out,
    err,
    paint,
    errPaint,
    input,
    lines: new PlainLineReader(input),
    stdinIsTerminal,
  };
  try {
    return await COMMANDS[config.command]!(context);
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof UsageError) {
      await err.print(errPaint.red(`jim-client: ${error.message}`));
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    await out.flush();
    await err.print(errPaint.red(`jim-client: ${message}`));
    return 1;
  } finally {
    await out.flush();
    await err.flush();
  }
}
