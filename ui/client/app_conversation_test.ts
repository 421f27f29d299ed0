/**
 * The chat GUI's routes and issue 12, in process (app.request), against the scripted
 * conversation server (client/_fake_server.ts) on loopback: delivery marks on the live
 * stream, presence pushes instead of polling, unread counts kept in the history and synced
 * by read marks, search, opening at a message, and Load older from the server.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../../client/mod.ts";
import { FakeConvServer } from "../../client/_fake_server.ts";
import { type Gui, openGui, PASSWORDS, readLive, USERS, waitFor } from "./_app_testing.ts";
import type {
  ChatState,
  ContactsSnapshot,
  MessagesReply,
  MessageView,
  SearchReply,
} from "./_types.ts";

/** Waits until the GUI's history holds `count` messages with `contact` (the login's sync). */
function cached(gui: Gui, contact: string, count: number): Promise<void> {
  return waitFor(
    `${count} messages with ${contact}`,
    async () =>
      (await gui.api<MessagesReply>("GET", `/api/messages/${contact}?limit=500`)).body.messages
        .length === count,
  );
}

function peer(srv: FakeConvServer, user: string, dataDir: string): Promise<ChatSession> {
  return ChatSession.connect({
    port: srv.port,
    user,
    password: PASSWORDS[user]!,
    dataDir,
    reconnect: false,
  });
}

Deno.test("chat routes with a storing server: stored, then delivered, then read, live", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using gui = await openGui();
  const state = await gui.connect("alice", srv);
  assert.equal(state.status, 200);
  assert.deepEqual(state.body.server, { history: true, presence: true, rooms: true });
  const ac = new AbortController();
  const live = await gui.raw("/api/events", { signal: ac.signal });
  const sent = await gui.api<{ message: MessageView }>("POST", "/api/messages", {
    to: "bob",
    text: "see you at five",
  });
  assert.equal(sent.status, 200);
  assert.equal(sent.body.message.status, "stored");
  assert.equal(typeof sent.body.message.serverId, "number");
  const id = sent.body.message.id;
  await using bob = await peer(srv, "bob", `${gui.dataDir}/bob`);
  await waitFor("bob's copy", () => bob.history.messages("alice").length === 1);
  await bob.markRead("alice");
  const events = await readLive(
    live,
    (seen) => seen.some((e) => e.topic === "message" && (e.data as MessageView).status === "read"),
  );
  const states = events.filter((e) => e.topic === "message" && (e.data as MessageView).id === id)
    .map((e) => (e.data as MessageView).status);
  assert.deepEqual(states, ["sent", "stored", "delivered", "read"]);
  ac.abort();
  const page = await gui.api<MessagesReply>("GET", "/api/messages/bob");
  assert.deepEqual(page.body.messages.map((m) => [m.text, m.status]), [[
    "see you at five",
    "read",
  ]]);
});

Deno.test("chat routes: presence pushes flip the dots, and nothing polls; without them the poll stays", async (t) => {
  const requests = (srv: FakeConvServer) =>
    srv.requests.filter((r) => r.login === "alice" && r.frame.action === "get_contacts").length;
  let pollsSeen = 0;
  let waited = 0;
  await t.step("a server without presence pushes is polled", async () => {
    await using srv = await FakeConvServer.start({
      users: USERS,
      contacts: [["alice", "bob"]],
      capabilities: ["ids"],
    });
    await using gui = await openGui({ presencePollMs: 100 });
    await gui.connect("alice", srv);
    const start = Date.now();
    await waitFor("three polls", () => requests(srv) >= 4);
    waited = Date.now() - start;
    pollsSeen = requests(srv);
  });
  await t.step("a server with presence pushes is not", async () => {
    await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
    await using gui = await openGui({ presencePollMs: 100 });
    await gui.connect("alice", srv);
    const ac = new AbortController();
    const live = await gui.raw("/api/events", { signal: ac.signal });
    await using bob = await peer(srv, "bob", `${gui.dataDir}/bob`);
    const online = (e: { topic: string; data: unknown }) =>
      e.topic === "contacts" &&
      (e.data as ContactsSnapshot).contacts.some((c) => c.login === "bob" && c.online);
    await readLive(live, (seen) => seen.some(online));
    await bob.quit();
    const again = await gui.raw("/api/events", { signal: ac.signal });
    const offline = (e: { topic: string; data: unknown }) =>
      e.topic === "contacts" &&
      (e.data as ContactsSnapshot).contacts.some((c) => c.login === "bob" && !c.online);
    await readLive(again, (seen) => seen.some(offline));
    // As long as the polling run took to poll three times, and longer: no poll at all.
    await new Promise((r) => setTimeout(r, waited + 300));
    assert.equal(requests(srv), 1, "only the login's contact list");
    assert.ok(pollsSeen >= 4);
    ac.abort();
  });
});

