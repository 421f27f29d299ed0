import assert from "node:assert/strict";
import { JimClient } from "../client/mod.ts";
import {
  DEFAULT_LIMITS,
  encodeFrame,
  fromBase64,
  legacyDigest,
  legacyStoredHash,
  SCRAM_SHA_256,
  ScramClient,
  toBase64,
} from "../protocol/mod.ts";
import { EventFeed, REDACTED, type ServerEvent } from "./events.ts";
import { LEGACY_DENIED } from "./_login.ts";
import { TAKEN_OVER } from "./_session.ts";
import { JimServer } from "./server.ts";
import { addUser, setPassword } from "./accounts.ts";
import type { UserStore } from "./storage/ports.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";
import {
  connectRaw,
  loginAll,
  ManualClock,
  now,
  type RawConnection,
  resetFloodBlocking,
  ResetPeerSession,
  startTestServer,
} from "./testing.ts";
import { PYTHON3, testWithTools, withTools } from "../tests/_tools.ts";

const USERS = [
  { login: "Alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
  { login: "carol", password: "carol-pw" },
];

function msg(to: string, message: string, extra: Record<string, unknown> = {}) {
  return { action: "msg", time: now(), to, from: "", encoding: "utf-8", message, ...extra };
}

Deno.test("JimServer routes msg to the recipient and sets from to the sender", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  const [alice, bob] = await loginAll(srv, USERS.slice(0, 2));
  await using _a = alice!;
  await using _b = bob!;

  await t.step("delivers with the server's from and the recipient's display case", async () => {
    assert.deepEqual(await alice!.request(msg("BOB", "hi bob")), { response: 200, alert: "OK" });
    const delivered = await bob!.next();
    assert.equal(delivered.action, "msg");
    assert.equal(delivered.from, "Alice");
    assert.equal(delivered.to, "bob");
    assert.equal(delivered.message, "hi bob");
  });

  await t.step("rewrites a forged from", async () => {
    assert.equal((await bob!.request(msg("alice", "x", { from: "carol" }))).response, 200);
    const delivered = await alice!.next();
    assert.equal(delivered.from, "bob");
  });

  await t.step("delivers a message to oneself", async () => {
    await alice!.send(msg("alice", "note to self"));
    const frames = [await alice!.next(), await alice!.next()];
    const delivered = frames.find((f) => f.action === "msg");
    assert.ok(delivered, JSON.stringify(frames));
    assert.equal(delivered.from, "Alice");
    assert.equal(delivered.message, "note to self");
    assert.ok(frames.some((f) => f.response === 200));
  });

  await t.step("stores a message for a known user who is offline, in display case", async () => {
    assert.deepEqual(await alice!.request(msg("Carol", "x")), {
      response: 200,
      alert: "Stored for carol",
    });
  });

  await t.step("answers 404 for an unknown recipient", async () => {
    assert.deepEqual(await alice!.request(msg("nobody", "x")), {
      response: 404,
      error: "No such client: nobody",
    });
  });

  await t.step("keeps Unicode text intact", async () => {
    const text = 'Привет, 世界 👋 "quoted" \\ back';
    assert.equal((await alice!.request(msg("bob", text))).response, 200);
    assert.equal((await bob!.next()).message, text);
  });
});

Deno.test("JimServer keeps contacts with seed texts and online flags", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  const [alice, bob] = await loginAll(srv, USERS.slice(0, 2));
  await using _a = alice!;
  await using _b = bob!;
  const req = (action: string, extra: Record<string, unknown> = {}) =>
    alice!.request({ action, time: now(), ...extra });

  await t.step("starts empty", async () => {
    assert.deepEqual(await req("get_contacts"), { response: 202, quantity: 0 });
  });
  await t.step("adds contacts and refuses duplicates and strangers", async () => {
    assert.equal((await req("add_contact", { user_id: "BOB" })).response, 200);
    assert.equal((await req("add_contact", { user_id: "carol" })).response, 200);
    assert.deepEqual(await req("add_contact", { user_id: "bob" }), {
      response: 409,
      error: "Client already in contacts: bob",
    });
    assert.deepEqual(await req("add_contact", { user_id: "zed" }), {
      response: 404,
      error: "No such client: zed",
    });
  });
  await t.step("lists contacts with online flags after a 202 with quantity", async () => {
    assert.deepEqual(await req("get_contacts"), { response: 202, quantity: 2 });
    assert.deepEqual(await alice!.next(), { action: "contact_list", user_id: "bob", online: true });
    assert.deepEqual(await alice!.next(), {
      action: "contact_list",
      user_id: "carol",
      online: false,
    });
  });
  await t.step("removes contacts and explains what it cannot remove", async () => {
    assert.equal((await req("del_contact", { user_id: "carol" })).response, 200);
    assert.deepEqual(await req("del_contact", { user_id: "carol" }), {
      response: 404,
      error: "Client not in contacts: carol",
    });
    assert.deepEqual(await req("del_contact", { user_id: "zed" }), {
      response: 404,
      error: "No such client: zed",
    });
    assert.deepEqual(await srv.storage.contacts.list("alice"), ["bob"]);
  });
  await t.step("get_users lists every login", async () => {
    assert.deepEqual(await req("get_users"), {
      response: 202,
      users: ["Alice", "bob", "carol"],
    });
  });
});

