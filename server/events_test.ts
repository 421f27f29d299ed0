import assert from "node:assert/strict";
import { EventFeed, redact, REDACTED } from "./events.ts";

Deno.test("redact() hides every secret-bearing field at any depth", () => {
  const input = {
    action: "authenticate",
    user: { account_name: "bob", password: "d1g3st" },
    data: "c2NyYW0=",
    token: "00112233",
    nested: [{ proof: "p", Digest: "x", keep: 1 }],
    bytes: new Uint8Array([1]),
  };
  assert.deepEqual(redact(input), {
    action: "authenticate",
    user: { account_name: "bob", password: REDACTED },
    data: REDACTED,
    token: REDACTED,
    nested: [{ proof: REDACTED, Digest: REDACTED, keep: 1 }],
    bytes: REDACTED,
  });
  assert.equal(input.user.password, "d1g3st", "the original is untouched");
});

Deno.test("EventFeed publishes nothing and builds nothing without subscribers", () => {
  const feed = new EventFeed();
  assert.equal(feed.wants("request"), false);
  let built = false;
  const payload = {
    get secret() {
      built = true;
      return "x";
    },
  };
  feed.publish("request", { payload });
  assert.equal(built, false);
});

Deno.test("EventFeed subscriptions filter by type, number events and redact", () => {
  const feed = new EventFeed();
  using logins = feed.subscribe({ types: ["login"] });
  using all = feed.subscribe();
  assert.equal(feed.wants("login"), true);
  feed.publish("request", { payload: { user: { password: "pw" } } });
  feed.publish("login", { message: "alice logged in", conn: { id: 1, ip: "::1", port: 2 } });
  assert.equal(logins.size, 1);
  assert.equal(logins.poll()?.message, "alice logged in");
  const first = all.poll()!;
  const second = all.poll()!;
  assert.deepEqual(first.payload, { user: { password: REDACTED } });
  assert.equal(second.seq, first.seq + 1);
});

Deno.test("EventFeed drops events for a slow subscriber and counts them", () => {
  const feed = new EventFeed();
  using slow = feed.subscribe({ bufferSize: 3 });
  using fast = feed.subscribe({ bufferSize: 100 });
  for (let i = 0; i < 10; i++) feed.publish("error", { message: `e${i}` });
  assert.equal(slow.size, 3);
  assert.equal(slow.missed, 7);
  assert.deepEqual([slow.poll(), slow.poll(), slow.poll()].map((e) => e?.message), [
    "e0",
    "e1",
    "e2",
  ]);
  assert.equal(fast.missed, 0);
  assert.equal(fast.size, 10);
});

Deno.test("Subscription iterates until unsubscribed, also through an AbortSignal", async () => {
  const feed = new EventFeed();
  const controller = new AbortController();
  const sub = feed.subscribe({ signal: controller.signal });
  const seen: string[] = [];
  const reader = (async () => {
    for await (const event of sub) seen.push(event.message ?? "");
  })();
  feed.publish("start", { message: "a" });
  await Promise.resolve();
  feed.publish("stop", { message: "b" });
  controller.abort();
  await reader;
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(sub.closed, true);
  assert.equal(feed.subscriberCount, 0);
  assert.equal(feed.wants("start"), false);
  sub.unsubscribe();
});

Deno.test("redact() keeps a __proto__ key as a plain field", () => {
  const parsed = JSON.parse('{"__proto__":{"password":"x","polluted":true},"a":1}');
  const copy = redact(parsed) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal((copy as { polluted?: boolean }).polluted, undefined);
  assert.deepEqual(Object.keys(copy), ["__proto__", "a"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value, {
    password: REDACTED,
    polluted: true,
  });
});
