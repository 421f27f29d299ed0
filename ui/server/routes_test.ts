import assert from "node:assert/strict";
import { JimClient } from "../../client/mod.ts";
import { addUser, JimServer, MAX_PASSWORD_LENGTH, SqliteStorage } from "../../server/mod.ts";
import { connectRaw, now } from "../../server/testing.ts";
import { LiveHub } from "../mod.ts";
import { AdminController, describeListenError } from "./controller.ts";
import { createAdminApp } from "./routes.ts";
import { HIDDEN } from "./service_log.ts";
import type { AdminState, ClientRow, ServerStatus, ServiceReply } from "./_types.ts";

const ORIGIN = "http://127.0.0.1:8080";
const HOST = "127.0.0.1:8080";
const TOKEN = "test-token-0123456789abcdef";

/** A real SQLite storage and real JimServers behind the admin app, driven with app.request(). */
async function adminFixture(options: { start?: boolean } = {}) {
  const storage = SqliteStorage.open(":memory:", { historyFlushMs: 10 });
  const hub = new LiveHub<unknown>();
  const controller = new AdminController({
    storage,
    hub,
    host: "127.0.0.1",
    port: 0,
    legacyAuth: false,
    iterations: 4096,
    historyDelayMs: 10,
    listen: ({ host, port, events }) => JimServer.listen({ host, port, events, storage }),
  });
  const app = createAdminApp({ token: TOKEN, controller, hub, port: 8080 });
  const login = await app.request(`${ORIGIN}/?token=${TOKEN}`, { headers: { host: HOST } });
  assert.equal(login.status, 303);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  if (options.start ?? true) await controller.start();

  async function call(method: string, path: string, body?: unknown, headers = {}) {
    const init: RequestInit = {
      method,
      headers: { host: HOST, cookie, origin: ORIGIN, ...headers },
    };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    const res = await app.request(`${ORIGIN}${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, res };
  }

  return {
    app,
    storage,
    hub,
    controller,
    cookie,
    call,
    async [Symbol.asyncDispose]() {
      hub.close();
      await controller.close();
      await storage.close();
    },
  };
}

Deno.test("admin routes require the cookie, the Host and the Origin", async (t) => {
  await using fx = await adminFixture({ start: false });

  await t.step("no cookie: 401 on every API route and the event stream", async () => {
    for (
      const [method, path] of [
        ["GET", "/api/state"],
        ["GET", "/api/clients"],
        ["GET", "/api/events"],
        ["POST", "/api/server/start"],
        ["POST", "/api/server/stop"],
        ["POST", "/api/clients"],
        ["DELETE", "/api/clients/alice"],
        ["POST", "/api/clients/alice/password"],
      ]
    ) {
      const res = await fx.app.request(`${ORIGIN}${path}`, {
        method,
        headers: { host: HOST, origin: ORIGIN },
      });
      assert.equal(res.status, 401, `${method} ${path}`);
      await res.body?.cancel();
    }
  });
  await t.step("wrong Host: 403 even with the cookie", async () => {
    const res = await fx.call("GET", "/api/state", undefined, { host: "attacker.example:8080" });
    assert.equal(res.status, 403);
  });
  await t.step("foreign Origin: 403 and nothing changes", async () => {
    const res = await fx.call("POST", "/api/clients", { login: "mallory", password: "x" }, {
      origin: "http://attacker.example",
    });
    assert.equal(res.status, 403);
    assert.equal((await fx.storage.users.list()).length, 0);
    const start = await fx.call("POST", "/api/server/start", { host: "127.0.0.1", port: 0 }, {
      origin: "http://attacker.example",
    });
    assert.equal(start.status, 403);
    assert.equal(fx.controller.status().running, false);
  });
  await t.step("the cookie opens the state", async () => {
    const res = await fx.call("GET", "/api/state");
    assert.equal(res.status, 200);
    const state = res.body as AdminState;
    assert.equal(state.server.running, false);
    assert.deepEqual(state.clients, []);
  });
});

Deno.test("POST /api/clients validates every field and changes nothing on error", async (t) => {
  await using fx = await adminFixture({ start: false });
  const add = (body: unknown) => fx.call("POST", "/api/clients", body);

  await t.step("adds a client", async () => {
    const res = await add({ login: "alice", password: "Password5" });
    assert.equal(res.status, 201);
    assert.equal((res.body as ClientRow).login, "alice");
    assert.equal((await fx.storage.users.get("alice"))?.legacy, false);
  });
  await t.step("legacy: true also stores the seed hash", async () => {
    const res = await add({ login: "seedy", password: "Password6", legacy: true });
    assert.equal(res.status, 201);
    assert.equal((await fx.storage.users.get("seedy"))?.legacy, true);
  });

  const bad: [string, unknown, number, RegExp, string | undefined][] = [
    ["empty login", { login: "", password: "p" }, 400, /Login is required/, "login"],
    ["blank login", { login: "   ", password: "p" }, 400, /Login is required/, "login"],
    ["space", { login: "a b", password: "p" }, 400, /contains a space character/, "login"],
    ["bad characters", { login: "x<y>", password: "p" }, 400, /may hold only letters/, "login"],
    ["too long", { login: "a".repeat(26), password: "p" }, 400, /exceeds 25/, "login"],
    [
      "mixed scripts",
      { login: "\u0430lice", password: "p" },
      400,
      /mixes Latin and Cyrillic/,
      "login",
    ],
    [
      "invisible",
      { login: "bob\u034f", password: "p" },
      400,
      /invisible character U\+034F/,
      "login",
    ],
    ["fullwidth duplicate", { login: "\uff41lice", password: "p" }, 409, /taken/, "login"],
    [
      "look-alike",
      { login: "al\u0131ce", password: "p" },
      409,
      /looks like existing user alice/,
      "login",
    ],
    ["duplicate", { login: "alice", password: "p" }, 409, /taken: alice/, "login"],
    ["duplicate other case", { login: "ALICE", password: "p" }, 409, /taken/, "login"],
    ["empty password", { login: "bob", password: "" }, 400, /Password is required/, "password"],
    [
      "long password",
      { login: "bob", password: "p".repeat(MAX_PASSWORD_LENGTH + 1) },
      400,
      /too long/,
      "password",
    ],
    ["control chars", { login: "bob", password: "a\u0000b" }, 400, /bad characters/, "password"],
    ["missing login", { password: "p" }, 400, /Login is required/, "login"],
    ["login not a string", { login: 5, password: "p" }, 400, /Login is required/, "login"],
    ["missing password", { login: "bob" }, 400, /Password is required/, "password"],
    [
      "legacy not boolean",
      { login: "bob", password: "p", legacy: "yes" },
      400,
      /legacy/,
      undefined,
    ],
    ["not JSON", "{login:", 400, /Invalid JSON/, undefined],
    ["an array", "[]", 400, /Invalid JSON/, undefined],
    ["too large", { login: "bob", password: "p".repeat(20_000) }, 413, /too large/, undefined],
  ];
  for (const [name, body, status, error, field] of bad) {
    await t.step(`${name}: ${status}`, async () => {
      const res = await add(body);
      assert.equal(res.status, status);
      assert.match(res.body.error, error);
      assert.equal(res.body.field, field);
      assert.deepEqual((await fx.storage.users.loginsAfter(undefined, 100)).sort(), [
        "alice",
        "seedy",
      ]);
    });
  }
  await t.step("the list has them newest first", async () => {
    const res = await fx.call("GET", "/api/clients");
    assert.deepEqual((res.body as ClientRow[]).map((c) => c.login), ["seedy", "alice"]);
  });
});

Deno.test("DELETE and password reset of clients", async (t) => {
  await using fx = await adminFixture({ start: false });
  await addUser(fx.storage.users, "alice", "old-password", { iterations: 4096 });

  await t.step("reset validates the password", async () => {
    const before = (await fx.storage.users.credentials("alice"))?.scram.salt;
    for (
      const body of [{}, { password: "" }, { password: 7 }, {
        password: "x".repeat(MAX_PASSWORD_LENGTH + 1),
      }]
    ) {
      const res = await fx.call("POST", "/api/clients/alice/password", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.field, "password");
    }
    assert.deepEqual((await fx.storage.users.credentials("alice"))?.scram.salt, before);
  });
  await t.step("reset of an unknown client is 404", async () => {
    const res = await fx.call("POST", "/api/clients/nobody/password", { password: "new" });
    assert.equal(res.status, 404);
    assert.match(res.body.error, /No such client: nobody/);
  });
  await t.step("reset stores new credentials", async () => {
    const before = (await fx.storage.users.credentials("alice"))?.scram.storedKey;
    const res = await fx.call("POST", "/api/clients/alice/password", { password: "new-password" });
    assert.equal(res.status, 200);
    assert.notDeepEqual((await fx.storage.users.credentials("alice"))?.scram.storedKey, before);
  });
  await t.step("remove of an unknown client is 404", async () => {
    const res = await fx.call("DELETE", "/api/clients/nobody");
    assert.equal(res.status, 404);
  });
  await t.step("remove deletes the client", async () => {
    const res = await fx.call("DELETE", "/api/clients/alice");
    assert.equal(res.status, 200);
    assert.equal(await fx.storage.users.get("alice"), undefined);
  });
});

Deno.test("removing an online client from the GUI ends their session with a notice", async () => {
  await using fx = await adminFixture();
  await addUser(fx.storage.users, "alice", "a-pw", { iterations: 4096 });
  await addUser(fx.storage.users, "bob", "b-pw", { iterations: 4096 });
  const server = fx.controller.server as JimServer;
  using disconnects = server.events.subscribe({ types: ["disconnect"] });
  const target = { host: "127.0.0.1", port: fx.controller.status().port };
  await using alice = await connectRaw(target);
  await using bob = await connectRaw(target);
  assert.equal((await alice.login("alice", "a-pw")).response, 200);
  assert.equal((await bob.login("bob", "b-pw")).response, 200);

  const res = await fx.call("DELETE", "/api/clients/alice");
  assert.equal(res.status, 200);
  assert.equal(server.isOnline("alice"), false, "offline as soon as the route answers");
  assert.deepEqual(await alice.closedByServer(), [{ response: 403, error: "Account removed" }]);
  alice.close();
  const event = await disconnects.next();
  assert.equal(event?.conn?.user, "alice");
  assert.equal(event?.message, "Account removed");

  assert.equal(server.isOnline("bob"), true);
  assert.deepEqual(await bob.request({ action: "get_users", time: now() }), {
    response: 202,
    users: ["bob"],
  });
});

Deno.test("start and stop the JIM server from the GUI", async (t) => {
  await using fx = await adminFixture();
  await addUser(fx.storage.users, "alice", "pw", { iterations: 4096 });
  const first = fx.controller.status();
  assert.equal(first.running, true);
  assert.notEqual(first.port, 0, "port 0 is replaced by the bound port");

  await t.step("the server really listens", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: first.port });
    conn.close();
  });
  await t.step("start while running is 409", async () => {
    const res = await fx.call("POST", "/api/server/start", { host: "127.0.0.1", port: 0 });
    assert.equal(res.status, 409);
    assert.match(res.body.error, /already running/);
  });
  await t.step("stop stops it", async () => {
    const res = await fx.call("POST", "/api/server/stop");
    assert.equal(res.status, 200);
    assert.equal((res.body as ServerStatus).running, false);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: first.port }));
  });
  await t.step("stop while stopped is 409", async () => {
    const res = await fx.call("POST", "/api/server/stop");
    assert.equal(res.status, 409);
    assert.match(res.body.error, /not running/);
  });
  await t.step("a busy port is refused as 'port in use' and shown in the state", async () => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    const res = await fx.call("POST", "/api/server/start", { host: "127.0.0.1", port });
    assert.equal(res.status, 409);
    assert.equal(res.body.error, `Cannot start server: port in use (127.0.0.1:${port})`);
    assert.equal(res.body.field, "port");
    const state = (await fx.call("GET", "/api/state")).body as AdminState;
    assert.equal(state.server.running, false);
    assert.match(state.server.error ?? "", /port in use/);
  });
  await t.step("bad addresses are 400 'bad address'", async () => {
    const cases: [unknown, unknown, RegExp][] = [
      ["10.255.255.254", 0, /bad address \(10\.255\.255\.254:0\)/],
      ["no-such-host.invalid", 0, /bad address/],
      ["not a host", 0, /Bad address: host has bad characters/],
      ["", 0, /Host is required/],
      ["127.0.0.1", 70000, /port must be a number from 0 to 65535/],
      ["127.0.0.1", "abc", /port must be a number/],
      ["127.0.0.1", -1, /port must be a number/],
      [5, 0, /host must be a string/],
      ["127.0.0.1", null, /port must be a number/],
    ];
    for (const [host, port, error] of cases) {
      const res = await fx.call("POST", "/api/server/start", { host, port });
      assert.equal(res.status, 400, `${host}:${port}`);
      assert.match(res.body.error, error);
      assert.equal(fx.controller.status().running, false);
    }
  });
  await t.step("starts again on another port with the same users", async () => {
    using probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const res = await fx.call("POST", "/api/server/start", { host: "127.0.0.1", port });
    assert.equal(res.status, 200);
    const status = res.body as ServerStatus;
    assert.deepEqual([status.running, status.port, status.error], [true, port, null]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    const clients = (await fx.call("GET", "/api/clients")).body as ClientRow[];
    assert.deepEqual(clients.map((c) => c.login), ["alice"]);
  });
});

Deno.test("describeListenError() names the three reasons", async (t) => {
  await t.step("permission denied", () => {
    for (const err of [new Deno.errors.PermissionDenied("x"), new Deno.errors.NotCapable("x")]) {
      const mapped = describeListenError(err, "127.0.0.1", 80);
      assert.equal(mapped?.code, 403);
      assert.equal(mapped?.message, "Cannot start server: permission denied (127.0.0.1:80)");
    }
  });
  await t.step("port in use, from a real listener", () => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    let thrown: unknown;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (err) {
      thrown = err;
    }
    assert.equal(describeListenError(thrown, "127.0.0.1", port)?.code, 409);
  });
  await t.step("anything else is not guessed", () => {
    assert.equal(describeListenError(new Error("disk on fire"), "h", 1), null);
  });
});

Deno.test("GET /api/events streams server state changes", async () => {
  await using fx = await adminFixture();
  const res = await fx.app.request(`${ORIGIN}/api/events`, {
    headers: { host: HOST, cookie: fx.cookie },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  let text = "";
  const until = async (needle: string) => {
    while (!text.includes(needle)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `stream ended before ${needle}`);
      text += new TextDecoder().decode(value);
    }
  };
  // The buffer replays the start of the server, then the stop arrives live.
  await until('"type":"start"');
  const stop = await fx.call("POST", "/api/server/stop");
  assert.equal(stop.status, 200);
  await until('"type":"stop"');
  await until('"topic":"server","data":{"running":false');
  await reader.cancel();
});

Deno.test("Service info: kept for reloads, texts hidden by default, exported, cleared", async (t) => {
  await using fx = await adminFixture();
  await addUser(fx.storage.users, "alice", "a-pw", { iterations: 4096 });
  await addUser(fx.storage.users, "bob", "b-pw", { iterations: 4096 });
  const target = { host: "127.0.0.1", port: fx.controller.status().port };
  await using alice = await JimClient.connect(target);
  await using bob = await JimClient.connect(target);
  await alice.login("alice", "a-pw");
  await bob.login("bob", "b-pw");
  const got = new Promise<string>((resolve) =>
    bob.addEventListener("message", (e) => resolve(e.detail.text), { once: true })
  );
  const secret = "the private text, Привет";
  await alice.send("bob", secret);
  assert.equal(await got, secret);
  type Reply = ServiceReply;
  const service = async () => (await fx.call("GET", "/api/service")).body as Reply;
  const waitForPush = async () => {
    const deadline = Date.now() + 5000;
    while (!(await service()).entries.some((e) => e.type === "push")) {
      assert.ok(Date.now() < deadline, "the push reaches Service info");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await waitForPush();

  await t.step("every entry has an id and a category; a message its size only", async () => {
    const reply = await service();
    assert.equal(reply.showBodies, false);
    assert.equal(reply.limit, 10_000);
    const ids = reply.entries.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(JSON.stringify(reply).includes("private text"), false);
    const msgs = reply.entries.filter((e) => e.category === "messages");
    assert.deepEqual(msgs.map((e) => e.type), ["request", "push"]);
    for (const m of msgs) {
      const p = m.payload as Record<string, unknown>;
      assert.equal(p.message, HIDDEN);
      assert.equal(p.to, "bob");
      assert.equal(p.from, "alice");
      assert.deepEqual(m.size, { chars: 24, bytes: 30 });
    }
    assert.ok(reply.entries.some((e) => e.category === "logins" && e.type === "login"));
    assert.ok(reply.entries.some((e) => e.category === "connections" && e.type === "connect"));
  });

  await t.step("?after= returns only newer entries; a bad one is 400", async () => {
    const all = (await service()).entries;
    const last = all[all.length - 2]!.id;
    const newer = (await fx.call("GET", `/api/service?after=${last}`)).body as Reply;
    assert.deepEqual(newer.entries.map((e) => e.id), [all[all.length - 1]!.id]);
    for (const bad of ["x", "-1", "1.5", "00"]) {
      assert.equal((await fx.call("GET", `/api/service?after=${bad}`)).status, 400, bad);
    }
  });

  await t.step("export is JSON lines of what the page sees", async () => {
    const res = await fx.app.request(`${ORIGIN}/api/service/export`, {
      headers: { host: HOST, cookie: fx.cookie },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    assert.match(
      res.headers.get("content-disposition") ?? "",
      /^attachment; filename="jim-service-info-[\dT-]+Z\.jsonl"$/,
    );
    const text = await res.text();
    assert.equal(text.includes("private text"), false);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, (await service()).entries);
  });

  await t.step("showBodies: validated, then texts show, in export too", async () => {
    for (const bad of [{}, { showBodies: "yes" }, { showBodies: 1 }]) {
      assert.equal((await fx.call("POST", "/api/service/settings", bad)).status, 400);
    }
    assert.equal((await service()).showBodies, false, "bad input changed nothing");
    const on = await fx.call("POST", "/api/service/settings", { showBodies: true });
    assert.equal(on.status, 200);
    const reply = await service();
    assert.equal(reply.showBodies, true);
    const texts = reply.entries.filter((e) => e.category === "messages").map((e) =>
      (e.payload as { message: string }).message
    );
    assert.deepEqual(texts, [secret, secret]);
    assert.ok(reply.entries.some((e) => e.message === "Message texts in Service info: shown"));
    const exported = await fx.app.request(`${ORIGIN}/api/service/export`, {
      headers: { host: HOST, cookie: fx.cookie },
    });
    assert.equal((await exported.text()).split(secret).length - 1, 2);
    await fx.call("POST", "/api/service/settings", { showBodies: false });
  });

  await t.step("clear empties it for everyone; ids go on", async () => {
    const before = (await service()).entries.at(-1)!.id;
    assert.equal((await fx.call("POST", "/api/service/clear")).status, 200);
    assert.deepEqual((await service()).entries, []);
    fx.controller.serviceLog.add({ time: Date.now(), type: "gui", message: "after clear" });
    const after = (await service()).entries;
    assert.equal(after.length, 1);
    assert.ok(after[0]!.id > before);
  });
  await alice.close();
  await bob.close();
});

// --- Rooms (issue 13) ----------------------------------------------------------------------

Deno.test("admin routes list rooms and delete one, telling its members online", async (t) => {
  await using fx = await adminFixture();
  for (const name of ["alice", "bob"]) {
    await addUser(fx.storage.users, name, "pw", { iterations: 4096 });
  }
  const target = { host: "127.0.0.1", port: fx.controller.status().port };
  const member = async (name: string) => {
    const conn = await connectRaw(target);
    assert.equal((await conn.login(name, "pw", { capabilities: ["ids", "rooms"] })).response, 200);
    assert.equal(
      (await conn.request({ action: "join", time: now(), room: "#General" })).response,
      200,
    );
    return conn;
  };
  await using alice = await member("alice");
  await alice.next(); // her own joined event
  await using bob = await member("bob");
  await bob.next();
  await alice.next(); // bob joined
  const sent = await alice.request({ action: "msg", time: now(), to: "#general", message: "hi" });
  assert.equal(sent.response, 200);
  await bob.next();

  await t.step("GET /api/rooms lists name, owner, members, messages, last activity", async () => {
    const { status, body } = await fx.call("GET", "/api/rooms");
    assert.equal(status, 200);
    assert.deepEqual(body, [{
      name: "#General",
      owner: "alice",
      members: 2,
      messages: 1,
      lastActivity: sent.ts,
      inviteOnly: false,
    }]);
  });
  await t.step("DELETE /api/rooms/:name deletes it and its members online are told", async () => {
    const { status, body } = await fx.call(
      "DELETE",
      `/api/rooms/${encodeURIComponent("#general")}`,
    );
    assert.deepEqual([status, body], [200, { ok: true }]);
    for (const conn of [alice, bob]) {
      const event = await conn.next();
      assert.deepEqual({ ...event, time: 0 }, {
        action: "room_event",
        time: 0,
        room: "#General",
        event: "deleted",
      });
    }
    assert.deepEqual((await fx.call("GET", "/api/rooms")).body, []);
    assert.deepEqual(
      await alice.request({ action: "msg", time: now(), to: "#general", message: "?" }),
      {
        response: 404,
        error: "No such room: #general",
      },
    );
  });
  await t.step("a missing room is 404, a bad name 400; without the cookie 401", async () => {
    const missing = await fx.call("DELETE", `/api/rooms/${encodeURIComponent("#general")}`);
    assert.deepEqual([missing.status, missing.body.error], [404, "No such room: #general"]);
    const bad = await fx.call("DELETE", `/api/rooms/${encodeURIComponent("a b")}`);
    assert.deepEqual([bad.status, bad.body.error], [400, "Invalid room name: a b"]);
    const res = await fx.app.request(`${ORIGIN}/api/rooms`, { headers: { host: HOST } });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
});