Deno.test("JimServer logs in with SCRAM-SHA-256", async (t) => {
  await using srv = await startTestServer({ users: USERS });

  await t.step("presence offers a token and the SCRAM mechanism only", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.request({
      action: "presence",
      time: now(),
      user: { account_name: "bob" },
    });
    assert.equal(reply.response, 401);
    assert.equal(reply.error, "Authentication required");
    assert.match(String(reply.token), /^[0-9a-f]{32}$/);
    assert.deepEqual(reply.mechanisms, [SCRAM_SHA_256]);
  });

  await t.step("succeeds with the right password and a verifiable server signature", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.login("alice", "alice-pw"); // verifies the signature inside
    assert.equal(reply.response, 200);
    assert.deepEqual(srv.server.onlineUsers(), ["Alice"]);
  });

  await t.step("answers 402 for a wrong password", async () => {
    await using conn = await connectRaw(srv);
    assert.deepEqual(await conn.login("bob", "wrong"), { response: 402, error: "Access denied" });
    assert.equal((await conn.request({ action: "get_users", time: now() })).response, 401);
  });

  await t.step("answers presence on its own session with 200", async () => {
    await using conn = await connectRaw(srv);
    assert.equal((await conn.login("bob", "bob-pw")).response, 200);
    assert.deepEqual(
      await conn.request({ action: "presence", time: now(), user: { account_name: "BOB" } }),
      { response: 200, alert: "OK" },
    );
    assert.equal(
      (await conn.request({ action: "presence", time: now(), user: { account_name: "alice" } }))
        .response,
      400,
    );
    assert.equal((await conn.scramLogin("bob", "bob-pw")).response, 409);
  });

  await t.step("rejects malformed SCRAM data with 400", async () => {
    await using conn = await connectRaw(srv);
    const send = (data: string, name = "bob") =>
      conn.request({
        action: "authenticate",
        time: now(),
        mechanism: SCRAM_SHA_256,
        user: { account_name: name },
        data,
      });
    assert.equal((await send(toBase64("garbage"))).response, 400);
    assert.equal((await send(toBase64("c=biws,r=abc,p=AAAA"))).response, 400);
    assert.equal((await send(toBase64("n,,n=alice,r=abc"))).response, 400, "user mismatch");
    assert.equal((await send(toBase64(new Uint8Array([0xff, 0xfe])))).response, 400);
    // The session is still usable afterwards.
    assert.equal((await conn.login("bob", "bob-pw")).response, 200);
  });

  await t.step("a wrong client nonce in client-final is refused", async () => {
    await using conn = await connectRaw(srv);
    const client = new ScramClient("alice", "alice-pw");
    const first = await conn.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: "alice" },
      data: toBase64(client.clientFirst()),
    });
    const serverFirst = new TextDecoder().decode(fromBase64(String(first.data)));
    const final = await client.clientFinal(serverFirst);
    const tampered = final.replace(/r=([^,]+)/, (_, nonce) => `r=${nonce}x`);
    const reply = await conn.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: "alice" },
      data: toBase64(tampered),
    });
    assert.equal(reply.response, 400);
  });
});

