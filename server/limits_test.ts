import assert from "node:assert/strict";
import { EventFeed, type ServerEvent } from "./events.ts";
import { connectRaw, loginAll, now, type RawConnection, startTestServer } from "./testing.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
  { login: "carol", password: "carol-pw" },
];

const getUsers = () => ({ action: "get_users", time: now() });

/** Polls `check` every 10 ms until it holds; fails after `ms`. Never asserts on timing. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("limits: a connection that does not log in in time is told and closed", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { authTimeoutMs: 100 } });
  await using idle = await connectRaw(srv);
  await using loggedIn = await connectRaw(srv);
  assert.equal((await loggedIn.login("alice", "alice-pw")).response, 200);
  const frames = await idle.closedByServer();
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.response, 401);
  assert.match(String(frames[0]!.error), /Authentication timed out/);
  // The logged-in connection is not subject to the login deadline.
  assert.equal((await loggedIn.request(getUsers())).response, 202);
});

Deno.test("limits: an idle connection is probed, kept when it answers, closed when silent", async () => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { idleProbeMs: 100, probeGraceMs: 150 },
  });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  const probe = await conn.next();
  assert.equal(probe.action, "probe");
  assert.equal(typeof probe.time, "number");
  assert.deepEqual(
    await conn.request({ action: "presence", time: now(), user: { account_name: "alice" } }),
    { response: 200, alert: "OK" },
  );
  // Silent from now on: another probe, then the server hangs up.
  assert.equal((await conn.next()).action, "probe");
  assert.deepEqual(await conn.closedByServer(), []);
  await eventually(() => srv.server.connectionCount === 0);
});

Deno.test("limits: requests over the rate are delayed, not dropped", async () => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { rateLimit: 50, rateBurst: 5, maxBacklog: 100 },
  });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  const started = performance.now();
  // One write: 25 requests arrive together, 20 over the burst.
  await conn.write(
    Array.from({ length: 25 }, (_, i) => JSON.stringify({ action: "get_users", time: i })).join(""),
  );
  for (let i = 0; i < 25; i++) assert.equal((await conn.next()).response, 202);
  // 20 requests beyond the burst at 50/s need at least 0.4 s; a lower bound cannot flake.
  assert.ok(performance.now() - started >= 350, "requests were not delayed");
});

Deno.test("limits: a backlog over the limit closes the connection with 413", async () => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { rateLimit: 1, rateBurst: 1, maxBacklog: 10 },
  });
  await using conn = await connectRaw(srv);
  await conn.write(
    Array.from({ length: 30 }, () => JSON.stringify({ action: "get_users", time: 1 })).join(""),
  );
  const frames = await conn.closedByServer();
  assert.deepEqual(frames.map((f) => f.response), [401, 413]);
  assert.match(String(frames[1]!.error), /Too many requests: more than 10 waiting/);
});

Deno.test("limits: rate limit 0 turns limiting off", async () => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { rateLimit: 0, maxBacklog: 10 },
  });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  await conn.write(
    Array.from({ length: 500 }, () => JSON.stringify({ action: "get_users", time: 1 })).join(""),
  );
  for (let i = 0; i < 500; i++) assert.equal((await conn.next()).response, 202);
});

Deno.test("limits: repeated failed logins lock the login and the address out", async (t) => {
  await using srv = await startTestServer({
    users: USERS,
    limits: { maxFailedLogins: 3, failedLoginWindowMs: 400 },
  });
  await using conn = await connectRaw(srv);
  await t.step("three failures are answered 402", async () => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await conn.scramLogin("bob", "wrong"), {
        response: 402,
        error: "Access denied",
      });
    }
  });
  await t.step("then even the right password gets 403 with the wait", async () => {
    const reply = await conn.scramLogin("bob", "bob-pw");
    assert.equal(reply.response, 403);
    assert.match(String(reply.error), /^Too many failed logins: try again in \d+ seconds$/);
    assert.ok(typeof reply.retry_after === "number" && reply.retry_after >= 1);
  });
  await t.step("the address is locked for other logins too", async () => {
    await using other = await connectRaw(srv);
    assert.equal((await other.scramLogin("carol", "carol-pw")).response, 403);
    const legacyTry = await other.request({
      action: "authenticate",
      time: now(),
      user: { account_name: "carol", password: "00" },
    });
    assert.equal(legacyTry.response, 403);
  });
  await t.step("the lock lifts when the window passes", async () => {
    let reply: Record<string, unknown> = {};
    await eventually(async () => {
      reply = await conn.scramLogin("bob", "bob-pw");
      return reply.response !== 403;
    });
    assert.equal(reply.response, 200);
  });
});

Deno.test("limits: connections over the per-IP cap are refused with 503", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { maxConnectionsPerIp: 2 } });
  await using first = await connectRaw(srv);
  await using second = await connectRaw(srv);
  assert.equal((await first.request(getUsers())).response, 401);
  assert.equal((await second.request(getUsers())).response, 401);
  await using third = await connectRaw(srv);
  const frames = await third.closedByServer();
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.response, 503);
  assert.match(String(frames[0]!.error), /Too many connections from 127\.0\.0\.1: the limit is 2/);
  // The others are untouched, and a freed slot can be used again.
  assert.equal((await second.request(getUsers())).response, 401);
  first.close();
  await eventually(() => srv.server.connectionCount === 1);
  await using fourth = await connectRaw(srv);
  assert.equal((await fourth.login("alice", "alice-pw")).response, 200);
});

Deno.test("limits: connections over the total cap are refused with 503", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { maxConnections: 1 } });
  await using first = await connectRaw(srv);
  assert.equal((await first.request(getUsers())).response, 401);
  await using second = await connectRaw(srv);
  const frames = await second.closedByServer();
  assert.deepEqual(frames, [{
    response: 503,
    error: "Too many connections: the server allows 1",
  }]);
  assert.equal((await first.login("alice", "alice-pw")).response, 200);
});

Deno.test("limits: a slow consumer is disconnected and its sender told", async () => {
  const events = new EventFeed();
  using disconnects = events.subscribe({ types: ["disconnect"] });
  await using srv = await startTestServer({
    users: USERS,
    events,
    limits: { rateLimit: 0, maxOutboundBytes: 64 * 1024 },
  });
  const [alice, bob] = await loginAll(srv, USERS.slice(0, 2));
  await using _a = alice!;
  await using sleepy = bob!; // never reads from here on
  const text = "x".repeat(4000);
  const codes = new Map<number, number>();
  let firstError: Record<string, unknown> | undefined;
  // The kernel buffers several MB first; stop as soon as the server gives up on bob.
  for (let i = 0; i < 20_000; i++) {
    const reply = await alice!.request({
      action: "msg",
      time: now(),
      to: "bob",
      from: "alice",
      encoding: "utf-8",
      message: text,
    });
    const code = reply.response as number;
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (code !== 200) {
      firstError = reply;
      break;
    }
  }
  assert.ok(firstError, `never refused: ${JSON.stringify([...codes])}`);
  assert.equal(firstError.response, 503);
  assert.equal(firstError.error, "Message not delivered: bob is not reading fast enough");
  // bob is gone: further messages are 410, and alice's session is unaffected.
  assert.deepEqual(
    await alice!.request({ action: "msg", time: now(), to: "bob", from: "", message: "?" }),
    { response: 410, error: "Client not online: bob" },
  );
  let event: ServerEvent | undefined;
  while ((event = disconnects.poll())) {
    if (event.conn?.user === "bob") break;
  }
  assert.match(String(event?.message), /Slow consumer/);
  sleepy.close();
});

Deno.test("limits: a client that never reads its own replies is disconnected", async () => {
  const events = new EventFeed();
  using disconnects = events.subscribe({ types: ["disconnect"] });
  await using srv = await startTestServer({
    users: USERS,
    events,
    limits: { rateLimit: 0, maxOutboundBytes: 32 * 1024 },
  });
  const [alice, carol] = await loginAll(srv, [USERS[0]!, USERS[2]!]);
  await using _c = carol!;
  await using conn: RawConnection = alice!;
  const frame = new TextEncoder().encode(
    JSON.stringify({ action: "msg", time: 1, to: "alice", message: "y".repeat(4000) }),
  );
  try {
    for (let i = 0; i < 20_000 && srv.server.isOnline("alice"); i++) await conn.write(frame);
  } catch {
    // The server hung up mid-write: that is the point.
  }
  await eventually(() => !srv.server.isOnline("alice"));
  let event: ServerEvent | undefined;
  await eventually(() => {
    event = disconnects.poll();
    return event?.conn?.user === "alice";
  });
  assert.match(String(event?.message), /Slow consumer/);
  assert.equal((await carol!.request(getUsers())).response, 202);
});

Deno.test("limits: messages longer than the configured limit get 400", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { maxMessageLength: 10 } });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  const reply = await conn.request({
    action: "msg",
    time: 1,
    to: "alice",
    message: "x".repeat(11),
  });
  assert.deepEqual(reply, { response: 400, error: "Invalid field: message exceeds 10 characters" });
  await conn.send({ action: "msg", time: 1, to: "alice", message: "x".repeat(10) });
  const frames = [await conn.next(), await conn.next()];
  assert.ok(frames.some((f) => f.response === 200), JSON.stringify(frames));
  assert.ok(frames.some((f) => f.message === "x".repeat(10)), JSON.stringify(frames));
});
