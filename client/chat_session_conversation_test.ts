/**
 * ChatSession and issue 12 against the scripted conversation server (client/_fake_server.ts,
 * real loopback sockets, real SQLite files): offline delivery with stored → delivered → read,
 * several sessions with carbons, the local cache filled from the server's history, presence
 * pushes, and forged or malformed frames that must change nothing. The same behaviour against
 * the real server is in tests/conversations_e2e_test.ts, which runs once the server announces
 * the capabilities.
 */
import { assert, tempDir, waitFor } from "./_assert.ts";
import { FakeConvServer } from "./_fake_server.ts";
import {
  type ArrivedMessage,
  ChatSession,
  type ChatSessionOptions,
  type HistoryChange,
} from "./chat_session.ts";
import { History, type MessageRecord } from "./history.ts";

const USERS = ["alice", "bob", "carol"].map((login) => ({ login, password: `${login}-pw` }));

interface Watched extends AsyncDisposable {
  session: ChatSession;
  arrived: ArrivedMessage[];
  updates: MessageRecord[];
  changes: HistoryChange[];
  service: string[];
}

async function open(
  srv: FakeConvServer,
  user: string,
  dataDir: string,
  extra: Partial<ChatSessionOptions> = {},
): Promise<Watched> {
  const session = new ChatSession({
    port: srv.port,
    user,
    password: `${user}-pw`,
    dataDir,
    reconnect: false,
    ...extra,
  });
  const w: Watched = {
    session,
    arrived: [],
    updates: [],
    changes: [],
    service: [],
    [Symbol.asyncDispose]: () => session.close(),
  };
  session.addEventListener("message", (e) => w.arrived.push(e.detail));
  session.addEventListener("update", (e) => w.updates.push(e.detail));
  session.addEventListener("history", (e) => w.changes.push(e.detail));
  session.addEventListener("service", (e) => w.service.push(e.detail.text));
  await session.open();
  await session.synced;
  return w;
}

const statusOf = (s: ChatSession, id: number) => s.history.message(id)?.status;

Deno.test("ChatSession: a message to an offline user is stored, then delivered, then read", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  const sent = await alice.session.send("bob", "are you there?");
  // Stored is a success: no error, no Retry.
  assert.equal(sent.status, "stored");
  assert.equal(sent.error, undefined);
  assert.equal(typeof sent.serverId, "number");
  assert.deepEqual(alice.session.history.failed(), []);

  await using bob = await open(srv, "bob", `${dir}/bob`);
  await waitFor(() => bob.arrived.length === 1, "the backlog at bob's login");
  assert.deepEqual(
    [bob.arrived[0]!.via, bob.arrived[0]!.text, bob.arrived[0]!.serverId],
    ["backlog", "are you there?", sent.serverId],
  );
  await waitFor(() => statusOf(alice.session, sent.id) === "delivered", "the delivered receipt");
  assert.equal(bob.session.history.unreadCounts().get("alice"), 1);

  assert.equal(await bob.session.markRead("alice"), 1);
  assert.equal(bob.session.history.unreadCounts().size, 0);
  await waitFor(() => statusOf(alice.session, sent.id) === "read", "the read receipt");
  assert.deepEqual(alice.updates.map((u) => u.status), ["sent", "stored", "delivered", "read"]);
  // Marking read again sends nothing new.
  const reads = () => srv.requests.filter((r) => r.frame.action === "read").length;
  assert.equal(reads(), 1);
  assert.equal(await bob.session.markRead("alice"), 0);
  assert.equal(reads(), 1);
});