Deno.test("JimServer logs in the seed's legacy way only when allowed", async (t) => {
  const users = [
    { login: "seed", password: "secret", legacy: true },
    { login: "modern", password: "secret" },
  ];

  await using srv = await startTestServer({ users, legacyAuth: true });

  await t.step("stores the seed's reference value and takes a digest made from it", async () => {
    const vector = "f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31";
    assert.equal((await srv.storage.users.credentials("seed"))?.legacyHash, vector);
    await using conn = await connectRaw(srv);
    const challenge = await conn.request({
      action: "presence",
      time: "1560964883",
      user: { account_name: "seed" },
    });
    const reply = await conn.request({
      action: "authenticate",
      time: "1560964883",
      user: { account_name: "seed", password: legacyDigest(vector, String(challenge.token)) },
    });
    assert.deepEqual(reply, { response: 200, alert: "OK" });
  });

  await t.step("presence offers HMAC-MD5 too", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.request({
      action: "presence",
      time: "1560964883",
      user: { account_name: "seed" },
    });
    assert.deepEqual(reply.mechanisms, [SCRAM_SHA_256, "HMAC-MD5"]);
  });

  await t.step("succeeds with the right digest", async () => {
    await using conn = await connectRaw(srv);
    assert.deepEqual(await conn.legacyLogin("seed", "secret"), { response: 200, alert: "OK" });
  });

  await t.step(
    "answers 402 for a wrong digest, no legacy hash and no such user alike",
    async () => {
      for (const [login, password] of [["seed", "wrong"], ["modern", "secret"], ["nobody", "x"]]) {
        await using conn = await connectRaw(srv);
        assert.deepEqual(await conn.legacyLogin(login!, password!), {
          response: 402,
          error: LEGACY_DENIED,
        }, login);
      }
    },
  );

  await t.step("a token is single-use", async () => {
    await using conn = await connectRaw(srv);
    const challenge = await conn.request({
      action: "presence",
      time: now(),
      user: { account_name: "seed" },
    });
    const digest = legacyDigest(await legacyStoredHash("wrong"), String(challenge.token));
    const auth = {
      action: "authenticate",
      time: now(),
      user: { account_name: "seed", password: digest },
    };
    assert.equal((await conn.request(auth)).response, 402);
    const again = await conn.request(auth);
    assert.equal(again.response, 400);
    assert.match(String(again.error), /presence first/);
  });

  await t.step("a user without a legacy hash gets 402 saying why", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.legacyLogin("modern", "secret");
    assert.equal(reply.response, 402);
    assert.match(String(reply.error), /no legacy password/);
  });

  await t.step("a server without legacy auth answers 402 saying why", async () => {
    await using strict = await startTestServer({ users });
    await using conn = await connectRaw(strict);
    const reply = await conn.legacyLogin("seed", "secret");
    assert.equal(reply.response, 402);
    assert.match(String(reply.error), /legacy HMAC-MD5 login is disabled/);
    // SCRAM still works for the same user.
    assert.equal((await conn.login("seed", "secret")).response, 200);
  });
});

Deno.test("JimServer requires login before anything but presence, authenticate and quit", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  await using conn = await connectRaw(srv);
  for (
    const request of [
      msg("bob", "x"),
      { action: "get_contacts", time: now() },
      { action: "add_contact", time: now(), user_id: "bob" },
      { action: "del_contact", time: now(), user_id: "bob" },
      { action: "get_users", time: now() },
    ]
  ) {
    await t.step(request.action, async () => {
      assert.deepEqual(await conn.request(request), {
        response: 401,
        error: "Authentication required",
      });
    });
  }
  await t.step("quit ends the session", async () => {
    await conn.send({ action: "quit", time: now() });
    assert.deepEqual(await conn.closedByServer(), [{ response: 200, alert: "Bye" }]);
  });
});

Deno.test("JimServer answers bad requests with 400 naming the field and carries on", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  const cases: [string, unknown, RegExp][] = [
    ["unknown action", { action: "dance", time: now() }, /Unknown action: dance/],
    ["missing action", { time: now() }, /Missing field: action/],
    ["missing time", { action: "get_users" }, /Missing field: time/],
    ["wrong time type", { action: "get_users", time: [] }, /Invalid field: time/],
    ["missing to", { action: "msg", time: now(), message: "x" }, /Missing field: to/],
    ["bad to", msg("a b", "x"), /Invalid field: to/],
    ["message not a string", msg("bob", 5 as unknown as string), /Invalid field: message/],
    ["message too long", msg("bob", "x".repeat(4097)), /message exceeds 4096/],
    ["missing user_id", { action: "add_contact", time: now() }, /Missing field: user_id/],
  ];
  for (const [name, request, pattern] of cases) {
    await t.step(name, async () => {
      const reply = await conn.request(request);
      assert.equal(reply.response, 400, JSON.stringify(reply));
      assert.match(String(reply.error), pattern);
    });
  }
  await t.step("framed JSON that does not parse gets 400 and the session goes on", async () => {
    await conn.write('{"action": "get_users", "time": }\n');
    const reply = await conn.next();
    assert.equal(reply.response, 400);
    assert.match(String(reply.error), /Cannot parse frame/);
    assert.equal((await conn.request({ action: "get_users", time: now() })).response, 202);
  });
  await t.step("objects split at any byte and packed together are all answered", async () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ action: "get_users", time: now() }) +
        JSON.stringify({ action: "get_contacts", time: "1560964883" }),
    );
    for (let i = 0; i < bytes.length; i += 7) {
      await conn.write(bytes.subarray(i, i + 7));
    }
    assert.equal((await conn.next()).response, 202);
    assert.deepEqual(await conn.next(), { response: 202, quantity: 0 });
  });
});

