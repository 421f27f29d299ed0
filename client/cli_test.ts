/** The console client driven through piped stdin/stdout against the real server. */
import { JimServer } from "../server/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { assert, tempDir, waitFor } from "./_assert.ts";
import { ClientProcess, runClient } from "./_spawn.ts";
import { JimClient } from "./jim_client.ts";
import { History, historyPath, type MessageRecord } from "./history.ts";
import { FakePeer, seedDisguise, serveScram } from "./_fake_peer.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
];

Deno.test("jim-client: two console clients chat, with the offline error shown", async () => {
  await using srv = await startTestServer({ users: USERS, offlineMessages: "reject" });
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_PORT: String(srv.port), JIM_DATA_DIR: String(dir) };

  await using alice = new ClientProcess(["--user", "alice"], { ...env, JIM_PASSWORD: "alice-pw" });
  await alice.waitFor("* Logged in as alice (SCRAM-SHA-256)");
  await alice.line("/msg bob are you there?");
  await alice.waitFor(
    "! Not delivered to bob: Client not online: bob (kept as #1; /retry 1)",
  );

  // Bob gives his password on stdin's first line and puts global flags after nothing at all.
  await using bob = new ClientProcess(["--password-stdin"], { ...env, JIM_USER: "bob" });
  await bob.line("bob-pw");
  await bob.waitFor("* Logged in as bob");
  await alice.line("/retry 1");
  await alice.waitFor(/\] alice → bob: are you there\?\n/);
  await bob.waitFor(/\] alice: are you there\?\n/);
  await bob.waitFor("* New contact from an incoming message: alice");

  await bob.line("/chat alice");
  await bob.waitFor("* Chatting with alice: plain lines go to alice");
  await bob.line("yes, Привет!");
  await alice.waitFor(/\] bob: yes, Привет!\n/);
  await bob.line("/contacts");
  await bob.waitFor("Contacts (1):\n  ● alice (online)");
  await alice.line("/users");
  await alice.waitFor("Users (2): alice, bob");
  await alice.line("/frobnicate");
  await alice.waitFor("! Unknown command: /frobnicate (try /help)");
  await alice.line("plain text with no chat open");
  await alice.waitFor("! No chat open: /chat NAME first, or /msg NAME text");
  await alice.line("/history bob 5");
  // With its id and delivery mark: ✓✓ delivered.
  // ✓✓, or "✓✓ read" once bob's read mark has come back (the server keeps them, issue 12).
  await alice.waitFor(/#1 alice → bob: are you there\? ✓✓( read)?\n.*\] #2 bob: yes, Привет!\n/);
  await alice.line("/help");
  await alice.waitFor("/history NAME [N]");
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
  // End of input quits as well.
  assert.equal(await bob.exit(), 0);
  assert.equal(alice.stderr, "");
  assert.ok(!alice.stdout.includes("alice-pw") && !bob.stdout.includes("bob-pw"));

  const history = await runClient(["history", "bob", "--json"], { ...env, JIM_USER: "alice" });
  assert.equal(history.code, 0, history.stderr);
  const records = JSON.parse(history.stdout) as MessageRecord[];
  assert.deepEqual(records.map((r) => [r.direction, r.text]), [
    ["out", "are you there?"],
    ["in", "yes, Привет!"],
  ]);
  // Delivered, or read once bob's read mark came back before alice quit.
  assert.ok(["delivered", "read"].includes(records[0]!.status), records[0]!.status);
  assert.equal(records[1]!.status, "delivered");
});

Deno.test("jim-client --password-stdin reads the password and then the commands from one pipe", async () => {
  await using srv = await startTestServer({
    users: [{ login: "fay", password: "fay-pw" }, { login: "dave", password: "dave-pw" }],
  });
  await using dir = await tempDir("jim-cli-test-");
  await using dave = await JimClient.connect({ port: srv.port });
  await dave.login("dave", "dave-pw");
  const inbox = dave.messages();
  // printf 'pw\n/msg dave hi\n/quit\n' | jim-client -u fay --password-stdin: one write, so
  // the password line and the commands arrive in one read.
  const run = await runClient(
    ["-u", "fay", "--password-stdin", "-p", String(srv.port)],
    { JIM_DATA_DIR: String(dir) },
    "fay-pw\n/msg dave hi\n/quit\n",
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.stderr, "");
  assert.match(run.stdout, /\] fay → dave: hi\n/);
  const got = await inbox.next();
  assert.deepEqual([got.value?.from, got.value?.text], ["fay", "hi"]);
  assert.ok(!run.stdout.includes("fay-pw"));
});

