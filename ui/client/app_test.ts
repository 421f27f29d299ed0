/**
 * The chat GUI's routes in process (app.request) against a real JIM server on loopback.
 */
import assert from "node:assert/strict";
import { ChatSession, History } from "../../client/mod.ts";
import { type FakePeer, fakeServer, serveScram } from "../../client/_fake_peer.ts";
import { randomBytes, toBase64 } from "../../protocol/mod.ts";
import { JimServer, setPassword } from "../../server/mod.ts";
import { startTestServer, TEST_ITERATIONS, type TestServer } from "../../server/testing.ts";
import type { ChatState, ContactsSnapshot, MessagesReply, MessageView } from "./_types.ts";
import { openGui, PASSWORDS, readLive, USERS, waitFor } from "./_app_testing.ts";

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  // The seed's policy: these tests are about a message to someone offline failing and retried.
  await using srv = await startTestServer({
    users: USERS,
    limits: { rateLimit: 0 },
    offlineMessages: "reject",
  });
  await fn(srv);
}

Deno.test("chat routes: connect checks every field and changes nothing on bad input", async (t) => {
  await using gui = await openGui();
  const good = { user: "alice", password: "pw", host: "127.0.0.1", port: 7777 };
  const cases: [string, Record<string, unknown>, string][] = [
    ["missing user", { ...good, user: undefined }, "user"],
    ["user with a space", { ...good, user: "a b" }, "user"],
    ["user too long", { ...good, user: "x".repeat(26) }, "user"],
    ["empty password", { ...good, password: "" }, "password"],
    ["password not a string", { ...good, password: 5 }, "password"],
    ["password too long", { ...good, password: "p".repeat(1025) }, "password"],
    ["empty host", { ...good, host: " " }, "host"],
    ["host with a slash", { ...good, host: "a/b" }, "host"],
    ["host list with an empty entry", { ...good, host: "a:7777,,b:7777" }, "host"],
    ["host list with a bad port", { ...good, host: "a:7777,b:70000" }, "host"],
    ["host list naming a server twice", { ...good, host: "a:7777,A:7777" }, "host"],
    ["host list with unbracketed IPv6 and port", { ...good, host: "a,::1:x" }, "host"],
    [
      "host list too long",
      { ...good, host: Array.from({ length: 33 }, (_, i) => `h${i}`).join() },
      "host",
    ],
    ["port zero", { ...good, port: 0 }, "port"],
    ["port too big", { ...good, port: 65536 }, "port"],
    ["port fractional", { ...good, port: 1.5 }, "port"],
    ["port not a number", { ...good, port: "http" }, "port"],
  ];
  for (const [name, body, field] of cases) {
    await t.step(name, async () => {
      const res = await gui.api("POST", "/api/connect", body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, field);
      assert.match(String(res.body.error), /^Invalid field: /);
    });
  }
  await t.step("state is untouched", async () => {
    const res = await gui.api<ChatState>("GET", "/api/state");
    assert.equal(res.body.phase, "disconnected");
    assert.equal(res.body.error, null);
    assert.equal(res.body.rev, 0);
  });
  await t.step("not JSON, wrong type, too large", async () => {
    const notJson = await gui.raw("/api/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(notJson.status, 400);
    await notJson.body?.cancel();
    const form = await gui.raw("/api/connect", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "user=alice",
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
    const big = await gui.api("POST", "/api/connect", { ...good, password: "p".repeat(40_000) });
    assert.equal(big.status, 413);
  });
});

Deno.test("chat routes: connect reports each login failure in the page's terms", async (t) => {
  await withServer(async (srv) => {
    await using gui = await openGui();
    await t.step("server unreachable is 502", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const closedPort = (listener.addr as Deno.NetAddr).port;
      listener.close();
      const res = await gui.api("POST", "/api/connect", {
        user: "alice",
        password: "x",
        host: "127.0.0.1",
        port: closedPort,
      });
      assert.equal(res.status, 502);
      assert.match(String(res.body.error), /^Server unreachable: Cannot connect to 127\.0\.0\.1:/);
    });
    await t.step(
      "unknown user looks like a wrong password: the server tells them apart for no one",
      async () => {
        const res = await gui.api("POST", "/api/connect", {
          user: "nobody",
          password: "x",
          host: srv.host,
          port: srv.port,
        });
        assert.equal(res.status, 401);
        assert.equal(res.body.field, "password");
        assert.equal(res.body.error, "Wrong password: Access denied");
      },
    );
    await t.step("wrong password is 401 on the password field", async () => {
      const res = await gui.api("POST", "/api/connect", {
        user: "alice",
        password: "wrong",
        host: srv.host,
        port: srv.port,
      });
      assert.equal(res.status, 401);
      assert.equal(res.body.field, "password");
      assert.equal(res.body.error, "Wrong password: Access denied");
    });
    await t.step("the state says why and stays disconnected", async () => {
      const res = await gui.api<ChatState>("GET", "/api/state");
      assert.equal(res.body.phase, "disconnected");
      assert.equal(res.body.error, "Wrong password: Access denied");
      const log = await gui.api<{ entries: { text: string }[] }>("GET", "/api/service");
      const texts = log.body.entries.map((e) => e.text).join("\n");
      assert.match(texts, /Cannot connect: Server unreachable/);
      assert.match(texts, /Cannot connect: Wrong password/);
    });
  });
});

Deno.test("chat routes: a server with a forged SCRAM signature is refused", async () => {
  await using fake = fakeServer(async (peer: FakePeer) => {
    // Everything right but the server's signature, which no server with the key would send.
    await serveScram(peer, "pencil", { data: toBase64(`v=${toBase64(randomBytes(32))}`) });
    await peer.untilClosed();
  });
  await using gui = await openGui();
  const res = await gui.api("POST", "/api/connect", {
    user: "alice",
    password: "pencil",
    host: "127.0.0.1",
    port: fake.port,
  });
  assert.equal(res.status, 401);
  assert.equal(res.body.error, "Cannot verify server: signature mismatch");
  assert.equal((await gui.api<ChatState>("GET", "/api/state")).body.phase, "disconnected");
});

Deno.test("chat routes: the password is used for login and kept nowhere", async () => {
  await withServer(async (srv) => {
    await using gui = await openGui();
    const res = await gui.connect("alice", srv);
    assert.equal(res.status, 200);
    assert.equal(res.body.phase, "connected");
    assert.equal(res.body.user, "alice");
    assert.equal(res.body.host, srv.host);
    assert.equal(res.body.port, srv.port);
    const secret = PASSWORDS.alice!;
    assert.ok(!JSON.stringify(res.body).includes(secret));
    for (const path of ["/api/state", "/api/contacts", "/api/service"]) {
      const text = await (await gui.raw(path)).text();
      assert.ok(!text.includes(secret), `${path} must not carry the password`);
    }
    for await (const entry of Deno.readDir(gui.dataDir)) {
      const bytes = await Deno.readFile(`${gui.dataDir}/${entry.name}`);
      const text = new TextDecoder("latin1").decode(bytes);
      assert.ok(!text.includes("alice-secret"), `${entry.name} must not hold the password`);
    }
    const again = await gui.connect("alice", srv);
    assert.equal(again.status, 409);
    assert.equal(again.body.error, "Already connected: disconnect first");
    const off = await gui.api<ChatState>("POST", "/api/disconnect");
    assert.equal(off.body.phase, "disconnected");
    assert.equal(off.body.user, null);
    assert.deepEqual(off.body.last, { user: "alice", host: srv.host, port: srv.port });
  });
});

Deno.test("chat routes: contacts add and delete with the server's errors inline", async (t) => {
  await withServer(async (srv) => {
    await using gui = await openGui();
    await t.step("needs a connection", async () => {
      const res = await gui.api("POST", "/api/contacts", { login: "bob" });
      assert.equal(res.status, 409);
      assert.equal(res.body.error, "Not connected: connect to a server first");
    });
    assert.equal((await gui.connect("alice", srv)).status, 200);
    await t.step("bad login", async () => {
      const res = await gui.api("POST", "/api/contacts", { login: "no way" });
      assert.equal(res.status, 400);
      assert.equal(res.body.field, "login");
    });
    await t.step("no such client", async () => {
      const res = await gui.api("POST", "/api/contacts", { login: "nobody" });
      assert.equal(res.status, 404);
      assert.equal(res.body.field, "login");
      assert.equal(res.body.error, "No such client: nobody");
    });
    await t.step("add", async () => {
      const res = await gui.api<ContactsSnapshot>("POST", "/api/contacts", { login: "bob" });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.contacts, [{ login: "bob", online: false, unread: 0 }]);
    });
    await t.step("already in contacts", async () => {
      const res = await gui.api("POST", "/api/contacts", { login: "bob" });
      assert.equal(res.status, 409);
      assert.equal(res.body.field, "login");
      assert.equal(res.body.error, "Client already in contacts: bob");
    });
    await t.step("delete", async () => {
      const res = await gui.api<ContactsSnapshot>("DELETE", "/api/contacts/bob");
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.contacts, []);
      const again = await gui.api("DELETE", "/api/contacts/bob");
      assert.equal(again.status, 404);
      const bad = await gui.api("DELETE", "/api/contacts/a%20b");
      assert.equal(bad.status, 400);
    });
  });
});