Deno.test("JimServer closes the connection on fatal framing errors without harming others", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { maxFrameBytes: 1024 } });
  const [bystander] = await loginAll(srv, USERS.slice(1, 2));
  await using bob = bystander!;
  const cases: [string, Uint8Array | string, RegExp][] = [
    [
      "an oversized frame",
      `{"action":"msg","message":"${"x".repeat(2000)}"}`,
      /exceeds 1024 bytes/,
    ],
    ["a non-object at top level", "[1,2,3]", /expected an object/],
    ["a bare string", '"hello"', /expected an object/],
    [
      "invalid UTF-8",
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      /invalid UTF-8/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    await t.step(name, async () => {
      await using conn = await connectRaw(srv);
      await conn.write(bytes);
      const frames = await conn.closedByServer();
      assert.equal(frames.length, 1, JSON.stringify(frames));
      assert.equal(frames[0]!.response, 400);
      assert.match(String(frames[0]!.error), pattern);
    });
  }
  await t.step("after a login too", async () => {
    const [alice] = await loginAll(srv, USERS.slice(0, 1));
    await using conn = alice!;
    await conn.write("42");
    const frames = await conn.closedByServer();
    assert.equal(frames[0]!.response, 400);
    assert.deepEqual(srv.server.onlineUsers(), ["bob"]);
  });
  assert.equal((await bob.request({ action: "get_users", time: now() })).response, 202);
});

Deno.test("JimServer survives abrupt disconnects at any point", async (t) => {
  const events = new EventFeed();
  using disconnects = events.subscribe({ types: ["disconnect"] });
  await using srv = await startTestServer({ users: USERS, events, limits: { rateLimit: 0 } });
  const [watcher] = await loginAll(srv, USERS.slice(2, 3));
  await using carol = watcher!;
  /** The reason the server gave when the connection from `port` ended. */
  const endOf = async (port: number) => {
    let reason: string | undefined;
    await waitUntil(() => {
      for (let e = disconnects.poll(); e; e = disconnects.poll()) {
        if (e.conn?.port === port) reason = e.message;
      }
      return reason !== undefined;
    });
    return reason!;
  };
  const localPort = (conn: RawConnection) =>
    ((conn.conn as Deno.Conn).localAddr as Deno.NetAddr).port;
  /** Only carol's connection is left, and alice can log in at once. */
  const cleanAfter = async () => {
    await waitUntil(() => srv.server.connectionCount === 1);
    assert.deepEqual(srv.server.onlineUsers(), ["carol"]);
    await using again = await connectRaw(srv);
    assert.equal((await again.login("alice", "alice-pw")).response, 200);
    await again.send({ action: "quit", time: now() });
    await again.closedByServer();
  };

  await t.step("mid-frame", async () => {
    const conn = await connectRaw(srv);
    await conn.write('{"action":"presence","time":1,"user":{"acc');
    const port = localPort(conn);
    conn.close();
    assert.equal(await endOf(port), "Client disconnected");
    await cleanAfter();
  });
  await t.step("mid-authentication", async () => {
    const conn = await connectRaw(srv);
    const client = new ScramClient("alice", "alice-pw");
    const first = await conn.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: "alice" },
      data: toBase64(client.clientFirst()),
    });
    assert.equal(first.response, 401);
    const port = localPort(conn);
    conn.close();
    assert.equal(await endOf(port), "Client disconnected");
    // Nothing of the half-done login is left: not online, no lockout, a fresh login works.
    await cleanAfter();
  });
  await t.step(withTools([PYTHON3], {
    name: "with a real reset (SO_LINGER 0) of a logged-in session with output queued",
    async fn(_t, { python3 }) {
      await using peer = new ResetPeerSession(python3, srv.port, "alice", "alice-pw");
      assert.equal((await peer.loggedIn).response, 200);
      await waitUntil(() => srv.server.isOnline("alice"));
      const session = srv.server.sessions().find((s) => s.user === "Alice")!;
      for (let i = 0; i < 50; i++) {
        await peer.command(`send ${JSON.stringify({ action: "get_users", time: now() })}`);
      }
      await peer.command("reset");
      assert.match(await endOf(session.port), /^Connection lost: .*(reset|Broken pipe)/i);
      assert.equal(srv.server.isOnline("alice"), false);
      await cleanAfter();
    },
  }));
  await t.step("with queued output to a vanished recipient", async () => {
    const [alice, bob] = await loginAll(srv, USERS.slice(0, 2));
    await using _a = alice!;
    bob!.close();
    // Until the server notices, sends succeed or answer 410; never anything else.
    for (let i = 0; i < 20; i++) {
      const reply = await alice!.request(msg("bob", `m${i}`));
      assert.ok([200, 410].includes(reply.response as number), JSON.stringify(reply));
    }
  });
  await t.step("the server and other sessions carry on", async () => {
    assert.equal((await carol.request({ action: "get_users", time: now() })).response, 202);
    await using again = await connectRaw(srv);
    assert.equal((await again.login("alice", "alice-pw")).response, 200);
  });
});

