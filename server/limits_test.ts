import assert from "node:assert/strict";
import { EventFeed, type ServerEvent, type Subscription } from "./events.ts";
import {
  connectRaw,
  loginAll,
  ManualClock,
  now,
  type RawConnection,
  startTestServer,
} from "./testing.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
  { login: "carol", password: "carol-pw" },
];

const getUsers = () => ({ action: "get_users", time: now() });

/** Waits for an event whose message matches `pattern`; fails after 5 s. */
async function waitForEvent(subscription: Subscription, pattern: RegExp): Promise<ServerEvent> {
  let found: ServerEvent | undefined;
  await eventually(() => {
    for (let e = subscription.poll(); e && !found; e = subscription.poll()) {
      if (pattern.test(e.message ?? "")) found = e;
    }
    return found !== undefined;
  });
  return found!;
}

/** Polls `check` every 10 ms until it holds; fails after `ms`. Never asserts on timing. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("limits: a connection that does not log in in time is told and closed", async () => {
  const clock = new ManualClock();
  await using srv = await startTestServer({ users: USERS, clock, limits: { authTimeoutMs: 100 } });
  await using idle = await connectRaw(srv);
  await using loggedIn = await connectRaw(srv);
  assert.equal((await loggedIn.login("alice", "alice-pw")).response, 200);
  // Time stood still while alice logged in; now the deadline passes for both connections.
  clock.advance(100);
  const frames = await idle.closedByServer();
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.response, 401);
  assert.match(String(frames[0]!.error), /Authentication timed out/);
  // The logged-in connection is not subject to the login deadline.
  assert.equal((await loggedIn.request(getUsers())).response, 202);
});

Deno.test("limits: an idle connection is probed, kept when it answers, closed when silent", async () => {
  const clock = new ManualClock();
  await using srv = await startTestServer({
    users: USERS,
    clock,
    limits: { idleProbeMs: 100, probeGraceMs: 150 },
  });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  clock.advance(100);
  const probe = await conn.next();
  assert.equal(probe.action, "probe");
  assert.equal(typeof probe.time, "number");
  // However long the answer takes in real time, only the clock decides.
  assert.deepEqual(
    await conn.request({ action: "presence", time: now(), user: { account_name: "alice" } }),
    { response: 200, alert: "OK" },
  );
  clock.advance(149);
  assert.equal((await conn.request(getUsers())).response, 202, "activity, not a probe");
  clock.advance(100);
  // Silent from now on: another probe, then the server hangs up once the grace is over.
  assert.equal((await conn.next()).action, "probe");
  clock.advance(149);
  assert.equal(srv.server.isOnline("alice"), true);
  clock.advance(1);
  assert.deepEqual(await conn.closedByServer(), []);
  await eventually(() => srv.server.connectionCount === 0);
});

Deno.test("limits: requests over the rate are delayed, not dropped", async () => {
  const clock = new ManualClock();
  await using srv = await startTestServer({
    users: USERS,
    clock,
    limits: { rateLimit: 50, rateBurst: 5, maxBacklog: 100 },
  });
  const [alice] = await loginAll(srv, USERS.slice(0, 1));
  await using conn = alice!;
  // The login used three tokens of the burst; time has not moved, so none came back.
  const pending = () => srv.server.sessions()[0]!.pendingRequests;
  // One write: 25 requests arrive together, 23 over what is left of the burst.
  await conn.write(
    Array.from({ length: 25 }, (_, i) => JSON.stringify({ action: "get_users", time: i })).join(""),
  );
  for (let i = 0; i < 2; i++) assert.equal((await conn.next()).response, 202);
  await eventually(() => pending() === 23);
  assert.equal(conn.buffered, 0, "the rest wait for time to pass");
  // One token comes back every 20 ms at 50 per second.
  clock.advance(20);
  assert.equal((await conn.next()).response, 202);
  await eventually(() => pending() === 22);
  // Time that passes at once buys no more than the burst: the rest stays paced.
  clock.advance(22 * 20);
  for (let i = 0; i < 5; i++) assert.equal((await conn.next()).response, 202);
  await eventually(() => pending() === 17);
  for (let i = 0; i < 17; i++) {
    clock.advance(20);
    assert.equal((await conn.next()).response, 202);
  }
  assert.equal(pending(), 0);
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

Deno.test("limits: failed logins refuse the failing address, never the owner elsewhere", async (t) => {
  const clock = new ManualClock();
  const events = new EventFeed();
  using errors = events.subscribe({ types: ["error"] });
  const waitsItsTurn = (login: string) =>
    waitForEvent(errors, new RegExp(`^Login as ${login} waits`));
  await using srv = await startTestServer({
    users: USERS,
    clock,
    events,
    limits: { maxFailedLogins: 3, maxFailedLoginsPerIp: 5, failedLoginWindowMs: 10_000 },
  });
  const from = (localAddress: string) => connectRaw(srv, { localAddress });
  await using attacker = await from("127.0.0.2");
  await t.step("three failures are answered 402", async () => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await attacker.scramLogin("bob", "wrong"), {
        response: 402,
        error: "Access denied",
      });
    }
  });
  await t.step("then even the right password gets 403 from that address", async () => {
    const reply = await attacker.scramLogin("bob", "bob-pw");
    assert.equal(reply.response, 403);
    assert.match(String(reply.error), /^Too many failed logins: try again in \d+ seconds$/);
    assert.equal(reply.retry_after, 10);
  });
  await t.step("bob logs in from an address that has not been failing", async () => {
    await using owner = await from("127.0.0.3");
    const login = owner.login("bob", "bob-pw");
    // Three failures of bob anywhere slow his account: the proof waits a second, no more.
    await waitsItsTurn("bob");
    clock.advance(1000);
    assert.equal((await login).response, 200);
  });
  await t.step("the failing address may still try other logins, up to its own limit", async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal((await attacker.scramLogin("carol", "wrong")).response, 402);
    }
    await using again = await from("127.0.0.2");
    assert.equal((await again.scramLogin("carol", "carol-pw")).response, 403);
    const legacyTry = await again.request({
      action: "authenticate",
      time: now(),
      user: { account_name: "alice", password: "00" },
    });
    assert.equal(legacyTry.response, 403, "whatever the mechanism");
  });
  await t.step("the refusal lifts when the window passes", async () => {
    // The first failures were 1 s before carol's; the window is 10 s.
    clock.advance(8999);
    assert.equal((await attacker.scramLogin("carol", "carol-pw")).response, 403);
    clock.advance(1);
    assert.equal((await attacker.scramLogin("carol", "carol-pw")).response, 200);
  });
});

Deno.test("limits: an account guessed from many addresses is slowed, not locked", async () => {
  const clock = new ManualClock();
  const events = new EventFeed();
  using errors = events.subscribe({ types: ["error"] });
  await using srv = await startTestServer({ users: USERS, clock, events });
  // The defect: five wrong proofs from five addresses locked the owner out everywhere.
  for (let i = 2; i <= 6; i++) {
    await using guesser = await connectRaw(srv, { localAddress: `127.0.0.${i}` });
    assert.equal((await guesser.scramLogin("alice", "wrong")).response, 402);
  }
  await using owner = await connectRaw(srv, { localAddress: "127.0.0.7" });
  const login = owner.login("alice", "alice-pw");
  // Slowed: the proof waits for its turn, a second after the last failure...
  await waitForEvent(errors, /^Login as alice waits its turn: 5 failed logins/);
  clock.advance(1000);
  // ...and is then answered, with the right password, from an address that never failed.
  assert.equal((await login).response, 200);
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
  // The seed's policy: what no session takes is refused, not stored (by default it is stored;
  // server/messaging_test.ts and handlers/mod_test.ts cover that).
  await using srv = await startTestServer({
    users: USERS,
    events,
    limits: { rateLimit: 0, maxOutboundBytes: 64 * 1024 },
    offlineMessages: "reject",
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