Deno.test("chat routes: unread counts live in the history and follow read marks of other sessions", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using gui = await openGui();
  await gui.connect("alice", srv);
  await using bob = await peer(srv, "bob", `${gui.dataDir}/bob`);
  await bob.send("alice", "one");
  await bob.send("alice", "two");
  const unread = async () =>
    (await gui.api<ContactsSnapshot>("GET", "/api/contacts")).body.contacts[0]?.unread;
  await waitFor("two unread", async () => (await unread()) === 2);
  // The console of the same account reads them: the GUI's count follows.
  await using console = await peer(srv, "alice", `${gui.dataDir}/console`);
  await console.synced;
  assert.equal(await console.markRead("bob"), 2);
  await waitFor("no unread", async () => (await unread()) === 0);
  assert.equal(srv.readMarks.get("alice\nbob"), srv.messages[1]!.id);

  // Marking read in the GUI tells the server.
  await bob.send("alice", "three");
  await waitFor("one unread", async () => (await unread()) === 1);
  const read = await gui.api<ContactsSnapshot>("POST", "/api/contacts/bob/read");
  assert.equal(read.body.contacts[0]!.unread, 0);
  await waitFor("the read mark", () => srv.readMarks.get("alice\nbob") === srv.messages[2]!.id);
  // And a restarted GUI still knows they are read.
  await gui.chat.close();
  await using again = await openGui({ dataDir: gui.dataDir });
  const offline = await again.api<ContactsSnapshot>("GET", "/api/contacts");
  assert.deepEqual(offline.body.contacts, [{ login: "bob", online: false, unread: 0 }]);
});

Deno.test("chat routes: a message sent from another device shows as one's own", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  await using gui = await openGui();
  await gui.connect("alice", srv);
  await using phone = await peer(srv, "alice", `${gui.dataDir}/phone`);
  await phone.send("bob", "from my phone");
  await waitFor(
    "the carbon",
    async () =>
      (await gui.api<MessagesReply>("GET", "/api/messages/bob")).body.messages.length === 1,
  );
  const page = await gui.api<MessagesReply>("GET", "/api/messages/bob");
  const m = page.body.messages[0]!;
  assert.deepEqual([m.direction, m.from, m.to, m.text], ["out", "alice", "bob", "from my phone"]);
  const contacts = await gui.api<ContactsSnapshot>("GET", "/api/contacts");
  assert.equal(contacts.body.contacts[0]!.unread, 0, "one's own message is not unread");
});