/** Polls `check` every 10 ms until it holds; fails after 5 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("JimServer publishes redacted events to bounded subscribers", async (t) => {
  const events = new EventFeed();
  using sub = events.subscribe({ bufferSize: 10_000 });
  {
    await using srv = await startTestServer({ users: USERS, legacyAuth: true, events });
    const [alice, bob] = await loginAll(srv, USERS.slice(0, 2));
    await using _a = alice!;
    await using _b = bob!;
    await alice!.request(msg("bob", "hello"));
    await bob!.next();
    await using legacy = await connectRaw(srv);
    await legacy.legacyLogin("carol", "carol-pw");
  }
  const seen: ServerEvent[] = [];
  for (let e = sub.poll(); e; e = sub.poll()) seen.push(e);
  const types = new Set(seen.map((e) => e.type));
  await t.step("covers the life of a server", () => {
    for (
      const type of [
        "start",
        "connect",
        "login",
        "request",
        "response",
        "push",
        "disconnect",
        "stop",
      ]
    ) {
      assert.ok(types.has(type as ServerEvent["type"]), `missing ${type}`);
    }
    const seqs = seen.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  });
  await t.step("never shows passwords, digests, tokens or SCRAM data", () => {
    const text = JSON.stringify(seen);
    assert.ok(text.includes(REDACTED));
    for (const e of seen) {
      const payload = e.payload as Record<string, unknown> | undefined;
      if (!payload) continue;
      for (const key of ["data", "token"]) {
        if (key in payload) assert.equal(payload[key], REDACTED);
      }
      const user = payload.user as Record<string, unknown> | undefined;
      if (user && "password" in user) assert.equal(user.password, REDACTED);
    }
    assert.ok(!/"(?:token|data|password)":"(?!\[redacted\])/.test(text), "a secret leaked");
  });
  await t.step("login and connect events name the connection", () => {
    const login = seen.find((e) => e.type === "login")!;
    assert.equal(login.conn?.ip, "127.0.0.1");
    assert.ok(login.conn?.user === "Alice" || login.conn?.user === "bob");
  });
});

Deno.test("JimServer records login history and last seen, written behind the login", async () => {
  await using srv = await startTestServer({ users: USERS });
  {
    await using conn = await connectRaw(srv);
    assert.equal((await conn.login("bob", "bob-pw")).response, 200);
  }
  // History is written behind (10 ms in the fixture); wait for it rather than for time.
  let history = await srv.storage.logins.list({ login: "bob" });
  for (let i = 0; i < 200 && history.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
    history = await srv.storage.logins.list({ login: "bob" });
  }
  assert.equal(history.length, 1);
  assert.equal(history[0]!.ip, "127.0.0.1");
  assert.ok(history[0]!.port > 0);
  const row = (await srv.storage.users.get("bob"))!;
  assert.equal(row.lastIp, "127.0.0.1");
  assert.ok(row.lastSeen !== null && row.lastSeen >= history[0]!.time);
});

Deno.test("JimServer sees users and passwords changed in the store at once", async () => {
  await using srv = await startTestServer({ users: USERS });
  await addUser(srv.storage.users, "dave", "dave-pw", { iterations: 4096 });
  await using dave = await connectRaw(srv);
  assert.equal((await dave.login("dave", "dave-pw")).response, 200);
  await setPassword(srv.storage.users, "bob", "new-pw", { iterations: 4096 });
  await using bob = await connectRaw(srv);
  assert.equal((await bob.login("bob", "bob-pw")).response, 402);
  assert.equal((await bob.login("bob", "new-pw")).response, 200);
});

Deno.test("JimServer close() ends every session and is idempotent", async () => {
  await using srv = await startTestServer({ users: USERS });
  const conns: RawConnection[] = await loginAll(srv, USERS);
  await Promise.all([srv.server.close(), srv.server.close()]);
  for (const conn of conns) {
    const frames = await conn.closedByServer();
    assert.deepEqual(frames, [{ response: 503, error: "Server shutting down" }]);
    await conn[Symbol.asyncDispose]();
  }
  assert.equal(srv.server.connectionCount, 0);
  await assert.rejects(Deno.connect({ hostname: srv.host, port: srv.port }));
});

Deno.test("JimServer ends a logged-in session on quit or its exit alias and frees the login", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  for (const action of ["quit", "exit"]) {
    await t.step(action, async () => {
      const [alice] = await loginAll(srv, USERS.slice(0, 1));
      await using conn = alice!;
      await conn.send({ action, time: now() });
      assert.deepEqual(await conn.closedByServer(), [{ response: 200, alert: "Bye" }]);
      assert.equal(srv.server.isOnline("alice"), false);
    });
  }
});

testWithTools([PYTHON3], {
  name: "JimServer serves a login at once after 1,000 connections reset before accept",
  async fn(_t, { python3 }) {
    const events = new EventFeed();
    using errors = events.subscribe({ types: ["error"] });
    // Time stands still, so the accept errors are reported once in all.
    await using srv = await startTestServer({ users: USERS, events, clock: new ManualClock() });
    // 4 rounds of 250: each stays under Deno's listen backlog of 511.
    for (let round = 0; round < 4; round++) {
      resetFloodBlocking(python3, srv.port, 250);
      // This login queues behind the 250 resets: each reply must come within 1 s.
      await using conn = await connectRaw(srv, { timeoutMs: 1000 });
      assert.equal((await conn.login("bob", "bob-pw")).response, 200, `round ${round}`);
      await conn.send({ action: "quit", time: now() });
      assert.deepEqual(await conn.closedByServer(), [{ response: 200, alert: "Bye" }]);
    }
    const messages: string[] = [];
    for (let e = errors.poll(); e; e = errors.poll()) messages.push(e.message ?? "");
    // The resets did reach accept(): the loop saw them and went on.
    assert.equal(messages.length, 1, JSON.stringify(messages));
    assert.match(messages[0]!, /^Cannot accept a connection: .*not connected/);
  },
});

Deno.test("JimServer never sends a msg larger than its recipient's JimClient accepts", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using sender = alice!;
  await using bob = await JimClient.connect({ host: srv.host, port: srv.port });
  await bob.login("bob", "bob-pw");
  const inbox = bob.messages();
  const max = DEFAULT_LIMITS.maxFrameBytes;
  /** A text of 4-byte characters (so it stays under 4096 characters) padded to `bytes`. */
  const textOf = (bytes: number) => "😀".repeat(Math.floor(bytes / 4)) + "x".repeat(bytes % 4);
  const pushSize = (text: string) =>
    encodeFrame({
      action: "msg",
      time: 1,
      to: "bob",
      from: "Alice",
      encoding: "utf-8",
      message: text,
    }).length;

  await t.step("a request at the limit whose push would not fit is refused with 413", async () => {
    const request = { action: "msg", time: 1, to: "bob", message: "" };
    const text = textOf(max - encodeFrame(request).length);
    assert.equal(encodeFrame({ ...request, message: text }).length, max);
    assert.ok(pushSize(text) > max);
    assert.deepEqual(await sender.request({ ...request, message: text }), {
      response: 413,
      error: `Message not delivered: with sender and encoding added it exceeds ${max} bytes`,
    });
  });
  await t.step("a message whose every form fits is delivered, with its id", async () => {
    // Its longest forms (the carbon, the history item) add the id, the server time and a
    // state to the push.
    const text = textOf(max - pushSize("") - 160);
    assert.equal((await sender.request(msg("bob", text, { time: 1 }))).response, 200);
    const got = await inbox.next();
    assert.equal(got.value?.text, text);
    assert.equal(typeof got.value?.id, "number");
  });
  await t.step("one whose push fits but whose history item would not is refused", async () => {
    const text = textOf(max - pushSize(""));
    assert.equal(pushSize(text), max);
    assert.deepEqual(await sender.request(msg("bob", text, { time: 1 })), {
      response: 413,
      error: `Message not delivered: with sender and encoding added it exceeds ${max} bytes`,
    });
  });
  await t.step("the recipient stayed connected and still receives", async () => {
    assert.equal(bob.connected, true);
    assert.equal((await sender.request(msg("bob", "still there?"))).response, 200);
    assert.equal((await inbox.next()).value?.text, "still there?");
  });
});