Deno.test("jim-client reports a refused login or an unreachable server once, before any password is read", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { maxSessionsPerUser: 1 } });
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_DATA_DIR: String(dir), JIM_PORT: String(srv.port) };
  const cases: [string, string[], Record<string, string>, string][] = [
    ["wrong password", ["-u", "alice"], { JIM_PASSWORD: "wrong" }, "Access denied"],
    ["already online", ["-u", "bob"], { JIM_PASSWORD: "bob-pw" }, "Client already online"],
  ];
  await using bob = await JimClient.connect({ port: srv.port });
  await bob.login("bob", "bob-pw");
  for (const [name, args, extra, reason] of cases) {
    await t.step(name, async () => {
      const run = await runClient(args, { ...env, ...extra });
      assert.equal(run.code, 1);
      assert.equal(run.stderr, `jim-client: ${reason}\n`);
      // The server's reason alone: no "Disconnected: Connection closed" before it.
      assert.ok(!run.stdout.includes("Disconnected"), run.stdout);
      assert.ok(!run.stdout.includes(reason), run.stdout);
    });
  }
  await t.step("unreachable: the connection is tried before the password is read", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = String((listener.addr as Deno.NetAddr).port);
    listener.close();
    // Had the password been read first, the empty stdin would be the error (exit 2).
    const run = await runClient(["-u", "alice", "--password-stdin", "-p", closedPort], env, "");
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`^jim-client: Cannot connect to 127\\.0\\.0\\.1:${closedPort}: `),
    );
    assert.equal(run.stderr.split("\n").length, 2, run.stderr);
    assert.equal(run.stdout, `* Connecting to 127.0.0.1:${closedPort}\n`);
  });
  await t.step(
    "reachable with nothing on stdin: the usage error comes after connecting",
    async () => {
      const run = await runClient(["-u", "alice", "--password-stdin"], env, "");
      assert.equal(run.code, 2);
      assert.equal(run.stderr, "jim-client: No password on stdin\n");
      assert.match(run.stdout, /\* Connected to 127\.0\.0\.1:\d+\n/);
    },
  );
});

