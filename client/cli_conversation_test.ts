/**
 * The console client and issue 12, through piped stdin/stdout, against the scripted
 * conversation server (client/_fake_server.ts): `send` to an offline user, /history with
 * marks and paging from the server, /search, /status, /contacts following presence pushes,
 * carbons as one's own lines, /chat sending read marks, and `import-seed`.
 */
import { assert, tempDir, waitFor } from "./_assert.ts";
import { FakeConvServer } from "./_fake_server.ts";
import { ClientProcess, runClient } from "./_spawn.ts";
import { ChatSession } from "./chat_session.ts";
import { History, historyPath } from "./history.ts";

const USERS = ["alice", "bob", "Client5", "Client6", "client3"].map((login) => ({
  login,
  password: `${login}-pw`,
}));

Deno.test("jim-client send: a message stored for an offline user exits 0 and says it waits", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir("jim-cli-conv-");
  const env = { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw", JIM_PORT: String(srv.port) };
  const run = await runClient(["send", "--to", "bob", "see you tomorrow", "-u", "alice"], env);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    "Stored for bob: the message waits on the server until bob logs in (#1)\n",
  );
  assert.deepEqual(srv.messages.map((m) => [m.to, m.text, m.state]), [
    ["bob", "see you tomorrow", "stored"],
  ]);
  // The same against a server that refuses offline messages (the seed's 410): exit 1.
  await using seedish = await FakeConvServer.start({
    users: USERS,
    capabilities: [],
    offline: "reject",
  });
  const refused = await runClient(
    ["send", "--to", "bob", "x", "-u", "alice", "-p", String(seedish.port)],
    env,
  );
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, "jim-client: Not delivered to bob: Client not online: bob\n");
});

Deno.test("jim-client console: stored, delivered and read marks, /status, /search, presence and carbons", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir("jim-cli-conv-");
  const env = { JIM_DATA_DIR: `${dir}/console`, JIM_PORT: String(srv.port) };
  await using alice = new ClientProcess(["-u", "alice"], { ...env, JIM_PASSWORD: "alice-pw" });
  await alice.waitFor("* Type /help for commands");

  await alice.line("/msg bob are you around?");
  await alice.waitFor(/\] alice → bob: are you around\? ✓ stored\n/);
  await alice.waitFor("* bob is offline: the server keeps it until bob logs in (/status 1)");
  await alice.line("/status 1");
  await alice.waitFor(
    /#1 \S+ \S+ to bob, stored on the server: bob gets it at the next login, server id \d+\n/,
  );

  // Bob logs in: alice's console hears it at once, and the message is delivered.
  await using bob = await ChatSession.connect({
    port: srv.port,
    user: "bob",
    password: "bob-pw",
    dataDir: `${dir}/bob`,
    reconnect: false,
  });
  await alice.waitFor("* bob is online\n");
  await alice.line("/contacts");
  await alice.waitFor("Contacts (1):\n  ● bob (online)");
  await waitFor(() => srv.messages[0]?.state === "delivered", "the backlog delivered");
  await alice.line("/status 1");
  await alice.waitFor(/#1 .* to bob, delivered, server id/);
  await bob.markRead("alice");
  await waitFor(() => srv.messages[0]?.state === "read", "bob's read mark");
  await alice.line("/history bob");
  await alice.waitFor(/\] #1 alice → bob: are you around\? ✓✓ read\n/);

  // Bob writes; alice's other device (a GUI, say) sends: her console shows it as her own.
  await bob.send("alice", "yes, Friday works");
  await alice.waitFor(/\] bob: yes, Friday works\n/);
  await using phone = await ChatSession.connect({
    port: srv.port,
    user: "alice",
    password: "alice-pw",
    dataDir: `${dir}/phone`,
    reconnect: false,
  });
  await phone.send("bob", "great, Friday then");
  await alice.waitFor(/\] alice → bob: great, Friday then \(from another device\)\n/);

  await alice.line("/search friday");
  await alice.waitFor(/#3 alice → bob: great, Friday then ✓✓\n.*#2 bob: yes, Friday works\n/);
  await alice.waitFor("* 2 matches, newest first");
  await alice.line('/search "nothing like this"');
  await alice.waitFor('* No messages match "\\"nothing like this\\""');
  await alice.line("/status 99");
  await alice.waitFor("! No such message: #99");
  await alice.line("/status x");
  await alice.waitFor("! Usage: /status ID");

  // Opening the chat marks what bob wrote read, on the server too.
  const reads = () => srv.requests.filter((r) => r.login === "alice" && r.frame.action === "read");
  assert.equal(reads().length, 0);
  await alice.line("/chat bob");
  await alice.waitFor("* Chatting with bob");
  await waitFor(() => reads().length === 1, "alice's read mark");
  assert.equal(reads()[0]!.frame.user_id, "bob");

  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
  assert.equal(alice.stderr, "");
});

