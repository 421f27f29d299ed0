/** ChatSession against the real server, with its history in a temporary directory. */
import { JimError } from "../protocol/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { assert, rejectsWith, tempDir, waitFor } from "./_assert.ts";
import { ChatSession, type ServiceEntry } from "./chat_session.ts";
import { History } from "./history.ts";
import { JimClient } from "./jim_client.ts";
import { fakeServer, serveScram } from "./_fake_peer.ts";
import type { MessageRecord } from "./history.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
  { login: "carol", password: "carol-pw" },
];

Deno.test("ChatSession syncs the contacts mirror with the server at login", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-client-test-");
  const dataDir = String(dir);
  // A stale local mirror: "carol" was removed elsewhere, "bob" added elsewhere.
  {
    using history = History.open({ dataDir, account: "alice", host: srv.host, port: srv.port });
    history.addContact("carol");
  }
  {
    await using other = await JimClient.connect({ port: srv.port });
    await other.login("alice", "alice-pw");
    await other.addContact("bob");
    await other.quit();
  }
  const service: ServiceEntry[] = [];
  const session = new ChatSession({ port: srv.port, user: "alice", password: "alice-pw", dataDir });
  session.addEventListener("service", (e) => service.push(e.detail));
  await using _ = session;
  await session.open();
  assert.deepEqual(session.contacts(), [{ login: "bob", online: false }]);
  assert.deepEqual(session.history.contacts(), ["bob"]);
  const lines = service.map((s) => s.text);
  assert.deepEqual(lines.slice(0, 3), [
    `Connecting to 127.0.0.1:${srv.port}`,
    `Connected to 127.0.0.1:${srv.port}`,
    "Logged in as alice (SCRAM-SHA-256)",
  ]);
  assert.ok(
    lines.includes("Contacts synced from the server: added bob; removed carol"),
    lines.join("|"),
  );
  assert.ok(!JSON.stringify(session.serviceLog()).includes("alice-pw"));

  await session.addContact("carol");
  await rejectsWith(() => session.addContact("carol"), JimError, "already in contacts");
  await rejectsWith(() => session.addContact("nobody"), JimError, "No such client");
  assert.deepEqual(session.contacts().map((c) => c.login), ["bob", "carol"]);
  await session.removeContact("bob");
  assert.deepEqual(session.history.contacts(), ["carol"]);
  assert.deepEqual((await session.client.contacts()).map((c) => c.login), ["carol"]);
});

Deno.test("ChatSession adds a stranger who writes, locally and on the server", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-client-test-");
  await using alice = await ChatSession.connect({
    port: srv.port,
    user: "alice",
    password: "alice-pw",
    dataDir: String(dir),
  });
  const received: MessageRecord[] = [];
  alice.addEventListener("message", (e) => received.push(e.detail));
  await using carol = await ChatSession.connect({
    port: srv.port,
    user: "carol",
    password: "carol-pw",
    dataDir: String(dir),
  });
  const sent = await carol.send("alice", "hi, it's carol");
  assert.equal(sent.status, "delivered");
  await waitFor(() => received.length === 1, "alice to store the message");
  assert.deepEqual(
    [received[0]!.contact, received[0]!.direction, received[0]!.text, received[0]!.status],
    ["carol", "in", "hi, it's carol", "delivered"],
  );
  assert.deepEqual(alice.contacts(), [{ login: "carol", online: true }]);
  await waitFor(() => alice.client.pendingRequests === 0, "the add_contact reply");
  assert.deepEqual(await alice.client.contacts(), [{ login: "carol", online: true }]);
  // Carol's own mirror is not touched by sending.
  assert.deepEqual(carol.contacts(), []);
});

