/** The interactive console: slash commands over a ChatSession. */
import { isAccountName, sameLogin } from "../protocol/mod.ts";
import type { ChatSession } from "./chat_session.ts";
import { formatContacts, formatMessage } from "./_format.ts";
import type { Painter, Screen } from "./_terminal.ts";

/** Where lines come from: the TTY line editor or a plain reader. */
export interface LineSource {
  readLine(): Promise<string | null>;
  setPrompt?(prompt: string): Promise<void>;
}

export const CONSOLE_HELP = `Commands:
  /contacts          show your contacts (● online, ○ offline)
  /add NAME          add a contact           /del NAME   remove a contact
  /users             every registered login
  /chat NAME         talk to NAME: plain lines go there (/chat alone stops)
  /msg NAME text     send one message
  /history NAME [N]  the last N messages with NAME (default 20)
  /retry ID          send a failed message again
  /help              this help               /quit       leave`;

/**
 * Runs the command loop until /quit, end of input, or a connection lost for good (the
 * session does not reconnect, or gave up). Returns the exit code: 0 for a normal end, 1 when
 * the connection was lost for good. Incoming messages and the loss and reconnect lines are
 * printed by the caller, which subscribes before the login so that none is missed.
 */
export async function runConsole(
  session: ChatSession,
  input: LineSource,
  screen: Screen,
  paint: Painter,
): Promise<number> {
  let target: string | undefined;
  const say = (text: string) => screen.print(text);
  const info = (text: string) => screen.print(paint.dim(`* ${text}`));
  const fail = (text: string) => screen.print(paint.red(`! ${text}`));
  const prompt = () => input.setPrompt?.(target ? `${target}> ` : "> ");

  const { promise: lost, resolve: loseConnection } = Promise.withResolvers<"lost">();
  session.addEventListener("disconnected", (e) => {
    if (e.detail.error && !e.detail.reconnecting) loseConnection("lost");
  });

  const send = async (to: string, text: string) => {
    const record = await session.send(to, text);
    if (record.status === "delivered") {
      await say(formatMessage(record, session.user, paint));
    } else {
      await fail(
        `Not delivered to ${to}: ${record.error} (kept as #${record.id}; /retry ${record.id})`,
      );
    }
  };

  const commands: Record<string, (args: string[], rest: string) => Promise<void>> = {
    async help() {
      await say(CONSOLE_HELP);
    },
    async contacts() {
      await say(formatContacts(await session.syncContacts(), paint));
    },
    async add([name]) {
      if (!name) return fail("Usage: /add NAME");
      await session.addContact(name);
      await info(`Added ${name} to your contacts`);
    },
    async del([name]) {
      if (!name) return fail("Usage: /del NAME");
      await session.removeContact(name);
      if (target === name) {
        target = undefined;
        await prompt();
      }
      await info(`Removed ${name} from your contacts`);
    },
    async users() {
      const users = await session.users();
      await say(`Users (${users.length}): ${users.join(", ")}`);
    },
    async chat([name]) {
      if (!name) {
        target = undefined;
        await prompt();
        return info("Chat closed: plain lines go nowhere; /chat NAME to start one");
      }
      if (!isAccountName(name)) return fail(`Invalid login: ${name}`);
      target = name;
      await prompt();
      const known = session.contacts().some((c) => sameLogin(c.login, name));
      await info(
        `Chatting with ${name}: plain lines go to ${name}` +
          (known ? "" : ` (not in your contacts; /add ${name} to keep them)`),
      );
      const recent = session.messages(name, 10);
      for (const m of recent) await say(formatMessage(m, session.user, paint));
    },
    async msg([name], rest) {
      const text = rest.slice(rest.indexOf(name ?? "") + (name ?? "").length).trim();
      if (!name || !text) return fail("Usage: /msg NAME text");
      await send(name, text);
    },
    async history([name, count]) {
      if (!name) return fail("Usage: /history NAME [N]");
      const n = count === undefined ? 20 : Number(count);
      if (!Number.isInteger(n) || n < 1) return fail("Usage: /history NAME [N] (N ≥ 1)");
      const records = session.messages(name, n);
      if (records.length === 0) return info(`No messages with ${name}`);
      await say(
        records.map((m) => formatMessage(m, session.user, paint, { date: true })).join("\n"),
      );
    },
    async retry([id]) {
      const n = Number(id);
      if (!id || !Number.isInteger(n)) return fail("Usage: /retry ID");
      const record = await session.retry(n);
      if (record.status === "delivered") await say(formatMessage(record, session.user, paint));
      else await fail(`Not delivered to ${record.contact}: ${record.error} (still #${record.id})`);
    },
  };

  if (!session.connected) return 1;
  await info(`Type /help for commands, /quit to leave`);
  const online = session.contacts().filter((c) => c.online).map((c) => c.login);
  if (session.contacts().length > 0) {
    await info(
      `Contacts: ${session.contacts().length}, online: ${
        online.length ? online.join(", ") : "none"
      }`,
    );
  }
  await prompt();

  for (;;) {
    const next = await Promise.race([input.readLine(), lost]);
    if (next === "lost") {
      await screen.flush();
      return 1;
    }
    if (next === null) break;
    const line = next.trim();
    if (line === "") continue;
    try {
      if (!line.startsWith("/")) {
        if (!target) {
          await fail("No chat open: /chat NAME first, or /msg NAME text");
          continue;
        }
        await send(target, line);
        continue;
      }
      // On a terminal the submitted line is erased; a command stays visible above its output.
      if (screen.tty) await say(paint.dim(`${target ? `${target}> ` : "> "}${line}`));
      const [word, ...args] = line.slice(1).split(/\s+/);
      const name = (word ?? "").toLowerCase();
      if (name === "quit" || name === "exit") break;
      const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
      if (!command) {
        await fail(`Unknown command: /${word} (try /help)`);
        continue;
      }
      await command(args, line.slice(1 + (word ?? "").length).trim());
    } catch (error) {
      await fail(error instanceof Error ? error.message : String(error));
    }
    if (!session.connected && !session.reconnecting) {
      await screen.flush();
      return 1;
    }
  }
  await session.quit();
  await screen.flush();
  return 0;
}