Deno.test("jim-client console: /history completes from the server and pages with 'more'", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  for (let i = 1; i <= 30; i++) {
    srv.append(i % 2 ? "bob" : "alice", i % 2 ? "alice" : "bob", `old ${i}`, "read");
  }
  await using dir = await tempDir("jim-cli-conv-");
  await using alice = new ClientProcess(["-u", "alice"], {
    JIM_DATA_DIR: String(dir),
    JIM_PORT: String(srv.port),
    JIM_PASSWORD: "alice-pw",
  });
  await alice.waitFor("* History synced: 30 message(s) from the server");
  await alice.line("/history bob 12");
  await alice.waitFor(
    /old 19\n(.*\n){10}.*old 30 ✓✓ read\n\* Older messages: \/history bob more\n/,
  );
  await alice.line("/history bob more");
  await alice.waitFor(/old 7\n(.*\n){10}.*old 18 ✓✓ read\n\* Older messages: \/history bob more\n/);
  await alice.line("/history bob more");
  await alice.waitFor(/\] #\d+ bob: old 1\n(.*\n){4}.*old 6 ✓✓ read\n/);
  await alice.line("/history bob more");
  await alice.waitFor("* No older messages with bob");
  await alice.line("/history bob 0");
  await alice.waitFor("! Usage: /history NAME [N | more] (N from 1 to 500)");
  await alice.line("/history b%d");
  await alice.waitFor("! Invalid login: b%d");
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
});

