import assert from "node:assert/strict";
import { Envelope } from "./envelope.ts";
import type { Capability, HubSession, Notice, PresenceChange } from "./hub.ts";
import { LocalHub } from "./local_hub.ts";

/**
 * A session as the hub sees it, scripted by the test: whether it takes messages and how it
 * answers a probe. A session that fails a probe or is notified detaches itself, as
 * server/_session.ts does.
 */
class TestSession implements HubSession {
  static #next = 1;
  readonly id = `test#${TestSession.#next++}`;
  readonly caps: ReadonlySet<Capability> = new Set();
  readonly key: string;
  readonly delivered: Envelope[] = [];
  readonly notices: Notice[] = [];
  probes = 0;
  /** What deliver() answers. */
  takes = true;
  /** How the next probe ends; a pending one can be settled with answer(). */
  #answer: ((alive: boolean) => void) | undefined;

  constructor(readonly hub: LocalHub, readonly login: string) {
    this.key = login.toLowerCase();
  }

  deliver(envelope: Envelope): boolean {
    if (!this.takes) {
      this.hub.detach(this);
      return false;
    }
    this.delivered.push(envelope);
    return true;
  }

  notify(notice: Notice): void {
    this.notices.push(notice);
    this.hub.detach(this);
  }

  probe(): Promise<boolean> {
    this.probes++;
    return new Promise((resolve) => (this.#answer = resolve));
  }

  /** Settles the pending probe; a session that stays silent is taken over and leaves. */
  answer(alive: boolean): void {
    if (!alive) this.hub.detach(this);
    this.#answer?.(alive);
  }
}

const hi = () => new Envelope({ action: "probe", time: 1 });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("LocalHub keeps a set of live sessions per account", async (t) => {
  const hub = new LocalHub({ maxSessionsPerAccount: 3 });
  const phone = new TestSession(hub, "Alice");
  const laptop = new TestSession(hub, "Alice");
  const bob = new TestSession(hub, "bob");
  await t.step("attach makes a session reachable", async () => {
    assert.equal(hub.isOnline("alice"), false);
    assert.deepEqual(await hub.attach(phone), { ok: true });
    assert.deepEqual(await hub.attach(laptop), { ok: true });
    assert.deepEqual(await hub.attach(bob), { ok: true });
    assert.deepEqual(await hub.attach(phone), { ok: true }, "attaching twice is harmless");
    assert.equal(hub.isOnline("alice"), true);
    assert.equal(hub.onlineLogin("alice"), "Alice");
    assert.deepEqual(hub.onlineLogins().sort(), ["Alice", "bob"]);
    assert.deepEqual(hub.sessions("alice").map((s) => s.id), [phone.id, laptop.id]);
    assert.equal(hub.sessions().length, 3);
    assert.deepEqual(hub.sessions("nobody"), []);
  });
  await t.step("detach removes one session; the account stays while any is left", () => {
    hub.detach(phone);
    hub.detach(phone);
    assert.equal(hub.isOnline("alice"), true);
    hub.detach(laptop);
    assert.equal(hub.isOnline("alice"), false);
    assert.equal(hub.onlineLogin("alice"), undefined);
    assert.deepEqual(hub.onlineLogins(), ["bob"]);
  });
});

Deno.test("LocalHub.sendToAccount() reaches every live session, once, synchronously", async (t) => {
  const hub = new LocalHub({ maxSessionsPerAccount: 3 });
  const [a1, a2, a3] = [1, 2, 3].map(() => new TestSession(hub, "alice"));
  for (const s of [a1!, a2!, a3!]) await hub.attach(s);
  await t.step("to all of them, the same envelope", () => {
    const envelope = hi();
    assert.deepEqual(hub.sendToAccount("alice", envelope), { sessions: 3, delivered: 3 });
    for (const s of [a1!, a2!, a3!]) assert.deepEqual(s.delivered, [envelope]);
  });
  await t.step("except one session", () => {
    assert.deepEqual(hub.sendToAccount("alice", hi(), { except: a2!.id }), {
      sessions: 2,
      delivered: 2,
    });
    assert.equal(a2!.delivered.length, 1);
  });
  await t.step("a session too slow to take it is counted and leaves", () => {
    a1!.takes = false;
    assert.deepEqual(hub.sendToAccount("alice", hi()), { sessions: 3, delivered: 2 });
    assert.deepEqual(hub.sessions("alice").map((s) => s.id), [a2!.id, a3!.id]);
  });
  await t.step("nobody online", () => {
    assert.deepEqual(hub.sendToAccount("bob", hi()), { sessions: 0, delivered: 0 });
  });
});

Deno.test("LocalHub reports presence when an account's first session comes and last goes", async () => {
  const hub = new LocalHub({ maxSessionsPerAccount: 2 });
  const changes: PresenceChange[] = [];
  const off = hub.on("presence", (change) => changes.push(change));
  const [one, two] = [new TestSession(hub, "Alice"), new TestSession(hub, "Alice")];
  await hub.attach(one);
  await hub.attach(two);
  hub.detach(one);
  hub.detach(two);
  assert.deepEqual(changes, [
    { login: "Alice", key: "alice", online: true },
    { login: "Alice", key: "alice", online: false },
  ]);
  off();
  await hub.attach(one);
  assert.equal(changes.length, 2, "nothing after the listener is removed");
});

Deno.test("LocalHub keeps routing when a presence listener throws", async () => {
  const hub = new LocalHub();
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    hub.on("presence", () => {
      throw new Error("listener bug");
    });
    const alice = new TestSession(hub, "alice");
    assert.deepEqual(await hub.attach(alice), { ok: true });
    assert.equal(hub.isOnline("alice"), true);
  } finally {
    globalThis.removeEventListener("error", onError);
  }
  assert.match(String(reported[0]), /listener bug/);
});

Deno.test("LocalHub at the session cap: a session that answers keeps its place", async () => {
  const hub = new LocalHub();
  const holder = new TestSession(hub, "alice");
  await hub.attach(holder);
  const newcomer = new TestSession(hub, "alice");
  const attaching = hub.attach(newcomer);
  await tick();
  assert.equal(holder.probes, 1);
  holder.answer(true);
  assert.deepEqual(await attaching, { ok: false, reason: "full" });
  assert.deepEqual(hub.sessions("alice").map((s) => s.id), [holder.id]);
});

Deno.test("LocalHub at the session cap: a silent session is taken over", async () => {
  const hub = new LocalHub();
  const holder = new TestSession(hub, "alice");
  await hub.attach(holder);
  const newcomer = new TestSession(hub, "alice");
  const attaching = hub.attach(newcomer);
  await tick();
  holder.answer(false);
  assert.deepEqual(await attaching, { ok: true });
  assert.deepEqual(hub.sessions("alice").map((s) => s.id), [newcomer.id]);
});

Deno.test("LocalHub at the session cap: logins meeting one silent session share its probe", async () => {
  const hub = new LocalHub();
  const holder = new TestSession(hub, "alice");
  await hub.attach(holder);
  const [first, second] = [new TestSession(hub, "alice"), new TestSession(hub, "alice")];
  const attachingFirst = hub.attach(first);
  const attachingSecond = hub.attach(second);
  await tick();
  assert.equal(holder.probes, 1, "one probe for both");
  holder.answer(false);
  // The first takes the place; the second then meets the first, which answers.
  await tick();
  first.answer(true);
  const results = await Promise.all([attachingFirst, attachingSecond]);
  assert.deepEqual(results, [{ ok: true }, { ok: false, reason: "full" }]);
  assert.deepEqual(hub.sessions("alice").map((s) => s.id), [first.id]);
});

Deno.test("LocalHub with a cap of 2: the third login probes both and takes a silent one's place", async (t) => {
  const hub = new LocalHub({ maxSessionsPerAccount: 2 });
  const [a, b] = [new TestSession(hub, "alice"), new TestSession(hub, "alice")];
  await hub.attach(a);
  await hub.attach(b);
  await t.step("both answer: full", async () => {
    const attaching = hub.attach(new TestSession(hub, "alice"));
    await tick();
    assert.deepEqual([a.probes, b.probes], [1, 1]);
    a.answer(true);
    b.answer(true);
    assert.deepEqual(await attaching, { ok: false, reason: "full" });
  });
  await t.step("one is silent: it is replaced without waiting for the other", async () => {
    const third = new TestSession(hub, "alice");
    const attaching = hub.attach(third);
    await tick();
    b.answer(false);
    assert.deepEqual(await attaching, { ok: true });
    assert.deepEqual(hub.sessions("alice").map((s) => s.id).sort(), [a.id, third.id].sort());
    a.answer(true);
  });
});

Deno.test("LocalHub.attach() gives up when its signal aborts or the hub closes", async (t) => {
  await t.step("aborted while probing", async () => {
    const hub = new LocalHub();
    const holder = new TestSession(hub, "alice");
    await hub.attach(holder);
    const controller = new AbortController();
    const attaching = hub.attach(new TestSession(hub, "alice"), { signal: controller.signal });
    await tick();
    controller.abort();
    holder.answer(false);
    assert.deepEqual(await attaching, { ok: false, reason: "aborted" });
    assert.equal(hub.isOnline("alice"), false);
  });
  await t.step("aborted before", async () => {
    const hub = new LocalHub();
    const attaching = hub.attach(new TestSession(hub, "alice"), { signal: AbortSignal.abort() });
    assert.deepEqual(await attaching, { ok: false, reason: "aborted" });
  });
  await t.step("closed", async () => {
    const hub = new LocalHub();
    await hub.attach(new TestSession(hub, "alice"));
    await hub.close();
    await hub.close();
    assert.equal(hub.isOnline("alice"), false);
    assert.deepEqual(await hub.attach(new TestSession(hub, "bob")), {
      ok: false,
      reason: "aborted",
    });
  });
});

Deno.test("LocalHub.endSessions() notifies every session of one account", async () => {
  const hub = new LocalHub({ maxSessionsPerAccount: 2 });
  const sessions = [new TestSession(hub, "alice"), new TestSession(hub, "alice")];
  const bob = new TestSession(hub, "bob");
  for (const s of [...sessions, bob]) await hub.attach(s);
  const notice = { code: 403, text: "Account removed" };
  assert.equal(hub.endSessions("alice", notice), 2);
  for (const s of sessions) assert.deepEqual(s.notices, [notice]);
  assert.deepEqual(bob.notices, []);
  assert.equal(hub.isOnline("alice"), false);
  assert.equal(hub.endSessions("alice", notice), 0);
});

Deno.test("LocalHub.endSession() ends one session of one account, and only a live one", async () => {
  const hub = new LocalHub({ maxSessionsPerAccount: 2 });
  const [phone, laptop] = [new TestSession(hub, "alice"), new TestSession(hub, "alice")];
  const bob = new TestSession(hub, "bob");
  for (const s of [phone, laptop, bob]) await hub.attach(s);
  const notice = { code: 403, text: "Session ended by the administrator" };
  assert.equal(hub.endSession("bob", phone.id, notice), false, "another account's id");
  assert.equal(hub.endSession("alice", phone.id, notice), true);
  assert.deepEqual(phone.notices, [notice]);
  assert.deepEqual(laptop.notices, []);
  assert.deepEqual(hub.sessions("alice").map((s) => s.id), [laptop.id]);
  assert.equal(hub.endSession("alice", phone.id, notice), false, "gone already");
  assert.equal(hub.endSession("nobody", "1", notice), false);
  assert.deepEqual(phone.notices, [notice], "told once");
});

Deno.test("LocalHub refuses a session cap below 1", () => {
  for (const max of [0, -1, 1.5, NaN]) {
    assert.throws(() => new LocalHub({ maxSessionsPerAccount: max }), RangeError);
  }
});

Deno.test("Envelope encodes its message once, however many sessions get it", () => {
  const envelope = new Envelope({
    action: "msg",
    time: 1,
    to: "bob",
    from: "alice",
    encoding: "utf-8",
    message: "hi",
  });
  const frame = envelope.frame();
  assert.equal(envelope.frame(), frame, "the same bytes, not a second encoding");
  assert.equal(
    new TextDecoder().decode(frame),
    '{"action":"msg","time":1,"to":"bob","from":"alice","encoding":"utf-8","message":"hi"}\n',
  );
});