Deno.test("chat routes: messages go both ways, offline ones fail and retry", async (t) => {
  await withServer(async (srv) => {
    await using alice = await openGui();
    await using bob = await openGui();
    assert.equal((await alice.connect("alice", srv)).status, 200);
    assert.equal((await alice.api("POST", "/api/contacts", { login: "bob" })).status, 200);
    const text = "Привет, Боб! 👋\nвторая строка";

    let failed: MessageView;
    await t.step("to an offline contact: stored as failed, in Service info", async () => {
      const res = await alice.api<{ message: MessageView }>("POST", "/api/messages", {
        to: "bob",
        text,
      });
      assert.equal(res.status, 200);
      failed = res.body.message;
      assert.equal(failed.status, "failed");
      assert.equal(failed.error, "Client not online: bob");
      assert.equal(failed.from, "alice");
      assert.equal(failed.to, "bob");
      assert.equal(failed.text, text);
      const log = await alice.api<{ entries: { text: string; level: string }[] }>(
        "GET",
        "/api/service",
      );
      assert.ok(
        log.body.entries.some((e) =>
          e.level === "error" && e.text === "Message to bob not sent: Client not online: bob"
        ),
      );
    });

    await t.step("retry once the peer is back delivers the same message", async () => {
      assert.equal((await bob.connect("bob", srv)).status, 200);
      const res = await alice.api<{ message: MessageView }>(
        "POST",
        `/api/messages/${failed.id}/retry`,
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.message.id, failed.id);
      assert.equal(res.body.message.status, "delivered");
      const again = await alice.api("POST", `/api/messages/${failed.id}/retry`);
      assert.equal(again.status, 409);
      assert.equal((await alice.api("POST", "/api/messages/999999/retry")).status, 404);
      assert.equal((await alice.api("POST", "/api/messages/abc/retry")).status, 400);
    });

    await t.step("the stranger's message added alice to bob's contacts, unread", async () => {
      await waitFor("alice in bob's contacts", async () => {
        const c = await bob.api<ContactsSnapshot>("GET", "/api/contacts");
        return c.body.contacts.some((x) => x.login === "alice" && x.unread === 1);
      });
      const m = await bob.api<MessagesReply>("GET", "/api/messages/alice");
      assert.equal(m.body.messages.length, 1);
      assert.equal(m.body.messages[0]!.text, text);
      assert.equal(m.body.messages[0]!.direction, "in");
      assert.equal(m.body.messages[0]!.from, "alice");
      assert.equal(m.body.messages[0]!.to, "bob");
      const read = await bob.api<ContactsSnapshot>("POST", "/api/contacts/alice/read");
      assert.deepEqual(read.body.contacts, [{ login: "alice", online: true, unread: 0 }]);
    });

    await t.step("reply goes back and both histories hold the conversation", async () => {
      const res = await bob.api<{ message: MessageView }>("POST", "/api/messages", {
        to: "alice",
        text: "Hi 🙂",
      });
      assert.equal(res.body.message.status, "delivered");
      await waitFor("alice has bob's reply", async () => {
        const m = await alice.api<MessagesReply>("GET", "/api/messages/bob");
        return m.body.messages.length === 2;
      });
      const m = await alice.api<MessagesReply>("GET", "/api/messages/bob");
      assert.deepEqual(m.body.messages.map((x) => [x.from, x.to, x.text]), [
        ["alice", "bob", text],
        ["bob", "alice", "Hi 🙂"],
      ]);
      // bob's GUI showed the conversation: with the server's receipts, alice's message may
      // already be read by now.
      assert.ok(["delivered", "read"].includes(m.body.messages[0]!.status));
      assert.equal(m.body.messages[1]!.status, "delivered");
    });

    await t.step("bad sends change nothing", async () => {
      for (
        const [body, field] of [
          [{ to: "bob", text: "" }, "text"],
          [{ to: "bob", text: "   " }, "text"],
          [{ to: "bob", text: "x".repeat(4097) }, "text"],
          [{ to: "bob", text: "😀".repeat(4000) }, "text"],
          [{ to: "", text: "hi" }, "to"],
          [{ to: "bob" }, "text"],
        ] as const
      ) {
        const res = await alice.api("POST", "/api/messages", body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.field, field);
      }
      const m = await alice.api<MessagesReply>("GET", "/api/messages/bob");
      assert.equal(m.body.messages.length, 2);
    });

    await t.step("the longest text that fits a frame round-trips unchanged", async () => {
      const long = "Ж".repeat(4096);
      const res = await alice.api<{ message: MessageView }>("POST", "/api/messages", {
        to: "bob",
        text: long,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.message.status, "delivered");
      await waitFor("bob has it", async () => {
        const m = await bob.api<MessagesReply>("GET", "/api/messages/alice");
        return m.body.messages.some((x) => x.text === long);
      });
    });

    await t.step("not connected: 409 and nothing stored", async () => {
      await alice.api("POST", "/api/disconnect");
      const res = await alice.api("POST", "/api/messages", { to: "bob", text: "later" });
      assert.equal(res.status, 409);
      const m = await alice.api<MessagesReply>("GET", "/api/messages/bob");
      assert.equal(m.body.messages.length, 3, "history still readable offline");
    });
  });
});

Deno.test("chat routes: a restarted GUI shows the last account's history offline", async () => {
  await withServer(async (srv) => {
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-gui-test-" });
    try {
      {
        await using gui = await openGui({ dataDir });
        await gui.connect("alice", srv);
        await gui.api("POST", "/api/contacts", { login: "carol" });
        await gui.api("POST", "/api/messages", { to: "carol", text: "are you there?" });
      }
      {
        // As if the GUI had been killed while the server's reply was on its way.
        using history = History.open({ dataDir, account: "alice", host: srv.host, port: srv.port });
        history.addMessage({ contact: "carol", direction: "out", text: "cut off", status: "sent" });
      }
      await using gui = await openGui({ dataDir });
      const state = await gui.api<ChatState>("GET", "/api/state");
      assert.equal(state.body.phase, "disconnected");
      assert.deepEqual(state.body.last, { user: "alice", host: srv.host, port: srv.port });
      const contacts = await gui.api<ContactsSnapshot>("GET", "/api/contacts");
      assert.deepEqual(contacts.body.contacts, [{ login: "carol", online: false, unread: 0 }]);
      const m = await gui.api<MessagesReply>("GET", "/api/messages/carol");
      assert.deepEqual(m.body.messages.map((x) => [x.text, x.status, x.error]), [
        ["are you there?", "failed", "Client not online: carol"],
        ["cut off", "failed", "Not confirmed: the GUI stopped before the server replied"],
      ]);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  });
});

Deno.test("chat routes: a dropped connection shows in the state and Service info", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  await using gui = await openGui({ reconnect: false });
  await gui.connect("alice", srv);
  await srv.server.close();
  await waitFor("disconnected", () => gui.chat.state().phase === "disconnected");
  const state = gui.chat.state();
  assert.match(state.error ?? "", /^Connection lost/);
  assert.ok(gui.chat.serviceLog().some((e) => e.level === "error" && /^Disconnected/.test(e.text)));
});

/** A new server on the old one's port with the same database, as after a restart. */
function restart(srv: TestServer): Promise<JimServer> {
  return JimServer.listen({ host: "127.0.0.1", port: srv.port, storage: srv.storage });
}

Deno.test("chat routes: after a server restart the GUI reconnects by itself and sends", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  await using gui = await openGui();
  await using bob = await ChatSession.connect({
    port: srv.port,
    user: "bob",
    password: PASSWORDS.bob!,
    dataDir: gui.dataDir,
    reconnect: { initialDelay: 10, maxDelay: 80 },
  });
  assert.equal((await gui.connect("alice", srv)).status, 200);
  await srv.server.close();
  await waitFor("reconnecting", () => gui.chat.state().phase === "reconnecting");
  const state = (await gui.api<ChatState>("GET", "/api/state")).body;
  assert.deepEqual([state.user, state.port], ["alice", srv.port]);
  assert.match(state.error ?? "", /^Connection lost/);
  // Connect is refused while the session is still trying: nothing to retype.
  assert.equal((await gui.connect("alice", srv)).status, 409);

  await using _restarted = await restart(srv);
  await waitFor("connected again", () => gui.chat.state().phase === "connected");
  assert.equal(gui.chat.state().error, null);
  const texts = gui.chat.serviceLog().map((e) => e.text);
  assert.ok(texts.some((t) => /^Reconnecting in /.test(t)), texts.join("|"));
  assert.ok(texts.includes("Reconnected"), texts.join("|"));
  assert.ok(!JSON.stringify(texts).includes(PASSWORDS.alice!));
  await waitFor("bob to be back", () => bob.connected);
  const sent = await gui.api<{ message: MessageView }>("POST", "/api/messages", {
    to: "bob",
    text: "back",
  });
  assert.equal(sent.status, 200);
  assert.equal(sent.body.message.status, "delivered");
});

