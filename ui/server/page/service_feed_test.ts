import assert from "node:assert/strict";
import type { ServiceEntry } from "../_types.ts";
import { ServiceFeed } from "./service_feed.ts";

const entry = (id: number, category: ServiceEntry["category"], message = `n${id}`) => ({
  id,
  time: id,
  type: "gui",
  category,
  message,
});

/** Lets the feed's batch timer run. */
const flushed = () => new Promise((r) => setTimeout(r, 60));

Deno.test("ServiceFeed takes live entries in order, once, and filters them", async (t) => {
  const feed = new ServiceFeed();
  let changes = 0;
  feed.subscribe(() => changes++);
  for (const e of [entry(1, "connections"), entry(2, "errors"), entry(2, "errors")]) {
    feed.add(e);
  }
  feed.add(entry(3, "messages", "hello bob"));
  await flushed();
  await t.step("a burst is one change; a repeated id is skipped", () => {
    assert.equal(changes, 1);
    assert.deepEqual(feed.get().entries.map((e) => e.id), [1, 2, 3]);
    assert.deepEqual(feed.get().counts, {
      connections: 1,
      logins: 0,
      messages: 1,
      errors: 1,
      other: 0,
    });
  });
  await t.step("kinds and text narrow what is visible", () => {
    feed.toggle("errors");
    assert.deepEqual(feed.get().visible.map((e) => e.id), [1, 3]);
    feed.setText("HELLO");
    assert.deepEqual(feed.get().visible.map((e) => e.id), [3]);
    feed.setText("");
    feed.toggle("errors");
    assert.equal(feed.get().visible.length, 3);
  });
  await t.step("pause holds the visible list; resume lets the rest in", async () => {
    feed.pause();
    feed.add(entry(4, "other"));
    await flushed();
    assert.deepEqual(feed.get().visible.map((e) => e.id), [1, 2, 3]);
    assert.equal(feed.get().waiting, 1);
    feed.resume();
    assert.deepEqual(feed.get().visible.map((e) => e.id), [1, 2, 3, 4]);
    assert.equal(feed.get().waiting, 0);
  });
});

Deno.test("ServiceFeed keeps no more than the GUI's limit", async () => {
  const feed = new ServiceFeed();
  for (let i = 1; i <= 10_005; i++) feed.add(entry(i, "other"));
  await flushed();
  const { entries } = feed.get();
  assert.equal(entries.length, 10_000);
  assert.equal(entries[0]!.id, 6);
});
