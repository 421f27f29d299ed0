import assert from "node:assert/strict";
import { Outbox, OutboxFullError, type OutboxItem, type PostOutcome } from "./outbox.ts";

class MemoryStorage {
  readonly map = new Map<string, string>();
  getItem(key: string) {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.map.set(key, value);
  }
  removeItem(key: string) {
    this.map.delete(key);
  }
}

/** A post the test answers by hand, one at a time. */
function manualPost() {
  const calls: { item: OutboxItem; answer: (o: PostOutcome) => void }[] = [];
  let wake: (() => void) | undefined;
  return {
    calls,
    post(item: OutboxItem) {
      return new Promise<PostOutcome>((answer) => {
        calls.push({ item, answer });
        wake?.();
      });
    },
    async next() {
      const seen = calls.length;
      while (calls.length === seen) await new Promise<void>((r) => (wake = r));
      return calls[calls.length - 1]!;
    },
  };
}

const settled = () => new Promise((r) => setTimeout(r, 0));

Deno.test("Outbox sends one at a time in the order typed", async () => {
  const post = manualPost();
  const stored: string[] = [];
  const outbox = new Outbox({
    canSend: () => true,
    post: post.post,
    onStored: (item) => stored.push(item.text),
  });
  const first = post.next();
  outbox.add("me", "bob", "one");
  outbox.add("me", "bob", "two");
  outbox.add("me", "carol", "three");
  const a = await first;
  assert.equal(a.item.text, "one");
  assert.deepEqual(outbox.items.map((i) => i.state), ["sending", "queued", "queued"]);
  assert.equal(post.calls.length, 1, "the second waits for the first");
  for (const text of ["two", "three"]) {
    const next = post.next();
    post.calls[post.calls.length - 1]!.answer({ kind: "stored", message: {} });
    assert.equal((await next).item.text, text);
  }
  post.calls[2]!.answer({ kind: "stored", message: {} });
  await settled();
  assert.deepEqual(stored, ["one", "two", "three"]);
  assert.deepEqual(outbox.items, []);
});

Deno.test("Outbox waits while it may not send and keeps the order after", async () => {
  const post = manualPost();
  let online = false;
  const outbox = new Outbox({ canSend: () => online, post: post.post });
  outbox.add("me", "bob", "one");
  outbox.add("me", "bob", "two");
  await settled();
  assert.equal(post.calls.length, 0);
  online = true;
  const first = post.next();
  outbox.kick();
  // "Not connected" on the way: the item goes back to its place and the queue waits.
  (await first).answer({ kind: "wait" });
  await settled();
  assert.deepEqual(outbox.items.map((i) => [i.text, i.state]), [["one", "queued"], [
    "two",
    "queued",
  ]]);
  assert.equal(post.calls.length, 1);
  const again = post.next();
  outbox.kick();
  const retried = await again;
  assert.equal(retried.item.text, "one");
  assert.equal(retried.item.clientId, post.calls[0]!.item.clientId, "same id: never twice");
});

Deno.test("Outbox marks a refused item failed and goes on; Retry and Discard", async () => {
  const post = manualPost();
  const outbox = new Outbox({ canSend: () => true, post: post.post });
  const first = post.next();
  const bad = outbox.add("me", "bob", "too long");
  outbox.add("me", "bob", "fine");
  const second = post.next();
  (await first).answer({ kind: "refused", error: "Too long: 5,000 characters" });
  (await second).answer({ kind: "stored", message: {} });
  await settled();
  assert.deepEqual(outbox.items.map((i) => [i.text, i.state, i.error]), [
    ["too long", "failed", "Too long: 5,000 characters"],
  ]);
  const third = post.next();
  outbox.retry(bad.clientId);
  (await third).answer({ kind: "refused", error: "still" });
  await settled();
  assert.equal(outbox.discard(bad.clientId)?.text, "too long");
  assert.deepEqual(outbox.items, []);
});

Deno.test("Outbox.settle() drops an item the live stream reported stored", async () => {
  const post = manualPost();
  const outbox = new Outbox({ canSend: () => true, post: post.post });
  const first = post.next();
  const item = outbox.add("me", "bob", "hi");
  const call = await first;
  assert.equal(outbox.settle(item.clientId), true);
  assert.deepEqual(outbox.items, []);
  call.answer({ kind: "stored", message: {} });
  await settled();
  assert.equal(outbox.settle(item.clientId), false);
});

Deno.test("Outbox survives a reload through storage and ignores junk in it", async (t) => {
  const storage = new MemoryStorage();
  const post = manualPost();
  const outbox = new Outbox({ canSend: () => true, post: post.post, storage });
  const first = post.next();
  outbox.add("me", "bob", "one");
  outbox.add("me", "bob", "two");
  await first;
  await t.step("a new page restores both, the one in flight queued again", () => {
    const reloaded = new Outbox({ canSend: () => false, post: post.post, storage });
    assert.deepEqual(reloaded.items.map((i) => [i.text, i.state]), [["one", "queued"], [
      "two",
      "queued",
    ]]);
    assert.equal(reloaded.items[0]!.clientId, outbox.items[0]!.clientId);
  });
  await t.step("broken or foreign data is dropped", () => {
    for (const junk of ["{", "5", '{"a":1}', '[{"clientId":"x"}]', '[null, "s"]']) {
      storage.setItem("jim-chat:outbox", junk);
      assert.deepEqual(new Outbox({ canSend: () => false, post: post.post, storage }).items, []);
    }
  });
  await t.step("an empty queue leaves nothing behind", async () => {
    storage.removeItem("jim-chat:outbox");
    const empty = new Outbox({ canSend: () => false, post: post.post, storage });
    const item = empty.add("me", "bob", "x");
    assert.ok(storage.getItem("jim-chat:outbox"));
    empty.discard(item.clientId);
    assert.equal(storage.getItem("jim-chat:outbox"), null);
    await settled();
  });
});

Deno.test("Outbox is bounded: past the limit add() throws and keeps what it has", () => {
  const outbox = new Outbox({
    canSend: () => false,
    post: () => Promise.resolve({ kind: "wait" }),
    limit: 2,
  });
  outbox.add("me", "bob", "1");
  outbox.add("me", "bob", "2");
  assert.throws(() => outbox.add("me", "bob", "3"), OutboxFullError);
  assert.deepEqual(outbox.items.map((i) => i.text), ["1", "2"]);
});

Deno.test("Outbox sends an account's items only while that account is on", async () => {
  const post = manualPost();
  let on = "alice@h:1";
  const outbox = new Outbox({ canSend: (i) => i.account === on, post: post.post });
  const first = post.next();
  outbox.add("bob@h:1", "carol", "from bob, queued before the switch");
  outbox.add("alice@h:1", "carol", "from alice");
  const a = await first;
  assert.equal(a.item.text, "from alice", "bob's waits while alice is on");
  a.answer({ kind: "stored", message: {} });
  await settled();
  assert.deepEqual(outbox.items.map((i) => i.account), ["bob@h:1"]);
  on = "bob@h:1";
  const second = post.next();
  outbox.kick();
  assert.equal((await second).item.text, "from bob, queued before the switch");
});
