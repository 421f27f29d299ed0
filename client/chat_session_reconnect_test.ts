/**
 * ChatSession's automatic reconnect against real servers: the server is closed and a new one
 * listens on the same port with the same database, as after a restart.
 */
import { JimServer, setPassword } from "../server/mod.ts";
import { startTestServer, TEST_ITERATIONS, type TestServer } from "../server/testing.ts";
import { assert, tempDir, waitFor } from "./_assert.ts";
import {
  ChatSession,
  type ChatSessionOptions,
  type SessionDisconnectInfo,
} from "./chat_session.ts";
import type { MessageRecord } from "./history.ts";
import { seedDisguise } from "./_fake_peer.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
];
/** Small delays keep the tests quick; nothing asserts on time. */
const FAST = { initialDelay: 10, maxDelay: 80 };

/** Starts a new server on the old one's port with the same storage, as a restart would. */
function restart(srv: TestServer): Promise<JimServer> {
  return JimServer.listen({ host: "127.0.0.1", port: srv.port, storage: srv.storage });
}

/** A session with its events recorded. */
async function watched(options: ChatSessionOptions) {
  const session = new ChatSession(options);
  const disconnects: SessionDisconnectInfo[] = [];
  const events: string[] = [];
  const received: MessageRecord[] = [];
  session.addEventListener("disconnected", (e) => {
    disconnects.push(e.detail);
    events.push(`disconnected:${e.detail.reconnecting}`);
  });
  session.addEventListener("reconnecting", (e) => events.push(`reconnecting:${e.detail.attempt}`));
  session.addEventListener("reconnected", () => events.push("reconnected"));
  session.addEventListener("message", (e) => received.push(e.detail));
  await session.open();
  // The history sync is a request in flight; a notice must not arrive as its answer.
  await session.synced;
  const lines = () => session.serviceLog().map((s) => s.text);
  return { session, disconnects, events, received, lines };
}

Deno.test("ChatSession reconnects after a server restart and messages flow again", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const base = { port: srv.port, dataDir: String(dir), reconnect: FAST };
  const alice = await watched({ ...base, user: "alice", password: "alice-pw" });
  await using _alice = alice.session;
  const bob = await watched({ ...base, user: "bob", password: "bob-pw" });
  await using _bob = bob.session;
  await alice.session.addContact("bob");

  await srv.server.close();
  await waitFor(() => alice.session.reconnecting && bob.session.reconnecting, "both to notice");
  assert.equal(alice.disconnects[0]?.reconnecting, true);
  assert.match(alice.disconnects[0]!.reason, /^Connection lost: .*Server shutting down$/);
  assert.equal(alice.session.connected, false);

  // A send while the server is away fails at once, clearly, and can be retried later.
  const failed = await alice.session.send("bob", "anyone there?");
  assert.equal(failed.status, "failed");
  assert.equal(failed.error, "Not connected: reconnecting to the server");
  await waitFor(
    () => alice.lines().some((l) => l.startsWith("Reconnect attempt")),
    "an attempt to fail while the port is closed",
  );

  await using _restarted = await restart(srv);
  await waitFor(
    () => alice.events.includes("reconnected") && bob.events.includes("reconnected"),
    "both to reconnect",
  );
  assert.equal(alice.session.connected, true);
  assert.equal(alice.session.reconnecting, false);
  assert.deepEqual(alice.session.contacts().map((c) => c.login), ["bob"]);

  const sent = await alice.session.send("bob", "back again");
  assert.equal(sent.status, "delivered");
  const retried = await alice.session.retry(failed.id);
  assert.equal(retried.status, "delivered");
  await waitFor(() => bob.received.length === 2, "bob to receive both");
  assert.deepEqual(bob.received.map((m) => m.text), ["back again", "anyone there?"]);
  const reply = await bob.session.send("alice", "welcome back");
  assert.equal(reply.status, "delivered");
  await waitFor(() => alice.received.length === 1, "alice to receive the reply");

  const lines = alice.lines();
  assert.ok(
    lines.some((l) => /^Reconnecting in \d+(\.\d)? s \(attempt 1\)$/.test(l)),
    lines.join("|"),
  );
  assert.ok(lines.includes("Reconnected"), lines.join("|"));
  assert.equal(lines.filter((l) => l === "Logged in as alice (SCRAM-SHA-256)").length, 2);
  assert.deepEqual(alice.events.filter((e) => !e.startsWith("reconnecting:")), [
    "disconnected:true",
    "reconnected",
  ]);
  assert.ok(!JSON.stringify(alice.session.serviceLog()).includes("alice-pw"));
});

Deno.test("ChatSession does not reconnect after quit() or close()", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const base = { port: srv.port, dataDir: String(dir), reconnect: FAST };
  for (const how of ["quit", "close"] as const) {
    await t.step(how, async () => {
      const alice = await watched({ ...base, user: "alice", password: "alice-pw" });
      await alice.session[how]();
      assert.deepEqual(alice.events, ["disconnected:false"]);
      assert.equal(alice.session.reconnecting, false);
      assert.equal(alice.disconnects[0]!.error, undefined);
      // The server is still there; a timer left to reconnect would fail the op sanitizer.
      await waitFor(() => !srv.server.isOnline("alice"), "the server to see alice leave");
    });
  }
});

Deno.test("ChatSession close() while waiting to reconnect clears the timer", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const alice = await watched({
    port: srv.port,
    dataDir: String(dir),
    user: "alice",
    password: "alice-pw",
    // A timer this long would outlive the test; the sanitizer fails it unless close() clears it.
    reconnect: { initialDelay: 600_000, maxDelay: 600_000 },
  });
  await srv.server.close();
  await waitFor(() => alice.events.includes("reconnecting:1"), "the first attempt to be scheduled");
  await alice.session.close();
  assert.equal(alice.session.reconnecting, false);
  assert.deepEqual(alice.events, ["disconnected:true", "reconnecting:1"]);
});

