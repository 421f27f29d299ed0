/** The interactive console: slash commands over a ChatSession. */
import { isAccountName, sameLogin } from "../protocol/mod.ts";
import type { ChatSession } from "./chat_session.ts";
import type { MessageRecord } from "./history.ts";
import { describeState, formatContacts, formatMessage, formatRooms, stamp } from "./_format.ts";
import { isRoomName, roomNameProblem } from "./rooms.ts";
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
  /chat NAME         talk to NAME: plain lines go there, and NAME's messages count as read
                     (/chat alone stops)
  /msg NAME text     send one message
  /history NAME [N]  the last N messages with NAME (default 20), completed from the server
  /history NAME more the N before those shown last
  /search TEXT       find messages in your local history (words, by their beginnings)
  /status ID         where message #ID stands: stored, delivered, read, or failed
  /retry ID          send a failed message again
  /help              this help               /quit       leave
Rooms:
  /join #room [invite-only]  join a room; the first join creates it (you own it then)
  /leave #room       leave a room            /rooms      the rooms you are in
  /members #room     who is in a room (● online, ★ owner)
  /invite #room NAME let NAME join (needed for an invite-only room)
  /msg #room text    post to a room; /chat #room then plain lines go there
  /history #room [N] the room's last N messages
  /kick #room NAME   /owner #room NAME   /delete #room   (the owner only)