Deno.test("ChatSession: two sessions of one account each get incoming, and the other's sends as own", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir();
  await using gui = await open(srv, "alice", `${dir}/gui`);
  await using console = await open(srv, "alice", `${dir}/console`);
  await using bob = await open(srv, "bob", `${dir}/bob`);

  await bob.session.send("alice", "hello both");
  await waitFor(() => gui.arrived.length === 1 && console.arrived.length === 1, "both copies");
  assert.deepEqual(gui.arrived.map((m) => [m.via, m.direction, m.contact]), [[
    "live",
    "in",
    "bob",
  ]]);

  const mine = await gui.session.send("bob", "sent from the GUI");
  assert.equal(mine.status, "delivered");
  await waitFor(() => console.arrived.length === 2, "the carbon");
  const carbon = console.arrived[1]!;
  assert.deepEqual(
    [carbon.via, carbon.direction, carbon.contact, carbon.text, carbon.serverId],
    ["carbon", "out", "bob", "sent from the GUI", mine.serverId],
  );
  await waitFor(() => statusOf(console.session, carbon.id) === "delivered", "its receipt");
  assert.equal(gui.arrived.length, 1, "the sender's own session gets no carbon");

  // Read on one session: the other one's unread count follows.
  assert.equal(console.session.history.unreadCounts().get("bob"), 1);
  await gui.session.markRead("bob");
  await waitFor(() => !console.session.history.unreadCounts().has("bob"), "the own read receipt");
  assert.ok(console.changes.some((c) => c.reason === "read" && c.contacts[0] === "bob"));
});

Deno.test("ChatSession: GUI and console on one data directory keep one copy and both show it", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir();
  const shared = `${dir}/shared`;
  await using a1 = await open(srv, "alice", shared);
  await using a2 = await open(srv, "alice", shared);
  await using bob = await open(srv, "bob", `${dir}/bob`);
  await bob.session.send("alice", "one file");
  await waitFor(() => a1.arrived.length === 1 && a2.arrived.length === 1, "both sessions");
  const sent = await a1.session.send("bob", "from a1");
  await waitFor(() => a2.arrived.some((m) => m.via === "carbon"), "a2's carbon");
  // Whichever process wrote first, the file has each message once.
  assert.deepEqual(
    a1.session.history.messages("bob").map((m) => [m.direction, m.text]),
    [["in", "one file"], ["out", "from a1"]],
  );
  assert.equal(a1.session.history.messageByServerId(sent.serverId!)?.text, "from a1");
});

Deno.test("ChatSession: a fresh data directory gets the history back; later logins fetch only what is new", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir();
  // 620 messages kept on the server, sent from "another device": more than the first sync takes.
  for (let i = 1; i <= 620; i++) {
    const mineOut = i % 3 === 0;
    const m = srv.append(mineOut ? "alice" : "bob", mineOut ? "bob" : "alice", `n${i}`, "read");
    m.ts = 1_700_000_000_000 + i * 1000;
  }
  const historyRequests = () => srv.requests.filter((r) => r.frame.action === "history");
  {
    await using alice = await open(srv, "alice", `${dir}/fresh`);
    const cached = alice.session.history.messages("bob", { limit: 1000 });
    // Five pages back from the newest.
    assert.equal(cached.length, 500);
    assert.equal(cached.at(-1)?.text, "n620");
    assert.deepEqual(
      cached.filter((m) => m.direction === "out").slice(0, 2).map((m) => [m.text, m.status]),
      [["n123", "read"], ["n126", "read"]],
      "what alice sent from elsewhere is hers, with its state",
    );
    assert.ok(alice.service.includes("History synced: 500 message(s) from the server"));
    assert.equal(alice.changes.at(-1)?.reason, "sync");
    // Paging past the cache goes on to the server.
    let page = await alice.session.page("bob", { limit: 200 });
    const seen = [...page.messages];
    while (page.more) {
      page = await alice.session.page("bob", { limit: 200, before: page.messages[0] });
      seen.unshift(...page.messages);
    }
    assert.equal(seen.length, 620);
    assert.deepEqual(seen.slice(0, 2).map((m) => m.text), ["n1", "n2"]);
    assert.equal(new Set(seen.map((m) => m.serverId)).size, 620);
    assert.equal(alice.session.history.isComplete("bob"), true);
    await alice.session.quit();
  }
  const before = historyRequests().length;
  // Two new messages while alice is away, and one she got live before logging out.
  srv.append("bob", "alice", "while away 1", "stored");
  srv.append("bob", "alice", "while away 2", "stored");
  await using again = await open(srv, "alice", `${dir}/fresh`);
  const asked = historyRequests().slice(before).map((r) => r.frame);
  assert.equal(asked.length, 1);
  assert.equal(typeof asked[0]!.after, "number");
  const all = again.session.history.messages("bob", { limit: 2000 });
  assert.equal(all.length, 622, "the backlog and the history page are the same two messages");
  assert.deepEqual(again.arrived.map((m) => [m.via, m.text]), [
    ["backlog", "while away 1"],
    ["backlog", "while away 2"],
  ]);
});