Deno.test("ChatSession does not reconnect when the account was removed", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const alice = await watched({
    port: srv.port,
    dataDir: String(dir),
    user: "alice",
    password: "alice-pw",
    reconnect: FAST,
  });
  await using _ = alice.session;
  await srv.storage.users.remove("alice");
  assert.deepEqual(await srv.server.endSessionsOfRemovedUsers(), ["alice"]);
  await waitFor(() => alice.disconnects.length === 1, "the session to end");
  assert.deepEqual(alice.events, ["disconnected:false"]);
  assert.equal(alice.disconnects[0]!.notice?.code, 403);
  assert.match(alice.disconnects[0]!.reason, /Account removed$/);
  assert.ok(alice.lines().includes("Not reconnecting: Account removed"), alice.lines().join("|"));
  assert.equal(alice.session.reconnecting, false);
});

Deno.test("ChatSession stops reconnecting when the password was changed", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const alice = await watched({
    port: srv.port,
    dataDir: String(dir),
    user: "alice",
    password: "alice-pw",
    reconnect: FAST,
  });
  await using _ = alice.session;
  await srv.server.close();
  await setPassword(srv.storage.users, "alice", "new-pw", { iterations: TEST_ITERATIONS });
  await using _restarted = await restart(srv);
  await waitFor(() => alice.disconnects.length === 2, "the session to give up");
  const last = alice.disconnects[1]!;
  assert.equal(last.reconnecting, false);
  assert.equal(
    last.reason,
    "Reconnecting stopped: Cannot log in: the password has changed; enter it again",
  );
  assert.ok(alice.lines().includes(last.reason), alice.lines().join("|"));
  assert.equal(alice.session.reconnecting, false);
  assert.ok(!alice.events.includes("reconnected"));
  assert.equal(srv.server.isOnline("alice"), false);
});

Deno.test("ChatSession with reconnect: false ends with the connection", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-reconnect-test-");
  const alice = await watched({
    port: srv.port,
    dataDir: String(dir),
    user: "alice",
    password: "alice-pw",
    reconnect: false,
  });
  await using _ = alice.session;
  await srv.server.close();
  await waitFor(() => alice.disconnects.length === 1, "the session to end");
  assert.deepEqual(alice.events, ["disconnected:false"]);
  assert.ok(alice.disconnects[0]!.error);
  const record = await alice.session.send("bob", "hello?");
  assert.equal(record.status, "failed");
  assert.match(record.error!, /^Connection lost: server closed the connection/);
});

Deno.test("ChatSession does not reconnect after a legacy login: it has nothing to log in with", async () => {
  await using srv = await startTestServer({
    users: [{ login: "alice", password: "alice-pw", legacy: true }],
    legacyAuth: true,
  });
  await using dir = await tempDir("jim-reconnect-test-");
  await using proxy = seedDisguise(srv);
  const alice = await watched({
    port: proxy.port,
    dataDir: String(dir),
    user: "alice",
    password: "alice-pw",
    allowLegacy: true,
    reconnect: FAST,
  });
  await using _ = alice.session;
  assert.equal(alice.session.login?.mechanism, "HMAC-MD5");
  await srv.server.close();
  await waitFor(() => alice.disconnects.length === 1, "the session to end");
  assert.deepEqual(alice.events, ["disconnected:false"]);
  assert.ok(
    alice.lines().includes("Not reconnecting: the legacy login needs the password; connect again"),
    alice.lines().join("|"),
  );
});

Deno.test("ChatSession waits 0.5 s, doubling up to 30 s, with up to half dropped as jitter", async (t) => {
  const ceilings = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000];
  const cases: [string, number, number[]][] = [
    ["no jitter drawn", 0.999_999, ceilings],
    ["all the jitter", 0, ceilings.map((c) => c / 2)],
    ["half of it", 0.5, ceilings.map((c) => (3 * c) / 4)],
  ];
  for (const [name, draw, expected] of cases) {
    await t.step(name, async () => {
      await using srv = await startTestServer({ users: USERS });
      await using dir = await tempDir("jim-reconnect-test-");
      const delays: number[] = [];
      const done = Promise.withResolvers<void>();
      // The delays are taken from here instead of waited for; each attempt runs at once and
      // fails on the closed port, which schedules the next.
      const schedule = (attempt: () => void, delay: number) => {
        delays.push(delay);
        if (delays.length === expected.length) {
          done.resolve();
          return () => {};
        }
        let cancelled = false;
        queueMicrotask(() => cancelled || attempt());
        return () => (cancelled = true);
      };
      const alice = await watched({
        port: srv.port,
        dataDir: String(dir),
        user: "alice",
        password: "alice-pw",
        reconnect: { random: () => draw, schedule },
      });
      await srv.server.close();
      await done.promise;
      await alice.session.close();
      assert.deepEqual(delays, expected);
      const announced = alice.events.filter((e) => e.startsWith("reconnecting:"));
      assert.deepEqual(announced, expected.map((_, i) => `reconnecting:${i + 1}`));
      const said = alice.lines().filter((l) => l.startsWith("Reconnecting in "));
      const seconds = (ms: number) =>
        ms < 10_000 ? Math.round(ms / 100) / 10 : Math.round(ms / 1000);
      assert.deepEqual(
        said,
        expected.map((ms, i) => `Reconnecting in ${seconds(ms)} s (attempt ${i + 1})`),
      );
    });
  }
});