/** `count` users with 25-character names, cheap to create (they never log in). */
async function manyUsers(users: UserStore, count: number, prefix = "u"): Promise<string[]> {
  const logins = Array.from(
    { length: count },
    (_, i) => `${prefix}${String(i).padStart(5, "0")}`.padEnd(25, "x"),
  );
  for (const login of logins) await addUser(users, login, "pw", { iterations: 1 });
  return logins;
}

Deno.test("JimServer pages get_users so that no frame exceeds the limit", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  await manyUsers(srv.storage.users, 700);
  const everyone = await srv.storage.users.loginsAfter(undefined, 10_000);
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using raw = alice!;
  await t.step("each page fits in a frame and names where to go on", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 100; page++) {
      const reply = await raw.request({
        action: "get_users",
        time: now(),
        ...(after === undefined ? {} : { after }),
      });
      assert.equal(reply.response, 202);
      assert.ok(encodeFrame(reply).length <= DEFAULT_LIMITS.maxFrameBytes);
      seen.push(...(reply.users as string[]));
      if (reply.next === undefined) break;
      assert.equal(reply.next, seen.at(-1));
      after = String(reply.next);
    }
    assert.ok(everyone.length > 700);
    assert.deepEqual(seen, everyone);
  });
  await t.step("JimClient.users() follows the pages and stays connected", async () => {
    await using bob = await JimClient.connect({ host: srv.host, port: srv.port });
    await bob.login("bob", "bob-pw");
    assert.deepEqual(await bob.users(), everyone);
    assert.equal(bob.connected, true);
  });
  await t.step("a page after an unknown or last login is empty or short", async () => {
    assert.deepEqual(
      await raw.request({ action: "get_users", time: now(), after: everyone.at(-1) }),
      { response: 202, users: [] },
    );
    // "u00695" is no login: the page starts at the first one after it.
    const tail = await raw.request({ action: "get_users", time: now(), after: "u00695" });
    assert.deepEqual(tail.users, everyone.slice(everyone.indexOf("u00695".padEnd(25, "x"))));
    assert.equal((tail.users as string[]).length, 5);
  });
});

