/**
 * Issue 12 end to end, client against the real server (bin/jim-server.ts in a child process,
 * real sockets, real SQLite files on both sides): offline delivery across a server restart,
 * several sessions with carbons, receipts, presence pushes, a fresh data directory recovering
 * the history, and the console's `send` for a stored message. Presence push lands separately:
 * its test runs once the server announces `presence`, and is skipped with the reason until then.
 */
import assert from "node:assert/strict";
import { type ArrivedMessage, ChatSession, type ChatSessionOptions } from "../client/mod.ts";
import { runClient } from "../client/_spawn.ts";
import { tempDir } from "../client/_assert.ts";
import { type Backend, realServerSupports, startRealServer } from "./_conversation_backend.ts";

const PRESENCE = await realServerSupports("presence", "tests/conversations_e2e_test.ts presence");
const USERS = ["alice", "bob"].map((login) => ({ login, password: `${login}-pw` }));

async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function session(
  srv: Backend,
  user: string,
  dataDir: string,
  extra: Partial<ChatSessionOptions> = {},
): Promise<{ chat: ChatSession; arrived: ArrivedMessage[] } & AsyncDisposable> {
  const chat = new ChatSession({
    port: srv.port,
    user,
    password: `${user}-pw`,
    dataDir,
    reconnect: false,
    ...extra,
  });
  const arrived: ArrivedMessage[] = [];
  chat.addEventListener("message", (e) => arrived.push(e.detail));
  await chat.open();
  await chat.synced;
  return { chat, arrived, [Symbol.asyncDispose]: () => chat.close() };
}

Deno.test({
  name: "issue 12 e2e: a message to an offline user survives a restart and arrives once, in order",
  async fn() {
    await using srv = await startRealServer(USERS);
    await using dir = await tempDir("jim-conv-e2e-");
    {
      await using alice = await session(srv, "alice", `${dir}/alice`);
      const first = await alice.chat.send("bob", "first, while you are away");
      const second = await alice.chat.send("bob", "second");
      assert.deepEqual([first.status, second.status], ["stored", "stored"]);
      assert.ok(first.serverId! < second.serverId!);
      await alice.chat.quit();
    }
    await srv.restart();
    await using bob = await session(srv, "bob", `${dir}/bob`);
    await waitFor("the backlog", () => bob.arrived.length === 2);
    assert.deepEqual(bob.arrived.map((m) => [m.via, m.text]), [
      ["backlog", "first, while you are away"],
      ["backlog", "second"],
    ]);
    await bob.chat.quit();
    // Exactly once: a second login gets nothing again.
    await using again = await session(srv, "bob", `${dir}/bob`);
    assert.deepEqual(again.arrived, []);
    assert.equal(again.chat.history.messages("alice").length, 2);
  },
});

Deno.test({
  name: "issue 12 e2e: two sessions of one account both get a message and each other's sends",
  async fn() {
    await using srv = await startRealServer(USERS);
    await srv.addContact("alice", "bob");
    await using dir = await tempDir("jim-conv-e2e-");
    await using gui = await session(srv, "alice", `${dir}/gui`);
    await using console = await session(srv, "alice", `${dir}/console`);
    await using bob = await session(srv, "bob", `${dir}/bob`);
    await bob.chat.send("alice", "to both of you");
    await waitFor("both copies", () => gui.arrived.length === 1 && console.arrived.length === 1);
    const fromGui = await gui.chat.send("bob", "from the GUI");
    const fromConsole = await console.chat.send("bob", "from the console");
    assert.deepEqual([fromGui.status, fromConsole.status], ["delivered", "delivered"]);
    await waitFor("the carbons", () => gui.arrived.length === 2 && console.arrived.length === 2);
    assert.deepEqual([gui.arrived[1]!.via, gui.arrived[1]!.text], ["carbon", "from the console"]);
    assert.deepEqual([console.arrived[1]!.via, console.arrived[1]!.text], [
      "carbon",
      "from the GUI",
    ]);
    // Read on one: the sender sees read, and the other session's unread count clears.
    await console.chat.markRead("bob");
    await waitFor(
      "bob sees it read",
      () =>
        bob.chat.history.messages("alice").some((m) =>
          m.direction === "out" && m.status === "read"
        ),
    );
    await waitFor("the GUI's count", () => !gui.chat.history.unreadCounts().has("bob"));
  },
});

Deno.test({
  name:
    "issue 12 e2e: a fresh data directory recovers the history, one's own messages as one's own",
  async fn() {
    await using srv = await startRealServer(USERS);
    await srv.addContact("alice", "bob");
    await using dir = await tempDir("jim-conv-e2e-");
    {
      await using alice = await session(srv, "alice", `${dir}/old`);
      await using bob = await session(srv, "bob", `${dir}/bob`);
      for (let i = 1; i <= 120; i++) {
        if (i % 2) await bob.chat.send("alice", `m${i}`);
        else await alice.chat.send("bob", `m${i}`);
      }
      await alice.chat.quit();
    }
    await using fresh = await session(srv, "alice", `${dir}/fresh`);
    let page = await fresh.chat.page("bob", { limit: 50 });
    const seen = [...page.messages];
    while (page.more) {
      page = await fresh.chat.page("bob", { limit: 50, before: page.messages[0] });
      seen.unshift(...page.messages);
    }
    assert.deepEqual(seen.map((m) => m.text), Array.from({ length: 120 }, (_, i) => `m${i + 1}`));
    assert.deepEqual(
      seen.filter((m) => m.direction === "out").map((m) => m.text).slice(0, 3),
      ["m2", "m4", "m6"],
      "alice's own messages come back as hers",
    );
  },
});

Deno.test({
  name: "issue 12 e2e: presence is pushed when a contact comes and goes",
  ignore: !PRESENCE,
  async fn() {
    await using srv = await startRealServer(USERS);
    await srv.addContact("alice", "bob");
    await using dir = await tempDir("jim-conv-e2e-");
    await using alice = await session(srv, "alice", `${dir}/alice`);
    // bob leaves and comes back: the dot follows without a poll.
    const marks: boolean[] = [];
    alice.chat.addEventListener("presence", (e) => marks.push(e.detail.online));
    await using bob = await session(srv, "bob", `${dir}/bob`);
    await waitFor("bob online", () => marks.at(-1) === true);
    await bob.chat.quit();
    await waitFor("bob offline", () => marks.at(-1) === false);
  },
});

Deno.test({
  name: "issue 12 e2e: jim-client send exits 0 for a stored message and says it waits",
  async fn() {
    await using srv = await startRealServer(USERS);
    await using dir = await tempDir("jim-conv-e2e-");
    const run = await runClient(
      ["send", "--to", "bob", "for later", "-u", "alice", "-p", String(srv.port)],
      { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw" },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^Stored for bob: the message waits on the server until bob logs in/,
    );
  },
});
