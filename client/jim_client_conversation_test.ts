/**
 * JimClient and the issue 12 additions (PROTOCOL_12) against scripted peers on real loopback
 * sockets: capabilities, ids and states on msg replies, live/stored/carbon pushes, receipts,
 * presence pushes, history pages and read marks, and every malformed variant of them a server
 * could send. Each bad frame is skipped with an "error" event; the connection stays.
 */
import { JimError } from "../protocol/mod.ts";
import { assert, rejectsWith, waitFor } from "./_assert.ts";
import { type FakePeer, fakeServer, serveScram } from "./_fake_peer.ts";
import { UnsupportedError } from "./errors.ts";
import {
  type IncomingMessage,
  JimClient,
  type PresenceChange,
  type Receipt,
} from "./jim_client.ts";

const ALL = ["ids", "carbons", "presence", "receipts"];
const TS = 1764620000123;

/** A logged-in client against `script`, which runs after the SCRAM login. */
async function session(
  script: (peer: FakePeer) => Promise<void>,
  capabilities: unknown = ALL,
) {
  const server = fakeServer(async (peer) => {
    // "none": a 401 without the field, as today's server sends it.
    await serveScram(peer, "pw", undefined, capabilities === "none" ? {} : { capabilities });
    await script(peer);
    await peer.untilClosed();
  });
  const client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const errors: string[] = [];
  client.addEventListener("error", (e) => errors.push(e.detail.error.message));
  return {
    client,
    errors,
    server,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("JimClient announces its capabilities and keeps what the server answered of them", async (t) => {
  await t.step("the announcement and a partial answer", async () => {
    let presence: Record<string, unknown> = {};
    await using server = fakeServer(async (peer) => {
      // The server offers one the client never asked for, and one that does not exist.
      presence = await serveScram(peer, "pw", undefined, {
        capabilities: ["ids", "receipts", "rooms", "telepathy"],
      });
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    assert.equal(client.capabilities.size, 0);
    await client.login("alice", "pw");
    assert.deepEqual(presence.capabilities, [...ALL, "rooms"]);
    assert.deepEqual([...client.capabilities], ["ids", "receipts", "rooms"]);
    assert.ok(client.supports("ids") && client.supports("rooms") && !client.supports("presence"));
  });

  await t.step("a server that answers nothing (today's) leaves the set empty", async () => {
    await using s = await session(async (peer) => {
      // Nothing more is asked of it: history and read are refused before the wire.
      await peer.receive().then((m) => assert.equal(m.action, "quit"));
      await peer.send({ response: 200, alert: "Bye" });
    }, "none");
    assert.equal(s.client.capabilities.size, 0);
    await rejectsWith(() => s.client.history({ with: "bob" }), UnsupportedError, "history");
    await rejectsWith(() => s.client.markRead("bob", 5), UnsupportedError, "read");
    await s.client.quit();
    await s.server.done;
  });

  await t.step("capabilities: [] announces nothing, like the seed's client", async () => {
    let presence: Record<string, unknown> = {};
    await using server = fakeServer(async (peer) => {
      presence = await serveScram(peer, "pw", undefined, { capabilities: ALL });
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port, capabilities: [] });
    await client.login("alice", "pw");
    assert.equal("capabilities" in presence, false);
    assert.equal(client.capabilities.size, 0);
  });

  await t.step("a capabilities field of the wrong type is an unreadable reply", async () => {
    await using server = fakeServer(async (peer) => {
      await peer.receive();
      await peer.send({
        response: 401,
        token: "00",
        mechanisms: ["SCRAM-SHA-256"],
        capabilities: "ids",
      });
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    await rejectsWith(() => client.login("alice", "pw"), Error, "capabilities must be a list");
  });
});

Deno.test("JimClient.send() tells stored from delivered and reads id, ts and state", async (t) => {
  const replies: [string, Record<string, unknown>, unknown][] = [
    ["delivered", { response: 200, alert: "OK", id: 1042, ts: TS, state: "delivered" }, {
      state: "delivered",
      alert: "OK",
      id: 1042,
      ts: TS,
    }],
    ["stored", { response: 200, alert: "Stored for bob", id: 1043, ts: TS, state: "stored" }, {
      state: "stored",
      alert: "Stored for bob",
      id: 1043,
      ts: TS,
    }],
    ["stored, in the seed dialect", { response: 200, alert: "Stored for bob" }, {
      state: "stored",
      alert: "Stored for bob",
    }],
    ["today's server: 200 alone", { response: 200 }, { state: "delivered", alert: "OK" }],
  ];
  for (const [name, reply, expected] of replies) {
    await t.step(name, async () => {
      await using s = await session(async (peer) => {
        const msg = await peer.receive();
        assert.deepEqual([msg.action, msg.to, msg.message], ["msg", "bob", "hi"]);
        await peer.send(reply);
      });
      assert.deepEqual(await s.client.send("bob", "hi"), expected);
    });
  }
  await t.step("410 and 503 stay refusals", async () => {
    await using s = await session(async (peer) => {
      await peer.receive();
      await peer.send({ response: 410, error: "Client not online: bob" });
      await peer.receive();
      await peer.send({
        response: 503,
        error: "Message not stored: bob has 1000 messages waiting",
      });
    });
    const gone = await rejectsWith(() => s.client.send("bob", "a"), JimError, "Client not online");
    assert.equal(gone.code, 410);
    const full = await rejectsWith(() => s.client.send("bob", "b"), JimError, "1000 messages");
    assert.equal(full.code, 503);
  });
  await t.step(
    "a reply with a forged state ends the connection: replies cannot be skipped",
    async () => {
      await using s = await session(async (peer) => {
        await peer.receive();
        await peer.send({ response: 200, state: "teleported" });
      });
      await rejectsWith(() => s.client.send("bob", "hi"), Error, "state must be");
      assert.equal(s.client.connected, false);
    },
  );
});

Deno.test("JimClient passes on live, stored and carbon messages, and skips ones for others", async () => {
  const got: IncomingMessage[] = [];
  await using s = await session(async (peer) => {
    const base = { action: "msg", time: 1764620000, encoding: "utf-8" };
    await peer.send({ ...base, from: "bob", to: "alice", message: "live", id: 1, ts: TS });
    await peer.send({
      ...base,
      from: "bob",
      to: "alice",
      message: "kept",
      id: 2,
      ts: 5,
      stored: true,
    });
    await peer.send({
      ...base,
      from: "alice",
      to: "bob",
      message: "mine",
      id: 3,
      ts: TS,
      carbon: true,
    });
    await peer.send({ ...base, from: "carol", to: "bob", message: "not ours" });
    await peer.send({ ...base, from: "carol", to: "#general", message: "a room" });
    await peer.send({ ...base, from: "bob", to: "alice", message: "forged", carbon: true });
    await peer.send({ ...base, from: "bob", to: "alice", message: "bad id", id: -4 });
    await peer.send({ ...base, from: "bob", to: "alice", message: "seed style" });
  });
  s.client.addEventListener("message", (e) => got.push(e.detail));
  await waitFor(() => got.length === 4 && s.errors.length === 4, "four messages, four errors");
  assert.deepEqual(got, [
    { from: "bob", to: "alice", text: "live", time: TS, id: 1, ts: TS },
    { from: "bob", to: "alice", text: "kept", time: 5, id: 2, ts: 5, stored: true },
    { from: "alice", to: "bob", text: "mine", time: TS, id: 3, ts: TS, carbon: true },
    { from: "bob", to: "alice", text: "seed style", time: 1764620000000 },
  ]);
  assert.deepEqual(s.errors, [
    "Ignored server message: msg from carol to bob: not a conversation of alice",
    "Ignored server message: msg to #general: this session does not take part in rooms",
    "Ignored server message: carbon from bob: a carbon copies what alice sent",
    "Ignored server message: Invalid field: id must be a positive integer below 2^53",
  ]);
  assert.equal(s.client.connected, true);
});

Deno.test("JimClient passes on receipts and presence pushes, and skips malformed ones", async () => {
  const receipts: Receipt[] = [];
  const presence: PresenceChange[] = [];
  await using s = await session(async (peer) => {
    await peer.send({ action: "receipt", time: 1, id: 1043, user_id: "bob", state: "delivered" });
    await peer.send({ action: "receipt", time: 1, id: 1043, user_id: "bob", state: "read" });
    await peer.send({
      action: "receipt",
      time: 1,
      id: 9,
      user_id: "bob",
      state: "read",
      own: true,
    });
    await peer.send({ action: "receipt", time: 1, id: "1043", user_id: "bob", state: "read" });
    await peer.send({ action: "receipt", time: 1, id: 1043, user_id: "bob", state: "stored" });
    await peer.send({ action: "receipt", time: 1, id: 1043, state: "read" });
    await peer.send({
      action: "presence",
      time: 1,
      type: "status",
      user: { account_name: "bob", status: "online" },
    });
    await peer.send({ action: "presence", time: 1, user: { account_name: "bob", status: "busy" } });
    await peer.send({
      action: "presence",
      time: 1,
      user: { account_name: "bob", status: "offline" },
    });
    await peer.send({ action: "room_event", room: "#x", event: "joined", user_id: "bob" });
    // The connection still answers in order after all of that.
    const q = await peer.receive();
    assert.equal(q.action, "get_contacts");
    await peer.send({ response: 202, quantity: 0 });
  });
  s.client.addEventListener("receipt", (e) => receipts.push(e.detail));
  s.client.addEventListener("presence", (e) => presence.push(e.detail));
  assert.deepEqual(await s.client.contacts(), []);
  await waitFor(() => presence.length === 2, "two presence changes");
  assert.deepEqual(receipts, [
    { id: 1043, user: "bob", state: "delivered", own: false },
    { id: 1043, user: "bob", state: "read", own: false },
    { id: 9, user: "bob", state: "read", own: true },
  ]);
  assert.deepEqual(presence, [{ login: "bob", online: true }, { login: "bob", online: false }]);
  assert.deepEqual(s.errors, [
    "Ignored server message: Invalid field: id must be a positive integer below 2^53",
    'Ignored server message: Invalid field: state must be "delivered" or "read"',
    "Ignored server message: Missing field: user_id",
    'Ignored server message: Invalid field: user.status must be "online" or "offline"',
    "Ignored server message: room_event: this session does not take part in rooms",
  ]);
});

function item(id: number, extra: Record<string, unknown> = {}) {
  return {
    action: "history_item",
    id,
    ts: TS + id,
    time: 1764620000,
    from: id % 2 ? "alice" : "bob",
    to: id % 2 ? "bob" : "alice",
    encoding: "utf-8",
    message: `m${id}`,
    state: "read",
    ...extra,
  };
}

Deno.test("JimClient.history() reads a page: 202, quantity, history_item frames, more", async (t) => {
  await t.step("the request and the page, sorted by id", async () => {
    const asked: Record<string, unknown>[] = [];
    await using s = await session(async (peer) => {
      asked.push(await peer.receive());
      await peer.send({ response: 202, quantity: 3, more: true });
      for (const id of [12, 10, 11]) await peer.send(item(id));
      asked.push(await peer.receive());
      await peer.send({ response: 202, quantity: 0, more: false });
      asked.push(await peer.receive());
      await peer.send({ response: 404, error: "No such message: 999" });
    });
    const page = await s.client.history({ with: "bob", before: 13, limit: 3 });
    assert.deepEqual(page.items.map((i) => i.id), [10, 11, 12]);
    assert.deepEqual(page.items[0], {
      id: 10,
      ts: TS + 10,
      from: "bob",
      to: "alice",
      text: "m10",
      state: "read",
    });
    assert.deepEqual([page.more, page.skipped], [true, 0]);
    assert.deepEqual(await s.client.history({ after: 12, limit: 100 }), {
      items: [],
      more: false,
      skipped: 0,
    });
    const missing = await rejectsWith(
      () => s.client.history({ with: "bob", before: 999 }),
      JimError,
      "No such message: 999",
    );
    assert.equal(missing.code, 404);
    assert.deepEqual(asked.map(({ time: _, ...rest }) => rest), [
      { action: "history", with: "bob", before: 13, limit: 3 },
      { action: "history", after: 12, limit: 100 },
      { action: "history", with: "bob", before: 999, limit: 50 },
    ]);
    assert.deepEqual(s.errors, []);
  });

  await t.step("a history_item without id is skipped and counted; the rest arrive", async () => {
    await using s = await session(async (peer) => {
      await peer.receive();
      await peer.send({ response: 202, quantity: 3, more: false });
      await peer.send(item(1));
      await peer.send({ ...item(2), id: undefined });
      await peer.send(item(3));
    });
    const page = await s.client.history({ with: "bob" });
    assert.deepEqual(page.items.map((i) => i.id), [1, 3]);
    assert.equal(page.skipped, 1);
    assert.deepEqual(s.errors, ["Ignored server message: Missing field: id"]);
  });

  await t.step(
    "a quantity that promises more than comes: the page ends at the next reply",
    async () => {
      await using s = await session(async (peer) => {
        await peer.receive();
        await peer.receive();
        await peer.send({ response: 202, quantity: 5, more: false });
        await peer.send(item(1));
        await peer.send(item(2));
        await peer.send({ response: 202, quantity: 0 });
      });
      const [page, contacts] = await Promise.all([s.client.history(), s.client.contacts()]);
      assert.deepEqual([page.items.map((i) => i.id), page.skipped], [[1, 2], 3]);
      assert.deepEqual(contacts, []);
      assert.deepEqual(s.errors, [
        "Ignored server message: history answer ended 3 item(s) short of its quantity",
      ]);
      assert.equal(s.client.connected, true);
    },
  );

  await t.step(
    "a quantity below what comes: the extra items are not taken as another answer",
    async () => {
      await using s = await session(async (peer) => {
        await peer.receive();
        await peer.send({ response: 202, quantity: 1, more: false });
        await peer.send(item(1));
        await peer.send(item(2));
        await peer.receive();
        await peer.send({ response: 202, quantity: 1, more: false });
        await peer.send(item(3));
      });
      assert.deepEqual((await s.client.history()).items.map((i) => i.id), [1]);
      await waitFor(() => s.errors.length === 1, "the stray item reported");
      assert.deepEqual((await s.client.history()).items.map((i) => i.id), [3]);
      assert.deepEqual(s.errors, ["Ignored server message: history_item outside a history answer"]);
    },
  );

  await t.step("a quantity beyond the page's limit reads at most the limit", async () => {
    await using s = await session(async (peer) => {
      await peer.receive();
      await peer.send({ response: 202, quantity: 1_000_000_000, more: true });
      for (let id = 1; id <= 3; id++) await peer.send(item(id));
    });
    const page = await s.client.history({ limit: 2 });
    assert.deepEqual(page.items.map((i) => i.id), [1, 2]);
    await waitFor(() => s.errors.length === 2, "both errors");
    assert.deepEqual(s.errors, [
      "Ignored server message: history answer announces 1000000000 items for a page of at most 2; reading 2",
      "Ignored server message: history_item outside a history answer",
    ]);
  });

  await t.step("bad queries are refused before anything is sent", async () => {
    await using s = await session(async (peer) => {
      const next = await peer.receive();
      assert.equal(next.action, "quit");
      await peer.send({ response: 200 });
    });
    const bad: [Parameters<JimClient["history"]>[0], string][] = [
      [{ limit: 0 }, "Invalid field: limit must be 1 to 100"],
      [{ limit: 101 }, "Invalid field: limit must be 1 to 100"],
      [{ limit: 2.5 }, "Invalid field: limit must be 1 to 100"],
      [{ before: 0 }, "Invalid field: before must be a positive integer below 2^53"],
      [{ after: 2 ** 53 }, "Invalid field: after must be a positive integer below 2^53"],
      [{ before: 5, after: 3 }, "Invalid query: before and after exclude each other"],
      [{ with: "a b" }, "Invalid field: with may hold only"],
    ];
    for (const [query, message] of bad) {
      const error = await rejectsWith(() => s.client.history(query), JimError, message);
      assert.equal(error.code, 400);
    }
    await rejectsWith(() => s.client.markRead("bob", 0), JimError, "Invalid field: id");
    await rejectsWith(() => s.client.markRead("", 5), JimError, "Invalid field: user_id");
    await s.client.quit();
  });
});

Deno.test("JimClient.markRead() sends read and reports the server's 404", async () => {
  const asked: Record<string, unknown>[] = [];
  await using s = await session(async (peer) => {
    asked.push(await peer.receive());
    await peer.send({ response: 200, alert: "OK" });
    asked.push(await peer.receive());
    await peer.send({ response: 404, error: "No such message: 77" });
  });
  await s.client.markRead("bob", 1043);
  const error = await rejectsWith(
    () => s.client.markRead("bob", 77),
    JimError,
    "No such message: 77",
  );
  assert.equal(error.code, 404);
  assert.deepEqual(asked.map(({ time: _, ...rest }) => rest), [
    { action: "read", user_id: "bob", id: 1043 },
    { action: "read", user_id: "bob", id: 77 },
  ]);
  assert.equal(s.client.connected, true);
});