Deno.test("jim-client console: /add, /del, /chat alone and /chat NAME with the last 10 messages", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-cli-test-");
  {
    using history = History.open({
      path: historyPath(String(dir), "alice", "127.0.0.1", srv.port),
    });
    for (let i = 1; i <= 12; i++) {
      history.addMessage({
        contact: "bob",
        direction: i % 2 ? "in" : "out",
        text: `old message ${i}`,
        time: 1_700_000_000_000 + i * 1000,
        status: "delivered",
      });
    }
  }
  const env = { JIM_PORT: String(srv.port), JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw" };
  await using alice = new ClientProcess(["-u", "alice"], env);
  await alice.waitFor("* Type /help");

  await alice.line("/add bob");
  await alice.waitFor("* Added bob to your contacts\n");
  assert.deepEqual(await srv.storage.contacts.list("alice"), ["bob"]);
  await alice.line("/add");
  await alice.waitFor("! Usage: /add NAME\n");

  await alice.line("/chat bob");
  await alice.waitFor("* Chatting with bob: plain lines go to bob\n");
  await alice.waitFor("] alice → bob: old message 12\n");
  const shown = alice.stdout.slice(alice.stdout.indexOf("* Chatting with bob"));
  const recent = [...shown.matchAll(/old message (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(recent, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.match(shown, /\] bob: old message 3\n/);

  await alice.line("/chat");
  await alice.waitFor("* Chat closed: plain lines go nowhere; /chat NAME to start one\n");
  await alice.line("this goes nowhere");
  await alice.waitFor("! No chat open: /chat NAME first, or /msg NAME text\n");

  await alice.line("/chat bob");
  await alice.line("/del bob");
  await alice.waitFor("* Removed bob from your contacts\n");
  assert.deepEqual(await srv.storage.contacts.list("alice"), []);
  // Removing the contact open in the chat closes the chat too.
  await alice.line("still there?");
  await alice.waitFor(/\* Removed bob from your contacts\n! No chat open: /);
  await alice.line("/del bob");
  await alice.waitFor("! Client not in contacts: bob\n");
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
  assert.equal(alice.stderr, "");
});

Deno.test("jim-client send: exit 0 when delivered, 1 with the server's error", async () => {
  await using srv = await startTestServer({ users: USERS, offlineMessages: "reject" });
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw" };
  const port = String(srv.port);

  const offline = await runClient(["send", "--to", "bob", "hello", "-u", "alice", "-p", port], env);
  assert.equal(offline.code, 1);
  assert.equal(offline.stderr, "jim-client: Not delivered to bob: Client not online: bob\n");

  await using bob = await JimClient.connect({ port: srv.port });
  await bob.login("bob", "bob-pw");
  const inbox = bob.messages();
  // Global flags before the subcommand this time, text in several words.
  const sent = await runClient(
    ["--user", "alice", "--port", port, "send", "--to", "bob", "hi", "there"],
    env,
  );
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, "Delivered to bob (#2)\n");
  const got = await inbox.next();
  assert.deepEqual([got.value?.from, got.value?.text], ["alice", "hi there"]);

  const unknown = await runClient(["send", "--to", "nobody", "x", "-u", "alice", "-p", port], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No such client: nobody/);

  const denied = await runClient(["send", "--to", "bob", "x", "-u", "alice", "-p", port], {
    ...env,
    JIM_PASSWORD: "wrong",
  });
  assert.equal(denied.code, 1);
  assert.equal(denied.stderr, "jim-client: Access denied\n");

  const text = await runClient(["history", "bob", "-u", "alice", "-p", port, "--limit", "1"], env);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] #2 alice → bob: hi there ✓✓\n$/);
  const all = await runClient(["-u", "alice", "history", "bob", "-p", port], env);
  assert.match(all.stdout, /alice → bob: hello \[not delivered: Client not online: bob; #1\]/);
});

Deno.test("jim-client reports usage errors with exit 2 and changes nothing", async (t) => {
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_DATA_DIR: String(dir) };
  const cases: [string, string[], Record<string, string>, string][] = [
    ["unknown flag", ["--bogus"], {}, "Unknown option '--bogus'"],
    ["unknown command", ["frob"], {}, "Unknown command: frob"],
    ["send without --to", ["send", "hi", "-u", "alice"], {}, "Missing --to"],
    ["send without text", ["send", "--to", "bob", "-u", "alice"], {}, "Missing message text"],
    ["--to outside send", ["--to", "bob", "-u", "alice"], {}, '--to belongs to "send"'],
    ["bad port flag", ["-p", "99999", "-u", "alice"], {}, "Invalid --port"],
    ["bad port variable", ["-u", "alice"], { JIM_PORT: "http" }, "Invalid JIM_PORT"],
    ["bad boolean variable", ["-u", "alice"], { JIM_TLS: "maybe" }, "Invalid JIM_TLS"],
    ["bad user", ["-u", "a b"], {}, "Invalid user"],
    ["no user", [], {}, "Missing --user NAME (or JIM_USER)"],
    ["no password", ["-u", "alice"], {}, "No password: set JIM_PASSWORD"],
    ["history without name", ["history", "-u", "alice"], {}, "Expected one contact"],
    ["bad limit", ["history", "bob", "-u", "alice", "-n", "0"], {}, "Invalid --limit"],
  ];
  for (const [name, args, extra, message] of cases) {
    await t.step(name, async () => {
      const result = await runClient(args, { ...env, ...extra });
      assert.equal(result.code, 2, `${result.stdout}${result.stderr}`);
      assert.ok(result.stderr.includes(message), result.stderr);
      assert.equal(result.stdout, "");
    });
  }
  assert.deepEqual([...Deno.readDirSync(String(dir))], [], "no files were created");

  await t.step("--help and --version exit 0", async () => {
    const help = await runClient(["--help"], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /jim-client send --to NAME "text"/);
    assert.match(help.stdout, /JIM_LEGACY_AUTH/);
    const version = await runClient(["-V"], env);
    assert.match(version.stdout, /^jim-client \d+\.\d+\.\d+ \(Deno \d+\.\d+\.\d+\)\n$/);
  });

  await t.step("history with nothing stored prints so and creates nothing", async () => {
    const result = await runClient(["history", "bob", "-u", "alice"], env);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "No messages with bob\n");
    const json = await runClient(["history", "bob", "-u", "alice", "--json"], env);
    assert.equal(json.stdout, "[]\n");
    assert.deepEqual([...Deno.readDirSync(String(dir))], []);
  });
});

Deno.test("jim-client send never reconnects: a lost connection ends it with exit 1", async () => {
  await using dir = await tempDir("jim-cli-test-");
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const sentinel = Promise.withResolvers<number>();
  let accepted = 0;
  const serving = (async () => {
    // The first connection logs in, syncs contacts and is dropped at the message; any later
    // one but the test's own last connection would be a reconnect.
    for await (const conn of listener) {
      accepted++;
      const peer = new FakePeer(conn);
      if (accepted > 1) {
        peer.close();
        const from = (conn.remoteAddr as Deno.NetAddr).port;
        if (from === await sentinel.promise) return;
        continue;
      }
      try {
        await serveScram(peer, "fay-pw");
        assert.equal((await peer.receive()).action, "get_contacts");
        await peer.send({ response: 202, quantity: 0 });
        assert.equal((await peer.receive()).action, "msg");
      } finally {
        peer.close();
      }
    }
  })();
  await using send = new ClientProcess(
    ["send", "--to", "dave", "hi", "-u", "fay", "-p", `${port}`],
    {
      JIM_DATA_DIR: String(dir),
      JIM_PASSWORD: "fay-pw",
    },
  );
  await send.endInput();
  let code: number | undefined;
  send.child.status.then((s) => (code = s.code));
  await waitFor(() => code !== undefined, "send to end on its own", 30_000);
  assert.equal(code, 1, send.stdout + send.stderr);
  await send.exit();
  assert.equal(
    send.stderr,
    "jim-client: Not delivered to dave: Connection lost: server closed the connection\n",
  );
  // Connections are accepted in order: once this one is, any reconnect would have been too.
  const last = await Deno.connect({ hostname: "127.0.0.1", port });
  sentinel.resolve((last.localAddr as Deno.NetAddr).port);
  await serving;
  last.close();
  assert.equal(accepted, 2, "one connection from send, one from the test");
});

Deno.test("jim-client exits 1 with a clear line when it cannot connect, or loses the server with --no-reconnect", async () => {
  await using dir = await tempDir("jim-cli-test-");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = String((listener.addr as Deno.NetAddr).port);
  listener.close();
  const refused = await runClient(["-u", "alice", "-p", closedPort], {
    JIM_DATA_DIR: String(dir),
    JIM_PASSWORD: "x",
  });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(`^jim-client: Cannot connect to 127.0.0.1:${closedPort}: `),
  );

  const srv = await startTestServer({ users: USERS });
  try {
    // The interactive client reconnects by default; --no-reconnect restores ending with the
    // connection (JIM_NO_RECONNECT is checked in the account-removal test).
    await using alice = new ClientProcess(
      ["-u", "alice", "-p", String(srv.port), "--no-reconnect"],
      { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw" },
    );
    await alice.waitFor("* Type /help"); // open() has finished its contact sync
    await srv.server.close();
    await alice.waitFor("* Disconnected: ");
    let code: number | undefined;
    alice.child.status.then((s) => code = s.code);
    await waitFor(() => code !== undefined, "the client to exit on its own");
    assert.equal(code, 1);
    assert.ok(!alice.stdout.includes("; reconnecting"), alice.stdout);
    // A graceful stop says why and half-closes before it goes: the notice always comes first.
    assert.match(
      alice.stdout,
      /\* Disconnected: Connection lost: server closed the connection: Server shutting down\n/,
    );
  } finally {
    await srv[Symbol.asyncDispose]();
  }
});

Deno.test("jim-client stays through a server restart, reconnects and keeps working", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_PORT: String(srv.port), JIM_DATA_DIR: String(dir) };
  await using alice = new ClientProcess(["-u", "alice"], { ...env, JIM_PASSWORD: "alice-pw" });
  await using bob = new ClientProcess(["-u", "bob"], { ...env, JIM_PASSWORD: "bob-pw" });
  await alice.waitFor("* Type /help"); // open() has finished its contact sync
  await bob.waitFor("* Type /help");

  await srv.server.close();
  await alice.waitFor(/\* Connection lost: server closed the connection.*; reconnecting\n/);
  // A message typed while the server is away is kept as failed, with the way to retry it.
  await alice.line("/msg bob sent while away");
  await alice.waitFor(
    "! Not delivered to bob: Not connected: reconnecting to the server (kept as #1; /retry 1)",
  );
  await using _restarted = await JimServer.listen({
    host: "127.0.0.1",
    port: srv.port,
    storage: srv.storage,
  });
  await alice.waitFor("* Reconnected\n");
  await bob.waitFor("* Reconnected\n");

  await alice.line("/msg bob back again");
  await bob.waitFor(/\] alice: back again\n/);
  await alice.line("/retry 1");
  await bob.waitFor(/\] alice: sent while away\n/);
  await bob.line("/msg alice welcome back");
  await alice.waitFor(/\] bob: welcome back\n/);
  // One line for the loss and one for the return; the attempts stay in the service log.
  assert.equal(alice.stdout.match(/reconnecting\n/g)?.length, 1, alice.stdout);
  assert.ok(!alice.stdout.includes("Reconnecting in"), alice.stdout);
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
  assert.equal(await bob.exit(), 0);
  assert.equal(alice.stderr, "");
});