Deno.test("chat routes: Disconnect stops reconnecting; a changed password needs the form", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  await using gui = await openGui({ reconnect: { initialDelay: 600_000, maxDelay: 600_000 } });
  await t.step("Disconnect while reconnecting", async () => {
    await gui.connect("alice", srv);
    await srv.server.close();
    await waitFor("reconnecting", () => gui.chat.state().phase === "reconnecting");
    const off = await gui.api<ChatState>("POST", "/api/disconnect");
    assert.equal(off.body.phase, "disconnected");
    // The 10-minute retry timer would fail the op sanitizer had Disconnect left it running.
  });
  await t.step("changed password", async () => {
    await using restarted = await restart(srv);
    await using fast = await openGui({ reconnect: { initialDelay: 10, maxDelay: 80 } });
    assert.equal((await fast.connect("alice", srv)).status, 200);
    await restarted.close();
    await setPassword(srv.storage.users, "alice", "changed-pw", { iterations: TEST_ITERATIONS });
    await using _again = await restart(srv);
    await waitFor("the GUI to give up", () => fast.chat.state().phase === "disconnected");
    assert.equal(
      fast.chat.state().error,
      "Reconnecting stopped: Cannot log in: the password has changed; enter it again",
    );
  });
});

Deno.test("chat routes: the live stream needs the cookie and sends state changes", async () => {
  await withServer(async (srv) => {
    await using gui = await openGui();
    const anonymous = await gui.raw("/api/events", { headers: { cookie: "" } });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const ac = new AbortController();
    const res = await gui.raw("/api/events", { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await gui.connect("bob", srv);
    let seen = "";
    while (!/"phase":"connected"/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /event: ready/);
    assert.match(seen, /"topic":"state".*"phase":"connecting"/);
    assert.match(seen, /"topic":"state".*"phase":"connected"/);
    ac.abort();
    await reader.cancel().catch(() => {});
  });
});

/** Reads an SSE response's data events, `{ topic, data }`, until `done` says stop. */
Deno.test("chat routes: a message sent by another client lands live on the event stream", async () => {
  await withServer(async (srv) => {
    await using gui = await openGui();
    await gui.connect("carol", srv);
    const ac = new AbortController();
    const res = await gui.raw("/api/events", { signal: ac.signal });
    assert.equal(res.status, 200);
    await using bob = await ChatSession.connect({
      host: srv.host,
      port: srv.port,
      user: "bob",
      password: PASSWORDS.bob!,
      dataDir: gui.dataDir + "/bob",
    });
    const sent = await bob.send("carol", "ping");
    assert.equal(sent.status, "delivered");
    // What the page sees: the message itself and the contact it came from, unread, online.
    const arrived = (e: { topic: string; data: unknown }) =>
      e.topic === "message" && (e.data as MessageView).text === "ping";
    const listed = (e: { topic: string; data: unknown }) =>
      e.topic === "contacts" &&
      (e.data as ContactsSnapshot).contacts.some((c) => c.login === "bob" && c.unread === 1);
    const events = await readLive(res, (seen) => seen.some(arrived) && seen.some(listed));
    ac.abort();
    const message = events.find(arrived)!.data as MessageView;
    assert.deepEqual(
      [message.contact, message.direction, message.from, message.to, message.status],
      ["bob", "in", "bob", "carol", "delivered"],
    );
    const contacts = (events.find(listed)!.data as ContactsSnapshot).contacts;
    assert.deepEqual(contacts.find((c) => c.login === "bob"), {
      login: "bob",
      online: true,
      unread: 1,
    });
    // And the stored copy agrees with what was streamed.
    const m = await gui.chat.messages("bob");
    assert.deepEqual(m.messages.map((x) => [x.id, x.text]), [[message.id, "ping"]]);
  });
});

Deno.test("chat routes: Load older pages back through the whole history", async (t) => {
  await withServer(async (srv) => {
    await using alice = await openGui();
    assert.equal((await alice.connect("alice", srv)).status, 200);
    assert.equal((await alice.api("POST", "/api/contacts", { login: "bob" })).status, 200);
    // bob is offline: each send is stored as failed, which is all this needs.
    for (let i = 1; i <= 7; i++) {
      await alice.api("POST", "/api/messages", { to: "bob", text: `m${i}` });
    }
    type Page = MessagesReply;
    await t.step("pages of three, then the rest, then nothing more", async () => {
      const first = await alice.api<Page>("GET", "/api/messages/bob?limit=3");
      assert.deepEqual(first.body.messages.map((m) => m.text), ["m5", "m6", "m7"]);
      assert.equal(first.body.more, true);
      const second = await alice.api<Page>(
        "GET",
        `/api/messages/bob?limit=3&before=${first.body.messages[0]!.id}`,
      );
      assert.deepEqual(second.body.messages.map((m) => m.text), ["m2", "m3", "m4"]);
      assert.equal(second.body.more, true);
      const third = await alice.api<Page>(
        "GET",
        `/api/messages/bob?limit=3&before=${second.body.messages[0]!.id}`,
      );
      assert.deepEqual(third.body.messages.map((m) => m.text), ["m1"]);
      assert.equal(third.body.more, false);
    });
    await t.step("the default page is 50 with more: false when all fit", async () => {
      const all = await alice.api<Page>("GET", "/api/messages/bob");
      assert.equal(all.body.messages.length, 7);
      assert.equal(all.body.more, false);
    });
    await t.step("bad paging is 400, a message of another chat 404", async () => {
      for (const q of ["limit=0", "limit=501", "limit=x", "before=0", "before=-1", "before=1e3"]) {
        const res = await alice.api("GET", `/api/messages/bob?${q}`);
        assert.equal(res.status, 400, q);
      }
      const first = (await alice.api<Page>("GET", "/api/messages/bob")).body.messages[0]!;
      const other = await alice.api("GET", `/api/messages/carol?before=${first.id}`);
      assert.equal(other.status, 404);
      assert.equal((await alice.api("GET", "/api/messages/bob?before=999999")).status, 404);
    });
  });
});

Deno.test("chat routes: a send repeated with the page's clientId is stored once", async () => {
  await withServer(async (srv) => {
    await using alice = await openGui();
    await using bob = await openGui();
    assert.equal((await alice.connect("alice", srv)).status, 200);
    assert.equal((await bob.connect("bob", srv)).status, 200);
    assert.equal((await alice.api("POST", "/api/contacts", { login: "bob" })).status, 200);
    const body = { to: "bob", text: "only once", clientId: "page-1-abcdef" };
    const first = await alice.api<{ message: MessageView }>("POST", "/api/messages", body);
    assert.equal(first.status, 200);
    assert.equal(first.body.message.status, "delivered");
    assert.equal(first.body.message.clientId, "page-1-abcdef");
    const again = await alice.api<{ message: MessageView }>("POST", "/api/messages", body);
    assert.equal(again.status, 200);
    assert.equal(again.body.message.id, first.body.message.id);
    const mine = await alice.api<MessagesReply>("GET", "/api/messages/bob");
    assert.deepEqual(mine.body.messages.map((m) => [m.text, m.clientId]), [
      ["only once", "page-1-abcdef"],
    ]);
    await waitFor("bob has it", async () => {
      const m = await bob.api<MessagesReply>("GET", "/api/messages/alice");
      return m.body.messages.length > 0;
    });
    const theirs = await bob.api<MessagesReply>("GET", "/api/messages/alice");
    assert.deepEqual(theirs.body.messages.map((m) => m.text), ["only once"]);
    for (const clientId of ["short", "has space in it", 7, "x".repeat(65)]) {
      const res = await alice.api("POST", "/api/messages", { to: "bob", text: "x", clientId });
      assert.equal(res.status, 400, String(clientId));
    }
  });
});

Deno.test("chat routes: contacts match without case; oneself is refused clearly", async (t) => {
  await withServer(async (srv) => {
    await using alice = await openGui();
    assert.equal((await alice.connect("alice", srv)).status, 200);
    const events: string[][] = [];
    const stop = new AbortController();
    const res = await alice.raw("/api/events", { signal: stop.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const reading = (async () => {
      let buffer = "";
      while (true) {
        const { value, done } = await reader.read().catch(() => ({ value: "", done: true }));
        if (done) return;
        buffer += value;
        for (let at = buffer.indexOf("\n\n"); at >= 0; at = buffer.indexOf("\n\n")) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = frame.split("\n").find((l) => l.startsWith("data: "))?.slice(6);
          const parsed = data ? JSON.parse(data) : undefined;
          if (parsed?.topic === "contacts") {
            events.push((parsed.data as ContactsSnapshot).contacts.map((c) => c.login));
          }
        }
      }
    })();
    await t.step(
      "'BOB' for a new contact shows as the server spells it, never as typed",
      async () => {
        const added = await alice.api<ContactsSnapshot>("POST", "/api/contacts", { login: "BOB" });
        assert.equal(added.status, 200);
        assert.deepEqual(added.body.contacts.map((c) => c.login), ["bob"]);
      },
    );
    await t.step("'Bob' while bob is a contact: 409 naming bob, no second row", async () => {
      const again = await alice.api("POST", "/api/contacts", { login: "Bob" });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, "Client already in contacts: bob");
      assert.equal(again.body.field, "login");
      const list = await alice.api<ContactsSnapshot>("GET", "/api/contacts");
      assert.deepEqual(list.body.contacts.map((c) => c.login), ["bob"]);
    });
    await t.step("oneself, in any case: 400 and nothing added", async () => {
      for (const login of ["alice", "ALICE"]) {
        const me = await alice.api("POST", "/api/contacts", { login });
        assert.equal(me.status, 400);
        assert.equal(me.body.error, "Cannot add yourself: you are logged in as alice");
        assert.equal(me.body.field, "login");
      }
      const send = await alice.api("POST", "/api/messages", { to: "Alice", text: "note" });
      assert.equal(send.status, 400);
      assert.equal(send.body.error, "Cannot send to yourself: you are logged in as alice");
      const list = await alice.api<ContactsSnapshot>("GET", "/api/contacts");
      assert.deepEqual(list.body.contacts.map((c) => c.login), ["bob"]);
      const m = await alice.api<MessagesReply>("GET", "/api/messages/alice");
      assert.deepEqual(m.body.messages, []);
    });
    await t.step("no snapshot on the live stream ever showed a ghost", async () => {
      await waitFor("a contacts event", () => events.length > 0);
      for (const list of events) assert.ok(list.every((l) => l === "bob"), list.join(","));
    });
    stop.abort();
    await reader.cancel().catch(() => {});
    await reading;
  });
});

Deno.test("chat routes: a lockout tells when the next try is let in", async () => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { rateLimit: 0, maxFailedLogins: 2 },
  });
  await using gui = await openGui();
  const wrong = { user: "alice", password: "wrong", host: srv.host, port: srv.port };
  for (let i = 0; i < 2; i++) {
    assert.equal((await gui.api("POST", "/api/connect", wrong)).status, 401);
  }
  const before = Date.now();
  const locked = await gui.api("POST", "/api/connect", wrong);
  assert.equal(locked.status, 403);
  assert.match(String(locked.body.error), /^Too many failed logins: try again in \d+ seconds$/);
  const state = await gui.api<ChatState>("GET", "/api/state");
  assert.equal(state.body.phase, "disconnected");
  assert.ok(state.body.retryAt !== null && state.body.retryAt > before, "retryAt is ahead");
  // The server's window is five minutes: the end is about that far ahead.
  assert.ok(state.body.retryAt! <= Date.now() + 5 * 60_000 + 1000);
});