async function makeSeedDb(path: string, owner: string, messy = false): Promise<void> {
  const script = new URL("../tests/seed/make_seed_client_db.py", import.meta.url).pathname;
  const out = await new Deno.Command("python3", {
    args: [script, path, owner, ...(messy ? ["--messy"] : [])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("jim-client import-seed: a seed client's history and contacts, once, however often it runs", async (t) => {
  await using dir = await tempDir("jim-cli-seed-");
  const seed = `${dir}/client_Client5.db`;
  await makeSeedDb(seed, "Client5");
  const env = { JIM_DATA_DIR: `${dir}/data`, JIM_PORT: "7999" };
  const cache = historyPath(`${dir}/data`, "Client5", "127.0.0.1", 7999);

  await t.step("the first run imports everything", async () => {
    const run = await runClient(["import-seed", seed, "-u", "Client5"], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      `Imported ${seed} into ${cache}:\n` +
        "  9 message(s) added, 0 already there\n" +
        "  2 contact(s) added (and on the server at your next login)\n",
    );
    using history = History.open({ path: cache });
    assert.deepEqual(history.contacts(), ["Client6", "client3"]);
    const six = history.messages("Client6");
    assert.deepEqual(six.map((m) => [m.direction, m.text, m.status]).slice(0, 2), [
      ["in", "Hey!", "read"],
      ["out", "Oh, Client6!", "delivered"],
    ]);
    assert.equal(six.filter((m) => m.text === "ping").length, 2, "two identical messages stay two");
    assert.equal(six[0]!.time, new Date(2019, 5, 19, 20, 16, 26, 123).getTime());
    assert.deepEqual(history.search("прошлого").map((m) => m.contact), ["client3"]);
  });

  await t.step("a second run adds nothing", async () => {
    const run = await runClient(["import-seed", seed, "-u", "Client5"], env);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.endsWith("0 message(s) added, 9 already there\n  0 contact(s) added\n"));
    using history = History.open({ path: cache });
    assert.equal(history.messages("Client6").length + history.messages("client3").length, 9);
  });

  await t.step("rows it cannot take are skipped and named", async () => {
    const messy = `${dir}/messy.db`;
    await makeSeedDb(messy, "Client5", true);
    const run = await runClient(["import-seed", messy, "-u", "Client5", "-p", "7998"], env);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes("  9 message(s) added, 0 already there\n"), run.stdout);
    assert.ok(run.stdout.includes("  5 row(s) skipped:\n"), run.stdout);
    for (
      const line of [
        "message_history #10: not a conversation of Client5",
        'message_history #11: invalid date "yesterday"',
        "message_history #12: message must be text",
        "message_history #13: from_user and to_user must be logins",
        "contacts #3: name must be a login",
      ]
    ) assert.ok(run.stdout.includes(`    ${line}\n`), `${line}\n${run.stdout}`);
  });

  await t.step(
    "not a seed database, a missing file, no --user: clear errors, nothing written",
    async () => {
      await Deno.writeTextFile(`${dir}/junk.db`, "not a database at all");
      const junk = await runClient(
        ["import-seed", `${dir}/junk.db`, "-u", "Client5", "-p", "7997"],
        env,
      );
      assert.equal(junk.code, 1);
      assert.equal(junk.stderr, `jim-client: Cannot read ${dir}/junk.db: file is not a database\n`);
      const empty = `${dir}/empty.db`;
      const other = new Deno.Command("python3", {
        args: [
          "-c",
          `import sqlite3; sqlite3.connect(${JSON.stringify(empty)}).execute("CREATE TABLE t (x)")`,
        ],
      });
      assert.ok((await other.output()).success);
      const notSeed = await runClient(["import-seed", empty, "-u", "Client5", "-p", "7997"], env);
      assert.equal(notSeed.code, 1);
      assert.equal(
        notSeed.stderr,
        `jim-client: Not a seed client database: ${empty} has no table message_history\n`,
      );
      const missing = await runClient([
        "import-seed",
        `${dir}/nope.db`,
        "-u",
        "Client5",
        "-p",
        "7997",
      ], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^jim-client: Cannot open .*nope\.db: /);
      const noUser = await runClient(["import-seed", seed], env);
      assert.equal(noUser.code, 2);
      assert.match(noUser.stderr, /Missing --user NAME/);
      const twoFiles = await runClient(["import-seed", seed, seed, "-u", "Client5"], env);
      assert.equal(twoFiles.code, 2);
      assert.match(twoFiles.stderr, /Expected one file: import-seed FILE --user NAME/);
      // Port 7997's cache holds nothing of the failed runs.
      using history = History.open({
        path: historyPath(`${dir}/data`, "Client5", "127.0.0.1", 7997),
      });
      assert.deepEqual([history.contacts(), history.search("Hey")], [[], []]);
    },
  );

  await t.step("at the next login the imported contacts are added on the server", async () => {
    await using srv = await FakeConvServer.start({ users: USERS });
    const seed2 = `${dir}/again.db`;
    await makeSeedDb(seed2, "Client5");
    const port = String(srv.port);
    const run = await runClient(["import-seed", seed2, "-u", "Client5", "-p", port], env);
    assert.equal(run.code, 0, run.stderr);
    const session = await runClient(["-u", "Client5", "-p", port], {
      ...env,
      JIM_PASSWORD: "Client5-pw",
    }, "/history Client6 3\n/quit\n");
    assert.equal(session.code, 0, session.stderr);
    assert.deepEqual(srv.contactsOf("Client5"), ["Client6", "client3"]);
    assert.match(session.stdout, /\* Imported contact added on the server: Client6\n/);
    assert.match(session.stdout, /\] #\d+ Client6: ping\n.*\] #\d+ Client6: ping\n/);
  });
});