Deno.test("jim-client exits 1 when its account is removed, without reconnecting", async (t) => {
  for (const env of [{}, { JIM_NO_RECONNECT: "1" }] as Record<string, string>[]) {
    await t.step(Object.keys(env).length ? "JIM_NO_RECONNECT=1" : "reconnecting on", async () => {
      await using srv = await startTestServer({ users: USERS });
      await using dir = await tempDir("jim-cli-test-");
      await using alice = new ClientProcess(["-u", "alice", "-p", String(srv.port)], {
        JIM_DATA_DIR: String(dir),
        JIM_PASSWORD: "alice-pw",
        ...env,
      });
      await alice.waitFor("* Type /help"); // open() has finished its contact sync
      await srv.storage.users.remove("alice");
      await srv.server.endSessionsOfRemovedUsers();
      await alice.waitFor("Account removed");
      if (!env.JIM_NO_RECONNECT) await alice.waitFor("* Not reconnecting: Account removed");
      let code: number | undefined;
      alice.child.status.then((s) => code = s.code);
      await waitFor(() => code !== undefined, "the client to exit on its own");
      assert.equal(code, 1);
      assert.ok(!alice.stdout.includes("; reconnecting"), alice.stdout);
    });
  }
});

Deno.test("jim-client --legacy-auth logs in to a seed-like server, and only with it", async (t) => {
  await using srv = await startTestServer({
    users: [{ login: "alice", password: "alice-pw", legacy: true }],
    legacyAuth: true,
  });
  await using dir = await tempDir("jim-cli-test-");
  const env = { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw" };

  await t.step("without the flag the client refuses", async () => {
    await using proxy = seedDisguise(srv);
    const result = await runClient(["send", "--to", "alice", "x", "-u", "alice"], {
      ...env,
      JIM_PORT: String(proxy.port),
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /offers only legacy HMAC-MD5 authentication/);
  });

  await t.step("with JIM_LEGACY_AUTH=1 the seed's login is used", async () => {
    await using proxy = seedDisguise(srv);
    await using alice = new ClientProcess(["-u", "alice"], {
      ...env,
      JIM_PORT: String(proxy.port),
      JIM_LEGACY_AUTH: "1",
    });
    await alice.waitFor("* Logged in as alice (HMAC-MD5)");
    await alice.line("/users");
    await alice.waitFor("Users (1): alice");
    assert.equal(await alice.exit(), 0);
  });
});