Deno.test("JimServer streams a long contact list instead of dropping its reader", async () => {
  const events = new EventFeed();
  using disconnects = events.subscribe({ types: ["disconnect"] });
  await using srv = await startTestServer({
    users: USERS,
    events,
    limits: { rateLimit: 0, maxOutboundBytes: 64 * 1024, maxContacts: 5000 },
  });
  const logins = await manyUsers(srv.storage.users, 1500);
  for (const login of logins) await srv.storage.contacts.add("Alice", login);
  await using alice = await JimClient.connect({ host: srv.host, port: srv.port });
  await alice.login("alice", "alice-pw");
  // About 100 KB of contact_list frames against a 64 KiB queue: sent as the client reads.
  const contacts = await alice.contacts();
  assert.deepEqual(contacts.map((c) => c.login), logins);
  assert.equal(alice.connected, true);
  assert.equal(srv.server.isOnline("alice"), true);
  for (let e = disconnects.poll(); e; e = disconnects.poll()) {
    assert.doesNotMatch(String(e.message), /Slow consumer/);
  }
});

Deno.test("JimServer caps the contacts of one user", async (t) => {
  await using srv = await startTestServer({ users: USERS, limits: { maxContacts: 2 } });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  const add = (user_id: string) => conn.request({ action: "add_contact", time: now(), user_id });
  await t.step("up to the cap", async () => {
    assert.equal((await add("bob")).response, 200);
    assert.equal((await add("carol")).response, 200);
  });
  await t.step("past it: 403 naming the limit, and nothing stored", async () => {
    assert.deepEqual(await add("alice"), {
      response: 403,
      error: "Too many contacts: the limit is 2",
    });
    assert.deepEqual(await srv.storage.contacts.list("alice"), ["bob", "carol"]);
  });
  await t.step("a contact already there is still a 409", async () => {
    assert.equal((await add("bob")).response, 409);
  });
  await t.step("removing one makes room", async () => {
    assert.equal(
      (await conn.request({ action: "del_contact", time: now(), user_id: "bob" })).response,
      200,
    );
    assert.equal((await add("alice")).response, 200);
  });
});

/** The server-first-message's attributes for `login`, from a fresh connection. */
async function serverFirst(target: { host: string; port: number }, login: string) {
  await using conn = await connectRaw(target);
  const presence = await conn.request({
    action: "presence",
    time: now(),
    user: { account_name: login },
  });
  const client = new ScramClient(login, "unused");
  const reply = await conn.request({
    action: "authenticate",
    time: now(),
    mechanism: SCRAM_SHA_256,
    user: { account_name: login },
    data: toBase64(client.clientFirst()),
  });
  const text = new TextDecoder().decode(fromBase64(String(reply.data)));
  const attrs = Object.fromEntries(text.split(",").map((p) => [p[0], p.slice(2)]));
  return { presence, reply, salt: attrs.s!, iterations: Number(attrs.i), keys: Object.keys(attrs) };
}