Deno.test("chat routes: search, open at a message, page newer; bad queries change nothing", async (t) => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  for (let i = 1; i <= 120; i++) {
    srv.append(
      i % 2 ? "bob" : "alice",
      i % 2 ? "alice" : "bob",
      `note ${i}${i === 7 ? " pineapple" : ""}`,
      "read",
    );
  }
  await using gui = await openGui();
  await gui.connect("alice", srv);
  await cached(gui, "bob", 120);
  let hit: MessageView;
  await t.step("search finds an old message", async () => {
    const found = await gui.api<SearchReply>("GET", "/api/search?q=PINEApp");
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.hits.map((h) => h.text), ["note 7 pineapple"]);
    hit = found.body.hits[0]!;
    const none = await gui.api<SearchReply>("GET", `/api/search?q=${encodeURIComponent('" OR (')}`);
    assert.deepEqual([none.status, none.body.hits], [200, []]);
  });
  await t.step(
    "around the hit: context before, the hit, then forward; newer pages after",
    async () => {
      const around = await gui.api<MessagesReply>(
        "GET",
        `/api/messages/bob?around=${hit.id}&limit=20`,
      );
      assert.equal(around.status, 200);
      const texts = around.body.messages.map((m) => m.text);
      assert.deepEqual(texts.slice(0, 7), [
        "note 1",
        "note 2",
        "note 3",
        "note 4",
        "note 5",
        "note 6",
        "note 7 pineapple",
      ]);
      assert.equal(texts.length, 20);
      assert.deepEqual([around.body.more, around.body.newer], [false, true]);
      const last = around.body.messages.at(-1)!;
      const after = await gui.api<MessagesReply>(
        "GET",
        `/api/messages/bob?after=${last.id}&limit=100`,
      );
      assert.deepEqual([after.body.messages.length, after.body.newer], [100, false]);
      assert.equal(after.body.messages.at(-1)?.text, "note 120");
    },
  );
  await t.step("bad queries: 400 with the field, or 404", async () => {
    const cases: [string, number, string, string | undefined][] = [
      ["/api/search", 400, "Invalid field: q must not be empty", "q"],
      ["/api/search?q=%20%20", 400, "Invalid field: q must not be empty", "q"],
      [`/api/search?q=${"x".repeat(257)}`, 400, "Invalid field: q exceeds 256 characters", "q"],
      [
        "/api/search?q=a&limit=0",
        400,
        "Invalid limit: must be a whole number from 1 to 100",
        "limit",
      ],
      [
        "/api/search?q=a&limit=101",
        400,
        "Invalid limit: must be a whole number from 1 to 100",
        "limit",
      ],
      [
        "/api/messages/bob?before=1&after=2",
        400,
        "Invalid query: give one of before, after and around",
        "id",
      ],
      ["/api/messages/bob?around=x", 400, "Invalid message id: x", "id"],
      ["/api/messages/bob?around=999999", 404, "No such message with bob: 999999", undefined],
      [
        `/api/messages/carol?around=${hit.id}`,
        404,
        `No such message with carol: ${hit.id}`,
        undefined,
      ],
    ];
    for (const [path, status, error, field] of cases) {
      const res = await gui.api<{ error: string; field?: string }>("GET", path);
      assert.equal(res.status, status, path);
      assert.equal(res.body.error, error, path);
      assert.equal(res.body.field, field, path);
    }
  });
  await t.step("search works while disconnected", async () => {
    await gui.api<ChatState>("POST", "/api/disconnect");
    const found = await gui.api<SearchReply>("GET", "/api/search?q=pineapple");
    assert.deepEqual(found.body.hits.map((h) => h.text), ["note 7 pineapple"]);
  });
});

Deno.test("chat routes: Load older goes on to the server once the cache is exhausted", async () => {
  await using srv = await FakeConvServer.start({ users: USERS, contacts: [["alice", "bob"]] });
  // More than the first sync takes (500): the oldest stay on the server until asked for.
  for (let i = 1; i <= 640; i++) srv.append("bob", "alice", `m${i}`, "read");
  await using gui = await openGui();
  await gui.connect("alice", srv);
  await cached(gui, "bob", 500);
  const seen: MessageView[] = [];
  let page = (await gui.api<MessagesReply>("GET", "/api/messages/bob?limit=200")).body;
  seen.unshift(...page.messages);
  while (page.more) {
    page = (await gui.api<MessagesReply>(
      "GET",
      `/api/messages/bob?limit=200&before=${page.messages[0]!.id}`,
    )).body;
    seen.unshift(...page.messages);
  }
  assert.equal(seen.length, 640);
  assert.deepEqual([seen[0]!.text, seen.at(-1)!.text], ["m1", "m640"]);
  assert.equal(new Set(seen.map((m) => m.id)).size, 640);
});
