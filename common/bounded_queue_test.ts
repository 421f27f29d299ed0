import assert from "node:assert/strict";
import { BoundedQueue } from "./bounded_queue.ts";

Deno.test("BoundedQueue drops the oldest when full and counts it", async () => {
  const queue = new BoundedQueue<number>(2);
  for (const n of [1, 2, 3]) queue.push(n);
  assert.equal(queue.missed, 1);
  assert.deepEqual([(await queue.next()).value, (await queue.next()).value], [2, 3]);
  const waiting = queue.next();
  queue.push(4);
  assert.deepEqual(await waiting, { value: 4, done: false });
  queue.end();
  assert.equal(queue.push(5), false);
  assert.deepEqual(await queue.next(), { value: undefined, done: true });
  assert.throws(() => new BoundedQueue(0), RangeError);
  assert.throws(() => new BoundedQueue(1.5), RangeError);
});

Deno.test("BoundedQueue with drop-newest keeps the first items and refuses the rest", () => {
  const queue = new BoundedQueue<number>(2, { overflow: "drop-newest" });
  assert.deepEqual([1, 2, 3, 4].map((n) => queue.push(n)), [true, true, false, false]);
  assert.equal(queue.missed, 2);
  assert.deepEqual(queue.drain(), [1, 2]);
  assert.equal(queue.takeMissed(), 2);
  assert.equal(queue.missed, 0);
  assert.equal(queue.push(5), true);
  assert.equal(queue.poll(), 5);
  assert.equal(queue.poll(), undefined);
});

Deno.test("BoundedQueue.wait() wakes on an item, on end, or after its timeout", async (t) => {
  await t.step("item", async () => {
    const queue = new BoundedQueue<string>(4);
    const waiting = queue.wait();
    queue.push("a");
    assert.equal(await waiting, "item");
    assert.equal(await queue.wait(), "item", "an item is already there");
  });
  await t.step("end", async () => {
    const queue = new BoundedQueue<string>(4);
    const waiting = queue.wait(60_000);
    queue.end();
    assert.equal(await waiting, "ended");
    assert.equal(await queue.wait(), "ended");
  });
  await t.step("timeout", async () => {
    const queue = new BoundedQueue<string>(4);
    assert.equal(await queue.wait(1), "timeout");
    // The timed-out wait left no reader behind: a new one may wait.
    const again = queue.wait();
    queue.push("b");
    assert.equal(await again, "item");
  });
  await t.step("one reader at a time", async () => {
    const queue = new BoundedQueue<string>(4);
    const first = queue.next();
    await assert.rejects(queue.next(), /another reader is already waiting/);
    queue.end();
    assert.deepEqual(await first, { value: undefined, done: true });
  });
});

Deno.test("BoundedQueue ends once, calling onEnd, also when a for-await loop is left", async () => {
  let ends = 0;
  const queue = new BoundedQueue<number>(8, { onEnd: () => ends++ });
  for (const n of [1, 2, 3]) queue.push(n);
  for await (const n of queue) {
    assert.equal(n, 1);
    break;
  }
  assert.equal(queue.ended, true);
  assert.equal(queue.size, 0, "return() drops what was queued");
  queue.end();
  assert.equal(ends, 1);
});

Deno.test("BoundedQueue keeps FIFO order across compaction and overflow", () => {
  for (const overflow of ["drop-oldest", "drop-newest"] as const) {
    const queue = new BoundedQueue<number>(300, { overflow });
    const taken: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 40; i++) queue.push(next++);
      for (let i = 0; i < 30; i++) taken.push(queue.poll()!);
    }
    taken.push(...queue.drain());
    assert.equal(taken.length + queue.missed, next, overflow);
    for (let i = 1; i < taken.length; i++) assert.ok(taken[i]! > taken[i - 1]!, overflow);
    assert.ok(queue.missed > 0, `${overflow} overflowed`);
  }
});