Deno.test("JimServer answers an unknown login exactly like a known one until the proof", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  // A user made the way `user add` makes them, with the default iteration count.
  await addUser(srv.storage.users, "dave", "dave-pw");
  const [carolOnline] = await loginAll(srv, [USERS[2]!]);
  await using _c = carolOnline!;
  const shape = (reply: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, k === "token" ? "hex" : v]));

  await t.step("presence: the same challenge for known, online and unknown logins", async () => {
    const known = await serverFirst(srv, "dave");
    for (const login of ["zed", "carol", "bob"]) {
      const other = await serverFirst(srv, login);
      assert.deepEqual(shape(other.presence), shape(known.presence), login);
      assert.match(String(other.presence.token), /^[0-9a-f]{32}$/);
    }
  });
  await t.step("SCRAM first step: a stable salt and the default count", async () => {
    const known = await serverFirst(srv, "dave");
    const unknown = await serverFirst(srv, "zed");
    assert.equal(unknown.reply.response, 401);
    assert.deepEqual(unknown.keys, known.keys);
    assert.equal(unknown.iterations, known.iterations);
    assert.equal(fromBase64(unknown.salt).length, fromBase64(known.salt).length);
    assert.equal((await serverFirst(srv, "zed")).salt, unknown.salt, "the same every time");
    assert.equal((await serverFirst(srv, "ZED")).salt, unknown.salt, "in any case");
    assert.notEqual((await serverFirst(srv, "zoe")).salt, unknown.salt, "its own per name");
    // An online login gets its challenge like any other, not 409.
    assert.equal((await serverFirst(srv, "carol")).reply.response, 401);
  });
  await t.step("the salt survives a restart: it comes from a secret in the database", async () => {
    const before = (await serverFirst(srv, "zed")).salt;
    await using storage = SqliteStorage.open(srv.dbPath);
    await using restarted = await JimServer.listen({ storage, port: 0 });
    const again = await serverFirst({ host: srv.host, port: restarted.addr.port }, "zed");
    assert.equal(again.salt, before);
  });
  await t.step("the proof fails with the text of a wrong password", async () => {
    await using wrong = await connectRaw(srv);
    const known = await wrong.login("bob", "wrong-pw");
    await using conn = await connectRaw(srv);
    const client = new ScramClient("zed", "unused");
    const first = await conn.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: "zed" },
      data: toBase64(client.clientFirst()),
    });
    const nonce = new TextDecoder().decode(fromBase64(String(first.data))).split(",")[0]!.slice(2);
    // Any proof: the decoy's keys are HMACs of a secret that no password reproduces.
    const final = `c=biws,r=${nonce},p=${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
    const reply = await conn.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: "zed" },
      data: toBase64(final),
    });
    assert.deepEqual(reply, known);
    assert.deepEqual(reply, { response: 402, error: "Access denied" });
  });
});

Deno.test("JimServer lets a valid login take over a session that does not answer", async (t) => {
  const clock = new ManualClock();
  // One session per account, as the seed: the takeover is what happens at the cap.
  await using srv = await startTestServer({
    users: USERS,
    clock,
    limits: { maxSessionsPerUser: 1 },
  });

  await t.step("a holder that answers the probe keeps its login: 409", async () => {
    const [first] = await loginAll(srv, USERS.slice(0, 1));
    await using holder = first!;
    await using second = await connectRaw(srv);
    const login = second.login("alice", "alice-pw");
    assert.equal((await holder.next()).action, "probe", "probed at once");
    await holder.send({ action: "presence", time: now(), user: { account_name: "alice" } });
    assert.deepEqual(await login, { response: 409, error: "Client already online" });
    assert.deepEqual(await holder.next(), { response: 200, alert: "OK" });
    assert.equal((await holder.request({ action: "get_users", time: now() })).response, 202);
  });
  await t.step("a silent holder is told and closed, and the new login takes over", async () => {
    const [first] = await loginAll(srv, USERS.slice(1, 2));
    await using holder = first!;
    await using second = await connectRaw(srv);
    const login = second.login("bob", "bob-pw");
    assert.equal((await holder.next()).action, "probe");
    // The holder stays silent; the takeover waits for the timeout on the server's clock.
    clock.advance(srv.server.limits.takeoverTimeoutMs);
    assert.equal((await login).response, 200);
    assert.deepEqual(await holder.closedByServer(), [{ response: 403, error: TAKEN_OVER }]);
    assert.equal((await second.request({ action: "get_users", time: now() })).response, 202);
    assert.deepEqual(srv.server.onlineUsers().filter((u) => u === "bob"), ["bob"]);
  });
  await t.step("a live JimClient answers by itself and keeps its session", async () => {
    await using client = await JimClient.connect({ host: srv.host, port: srv.port });
    await client.login("carol", "carol-pw");
    await using other = await connectRaw(srv);
    assert.deepEqual(await other.login("carol", "carol-pw"), {
      response: 409,
      error: "Client already online",
    });
    assert.equal(client.connected, true);
  });
  await t.step("a wrong password never probes the holder", async () => {
    const events = srv.server.events.subscribe({ types: ["push"] });
    try {
      await using other = await connectRaw(srv);
      assert.equal((await other.login("carol", "wrong")).response, 402);
      for (let e = events.poll(); e; e = events.poll()) {
        assert.notEqual((e.payload as Record<string, unknown>)?.action, "probe");
      }
    } finally {
      events.unsubscribe();
    }
  });
});