Deno.test("ChatSession keeps history across restarts and stores failed sends", async () => {
  await using srv = await startTestServer({ users: USERS, offlineMessages: "reject" });
  await using dir = await tempDir("jim-client-test-");
  const options = { port: srv.port, user: "alice", password: "alice-pw", dataDir: String(dir) };
  let failedId: number;
  {
    await using alice = await ChatSession.connect(options);
    const updates: string[] = [];
    alice.addEventListener("update", (e) => updates.push(`${e.detail.id}:${e.detail.status}`));
    const failed = await alice.send("bob", "are you there?");
    assert.equal(failed.status, "failed");
    assert.equal(failed.error, "Client not online: bob");
    failedId = failed.id;
    assert.deepEqual(updates, [`${failed.id}:sent`, `${failed.id}:failed`]);
    await rejectsWith(() => alice.send("no body", "x"), JimError, "Invalid login");
    await rejectsWith(() => alice.retry(failed.id + 100), JimError, "No such message");
    await alice.quit();
  }
  {
    await using alice = await ChatSession.connect(options);
    const [stored] = alice.messages("bob");
    assert.deepEqual(
      [stored!.id, stored!.direction, stored!.text, stored!.status, stored!.error],
      [failedId, "out", "are you there?", "failed", "Client not online: bob"],
    );
    await using bob = await ChatSession.connect({ ...options, user: "bob", password: "bob-pw" });
    const got: MessageRecord[] = [];
    bob.addEventListener("message", (e) => got.push(e.detail));
    const retried = await alice.retry(failedId);
    assert.equal(retried.id, failedId);
    assert.equal(retried.status, "delivered");
    assert.equal(retried.error, undefined);
    await waitFor(() => got.length === 1, "bob to receive the retry");
    assert.equal(got[0]!.text, "are you there?");
    await rejectsWith(() => alice.retry(failedId), JimError, "Cannot retry message");
    await rejectsWith(() => bob.retry(got[0]!.id), JimError, "it is incoming");
    await bob.send("alice", "yes!");
    await waitFor(() => alice.messages("bob").length === 2, "alice to store bob's reply");
  }
  {
    using history = History.open({
      dataDir: String(dir),
      account: "alice",
      host: "127.0.0.1",
      port: srv.port,
    });
    assert.deepEqual(history.messages("bob").map((m) => [m.direction, m.text, m.status]), [
      ["out", "are you there?", "delivered"],
      ["in", "yes!", "delivered"],
    ]);
  }
});

Deno.test("ChatSession marks a send failed when the connection is lost", async () => {
  const srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-client-test-");
  try {
    await using alice = await ChatSession.connect({
      port: srv.port,
      user: "alice",
      password: "alice-pw",
      dataDir: String(dir),
      reconnect: false, // chat_session_reconnect_test.ts covers the default
    });
    const gone = new Promise((resolve) => alice.addEventListener("disconnected", resolve));
    await srv.server.close();
    await gone;
    const record = await alice.send("bob", "hello?");
    assert.equal(record.status, "failed");
    assert.match(record.error!, /^Connection lost/);
    assert.equal(alice.messages("bob")[0]!.status, "failed");
  } finally {
    await srv[Symbol.asyncDispose]();
  }
});

Deno.test("ChatSession.connect() fails cleanly for a bad login", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-client-test-");
  await rejectsWith(
    () =>
      ChatSession.connect({
        port: srv.port,
        user: "alice",
        password: "wrong",
        dataDir: String(dir),
      }),
    JimError,
    "Access denied",
  );
  assert.deepEqual([...Deno.readDirSync(String(dir))], [], "no history file for a failed login");
});

Deno.test("ChatSession keeps a stranger's contact when a sync was already in flight", async () => {
  await using dir = await tempDir("jim-client-test-");
  const seen: string[] = [];
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    assert.equal((await peer.receive()).action, "get_contacts"); // the login sync
    await peer.send({ response: 202, quantity: 0 });
    assert.equal((await peer.receive()).action, "get_contacts"); // the test's sync
    // Carol writes while the list, fetched before she was added, is on its way.
    await peer.send({ action: "msg", time: 1, to: "alice", from: "carol", message: "hi" });
    await peer.send({ response: 202, quantity: 0 });
    const add = await peer.receive();
    seen.push(`${add.action}:${add.user_id}`);
    await peer.send({ response: 200 });
    await peer.untilClosed();
  });
  await using alice = await ChatSession.connect({
    port: server.port,
    user: "alice",
    password: "pw",
    dataDir: String(dir),
  });
  const got = new Promise((resolve) => alice.addEventListener("message", resolve));
  await alice.syncContacts();
  await got;
  assert.deepEqual(seen, ["add_contact:carol"]);
  assert.deepEqual(alice.contacts(), [{ login: "carol", online: true }]);
});