Marks on your messages in /history: ✓ stored (waits for the recipient), ✓✓ delivered,
✓✓ read.`;

/** Most hits /search prints. */
const SEARCH_HITS = 20;

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
  // What arrives in the open chat is on screen: it counts as read.
  session.addEventListener("message", (e) => {
    if (target !== undefined && e.detail.direction === "in" && e.detail.contact === target) {
      void session.markRead(target).catch(() => {});
    }
  });
  // Out of a room by someone else's hand: plain lines must not go on trying to post there.
  session.addEventListener("rooms", (e) => {
    if (target?.startsWith("#") && !e.detail.some((r) => r.room === target)) {
      target = undefined;
      void prompt();
    }
  });
  /** The oldest message /history showed per contact, for "/history NAME more". */
  const shown = new Map<string, { oldest: MessageRecord | undefined; count: number }>();

  const send = async (to: string, text: string) => {
    const record = await session.send(to, text);
    if (record.status === "failed") {
      await fail(
        `Not delivered to ${to}: ${record.error} (kept as #${record.id}; /retry ${record.id})`,
      );
      return;
    }
    await say(formatMessage(record, session.user, paint));
    if (record.status === "stored") {
      await info(
        `${to} is offline: the server keeps it until ${to} logs in (/status ${record.id})`,
      );
    }
  };

  /** The room named in a room command, or a usage error when it is missing or not a room. */
  const roomArg = async (name: string | undefined, usage: string): Promise<string | null> => {
    if (!name) {
      await fail(`Usage: ${usage}`);
      return null;
    }
    if (!isRoomName(name)) {
      await fail(`${roomNameProblem("room", name).replace("Invalid field: room", "A room name")}`);
      return null;
    }
    if (!session.roomsSupported) {
      await fail("This server does not support rooms");
      return null;
    }
    // The mirror has the server's spelling; commands may be typed in any case.
    return session.rooms().find((r) => r.room.toLowerCase() === name.toLowerCase())?.room ??
      name;
  };

  const commands: Record<string, (args: string[], rest: string) => Promise<void>> = {
    async help() {
      await say(CONSOLE_HELP);
    },
    async contacts() {
      // With presence pushes the marks are current already; without, ask the server.
      const list = session.presencePush ? session.contacts() : await session.syncContacts();
      await say(formatContacts(list, paint));
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
      if (name.startsWith("#")) {
        const room = await roomArg(name, "/chat #room");
        if (room === null) return;
        const member = session.rooms().some((r) => r.room === room);
        if (!member) return fail(`Not a member of ${room}: /join ${room} first`);
        target = room;
        await prompt();
        await info(`Chatting in ${room}: plain lines go to everyone in it`);
        for (const m of session.messages(room, 10)) {
          await say(formatMessage(m, session.user, paint));
        }
        await session.markRead(room);
        return;
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
      await session.markRead(name);
    },
    async msg([name], rest) {
      const text = rest.slice(rest.indexOf(name ?? "") + (name ?? "").length).trim();
      if (!name || !text) return fail("Usage: /msg NAME text");
      await send(name, text);
    },
    async history([nameArg, count, extra]) {
      let name = nameArg;
      if (!name || extra !== undefined) return fail("Usage: /history NAME [N | more]");
      if (name.startsWith("#")) {
        const room = await roomArg(name, "/history #room [N | more]");
        if (room === null) return;
        name = room;
      } else if (!isAccountName(name)) return fail(`Invalid login: ${name}`);
      const more = count === "more";
      const last = shown.get(name);
      const n = more ? last?.count ?? 20 : count === undefined ? 20 : Number(count);
      if (!Number.isInteger(n) || n < 1 || n > 500) {
        return fail("Usage: /history NAME [N | more] (N from 1 to 500)");
      }
      if (more && last?.oldest === undefined) {
        return info(last ? `No older messages with ${name}` : `/history ${name} first`);
      }
      const page = await session.page(name, {
        limit: n,
        ...(more ? { before: last!.oldest } : {}),
      });
      shown.set(name, { oldest: page.more ? page.messages[0] : undefined, count: n });
      if (page.messages.length === 0) {
        return info(more ? `No older messages with ${name}` : `No messages with ${name}`);
      }
      const lines = page.messages.map((m) =>
        formatMessage(m, session.user, paint, { date: true, marks: true })
      );
      await say(lines.join("\n"));
      if (page.more) await info(`Older messages: /history ${name} more`);
    },
    async join([name, option, extra]) {
      const usage = "/join #room [invite-only]";
      const room = await roomArg(name, usage);
      if (room === null) return;
      if (extra !== undefined || (option !== undefined && option !== "invite-only")) {
        return fail(`Usage: ${usage}`);
      }
      const joined = await session.join(room, { inviteOnly: option === "invite-only" });
      if (joined.created) {
        await info(
          `Created ${joined.room}: you own it` +
            (option === "invite-only"
              ? "; it is invite-only (/invite " + joined.room + " NAME)"
              : ""),
        );
      } else await info(`${joined.alert}: /chat ${joined.room} to talk there`);
    },
    async leave([name]) {
      const room = await roomArg(name, "/leave #room");
      if (room === null) return;
      await session.leave(room);
      if (target?.toLowerCase() === room.toLowerCase()) {
        target = undefined;
        await prompt();
      }
      await info(`Left ${room}: nothing more of it arrives`);
    },
    async rooms() {
      if (!session.roomsSupported) return fail("This server does not support rooms");
      await say(formatRooms(session.rooms(), session.history.unreadCounts(), session.user, paint));
    },
    async members([name]) {
      const room = await roomArg(name, "/members #room");
      if (room === null) return;
      const members = await session.members(room);
      const lines = members.map((m) =>
        `  ${m.online ? paint.green("●") : paint.dim("○")} ${
          m.owner ? paint.bold(m.login) : m.login
        }${m.owner ? " ★ owner" : ""}${m.online ? "" : paint.dim(" (offline)")}`
      );
      await say([`Members of ${room} (${members.length}):`, ...lines].join("\n"));
    },
    async invite([name, login]) {
      const room = await roomArg(name, "/invite #room NAME");
      if (room === null) return;
      if (!login) return fail("Usage: /invite #room NAME");
      if (!isAccountName(login)) return fail(`Invalid login: ${login}`);
      await session.invite(room, login);
      await info(`Invited ${login} to ${room}: /join ${room} lets them in`);
    },
    async kick([name, login]) {
      const room = await roomArg(name, "/kick #room NAME");
      if (room === null) return;
      if (!login) return fail("Usage: /kick #room NAME");
      if (!isAccountName(login)) return fail(`Invalid login: ${login}`);
      await session.kick(room, login);
      await info(`Removed ${login} from ${room}`);
    },
    async owner([name, login]) {
      const room = await roomArg(name, "/owner #room NAME");
      if (room === null) return;
      if (!login) return fail("Usage: /owner #room NAME");
      if (!isAccountName(login)) return fail(`Invalid login: ${login}`);
      await session.setOwner(room, login);
      await info(`${login} owns ${room} now`);
    },
    async delete([name, extra]) {
      const room = await roomArg(name, "/delete #room");
      if (room === null) return;
      if (extra !== undefined) return fail("Usage: /delete #room");
      await session.deleteRoom(room);
      if (target?.toLowerCase() === room.toLowerCase()) {
        target = undefined;
        await prompt();
      }
      await info(`Deleted ${room}: its members were told`);
    },
    async search(_args, rest) {
      const query = rest.trim();
      if (query === "") return fail("Usage: /search TEXT");
      const hits = session.search(query, { limit: SEARCH_HITS + 1 });
      if (hits.length === 0) return info(`No messages match ${JSON.stringify(query)}`);
      const lines = hits.slice(0, SEARCH_HITS).map((m) =>
        formatMessage(m, session.user, paint, { date: true, marks: true })
      );
      await say(lines.join("\n"));
      await info(
        hits.length > SEARCH_HITS
          ? `The ${SEARCH_HITS} newest matches; add words to narrow it down`
          : `${hits.length} match${hits.length === 1 ? "" : "es"}, newest first`,
      );
    },
    async status([id]) {
      const n = Number(id);
      if (!id || !Number.isSafeInteger(n) || n < 1) return fail("Usage: /status ID");
      const m = session.history.message(n);
      if (!m) return fail(`No such message: #${id}`);
      const server = m.serverId === undefined ? "" : `, server id ${m.serverId}`;
      await say(`#${m.id} ${stamp(m.time)} ${describeState(m)}${server}`);
    },
    async retry([id]) {
      const n = Number(id);
      if (!id || !Number.isInteger(n)) return fail("Usage: /retry ID");
      const record = await session.retry(n);
      if (record.status !== "failed") await say(formatMessage(record, session.user, paint));
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