Deno.test("ChatSession: a send whose reply was lost is matched with the server's copy, not sent twice", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`, {
    reconnect: { initialDelay: 1, maxDelay: 1, random: () => 0 },
  });
  const back = new Promise((resolve) => alice.session.addEventListener("reconnected", resolve));
  srv.loseReply = (from) => from === "alice";
  const lost = await alice.session.send("bob", "did this arrive?");
  srv.loseReply = undefined;
  assert.equal(lost.status, "failed");
  await back;
  await alice.session.synced;
  const rows = alice.session.history.messages("bob");
  assert.deepEqual(rows.map((m) => [m.id, m.status, m.serverId]), [
    [lost.id, "stored", srv.messages[0]!.id],
  ]);
  assert.equal(srv.messages.length, 1);
});

Deno.test("ChatSession: presence pushes flip the online marks at once", async () => {
  await using srv = await FakeConvServer.start({
    users: USERS,
    contacts: [["alice", "bob"], ["alice", "carol"]],
  });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  assert.equal(alice.session.presencePush, true);
  const marks = () => alice.session.contacts().map((c) => `${c.login}:${c.online}`).join(" ");
  assert.equal(marks(), "bob:false carol:false");
  const bob = await open(srv, "bob", `${dir}/bob`);
  await waitFor(() => marks() === "bob:true carol:false", "bob online");
  await bob.session.quit();
  await waitFor(() => marks() === "bob:false carol:false", "bob offline");
  // A push about someone who is not a contact changes nothing.
  const pushes: string[] = [];
  alice.session.addEventListener("presence", (e) => pushes.push(e.detail.login));
  srv.inject("alice", { action: "presence", user: { account_name: "mallory", status: "online" } });
  // A round trip after the push: it has been handled.
  await alice.session.users();
  assert.deepEqual(pushes, []);
  assert.equal(marks(), "bob:false carol:false");
});

Deno.test("ChatSession: forged and malformed frames change nothing and keep the session", async (t) => {
  await using srv = await FakeConvServer.start({
    users: USERS,
    contacts: [["alice", "bob"], ["alice", "carol"]],
  });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  await using bob = await open(srv, "bob", `${dir}/bob`);
  const toBob = await alice.session.send("bob", "for bob");
  const toCarol = await alice.session.send("carol", "for carol");
  assert.deepEqual([toBob.status, toCarol.status], ["delivered", "stored"]);
  const snapshot = () =>
    JSON.stringify(
      alice.session.history.messages("bob").concat(alice.session.history.messages("carol")),
    );
  const errorsBefore = () =>
    alice.service.filter((l) => l.startsWith("Ignored server message")).length;
  const settle = async (n: number) => {
    // A probe round trip after the pushes: everything before it has been handled.
    await alice.session.syncContacts();
    await waitFor(() => errorsBefore() >= n, `${n} ignored frames`);
  };
  const before = snapshot();
  await t.step("receipts for unknown ids, for the wrong peer, and malformed ones", async () => {
    srv.inject("alice", {
      action: "receipt",
      time: 1,
      id: 999_999,
      user_id: "bob",
      state: "delivered",
    });
    srv.inject("alice", {
      action: "receipt",
      time: 1,
      id: toCarol.serverId,
      user_id: "bob",
      state: "delivered",
    });
    srv.inject("alice", { action: "receipt", time: 1, id: "x", user_id: "bob", state: "read" });
    srv.inject("alice", {
      action: "receipt",
      time: 1,
      id: toBob.serverId,
      user_id: "bob",
      state: "opened",
    });
    srv.inject("alice", { action: "receipt", time: 1, id: -1, user_id: "carol", state: "read" });
    await settle(3);
    assert.equal(snapshot(), before);
    assert.equal(
      statusOf(alice.session, toCarol.id),
      "stored",
      "bob cannot deliver carol's message",
    );
  });
  await t.step("messages for a conversation alice is not part of, and room traffic", async () => {
    srv.inject("alice", {
      action: "msg",
      time: 1,
      from: "bob",
      to: "carol",
      message: "not yours",
      id: 77,
      ts: 1,
    });
    srv.inject("alice", {
      action: "msg",
      time: 1,
      from: "bob",
      to: "#general",
      message: "room",
      id: 78,
      ts: 1,
    });
    srv.inject("alice", {
      action: "msg",
      time: 1,
      from: "bob",
      to: "alice",
      message: "forged carbon",
      carbon: true,
    });
    await settle(6);
    assert.equal(snapshot(), before);
    assert.deepEqual(alice.session.history.messages("#general"), []);
  });
  await t.step("a history item outside a history answer, and an unknown push", async () => {
    srv.inject("alice", {
      action: "history_item",
      id: 5,
      ts: 1,
      from: "bob",
      to: "alice",
      message: "stray",
    });
    srv.inject("alice", { action: "room_event", room: "#x", event: "owner", user_id: "bob" });
    await settle(8);
    assert.equal(snapshot(), before);
  });
  await t.step("the same server id again for another conversation is not taken", async () => {
    srv.inject("alice", {
      action: "msg",
      time: 1,
      from: "carol",
      to: "alice",
      message: "reused id",
      id: toBob.serverId,
      ts: 1,
    });
    // And an id of something bob wrote, now "from carol".
    await bob.session.send("alice", "bob's own words");
    await waitFor(() => alice.arrived.some((m) => m.text === "bob's own words"), "bob's message");
    const bobs = alice.arrived.find((m) => m.text === "bob's own words")!;
    const arrivedBefore = alice.arrived.length;
    srv.inject("alice", {
      action: "msg",
      time: 1,
      from: "carol",
      to: "alice",
      message: "stolen id",
      id: bobs.serverId,
      ts: 1,
    });
    // A round trip after the pushes: everything before it has been handled.
    await alice.session.syncContacts();
    assert.equal(alice.arrived.length, arrivedBefore, "no event for a reused id");
    assert.deepEqual(alice.session.history.messages("carol").map((m) => m.text), ["for carol"]);
    assert.equal(alice.session.history.messageByServerId(bobs.serverId!)?.contact, "bob");
  });
  assert.equal(alice.session.connected, true);
  // And it still works.
  await bob.session.send("alice", "still here");
  await waitFor(() => alice.arrived.some((m) => m.text === "still here"), "a real message");
});

Deno.test("ChatSession against a server without the additions behaves as before", async () => {
  await using srv = await FakeConvServer.start({
    users: USERS,
    capabilities: [],
    offline: "reject",
  });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  assert.equal(alice.session.serverHistory, false);
  const failed = await alice.session.send("bob", "offline");
  assert.deepEqual([failed.status, failed.error], ["failed", "Client not online: bob"]);
  const page = await alice.session.page("bob");
  assert.deepEqual([page.messages.length, page.more], [1, false]);
  assert.equal(await alice.session.markRead("bob"), 0);
  assert.deepEqual(
    srv.requests.filter((r) => ["history", "read"].includes(String(r.frame.action))),
    [],
    "nothing the server does not know is asked of it",
  );
  await using bob = await open(srv, "bob", `${dir}/bob`);
  const retried = await alice.session.retry(failed.id);
  assert.deepEqual([retried.status, retried.serverId], ["delivered", undefined]);
  await waitFor(() => bob.arrived.length === 1, "bob's copy");
  assert.equal(bob.arrived[0]!.via, "live");
});

Deno.test("ChatSession adds imported contacts on the server at the next login", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  const where = { dataDir: `${dir}/alice`, account: "alice", host: "127.0.0.1", port: srv.port };
  {
    using history = History.open(where);
    history.addPendingContact("bob");
    history.addPendingContact("nobody");
  }
  await using alice = await open(srv, "alice", where.dataDir);
  assert.deepEqual(alice.session.contacts().map((c) => c.login), ["bob"]);
  assert.deepEqual(srv.contactsOf("alice"), ["bob"]);
  assert.deepEqual(alice.session.history.pendingContacts(), []);
  assert.ok(
    alice.service.some((l) => l === "Cannot add imported contact nobody: No such client: nobody"),
  );
});
