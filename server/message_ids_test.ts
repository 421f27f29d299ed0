import assert from "node:assert/strict";
import { ID_EPOCH_MS, MessageIds, NODE_BITS } from "./message_ids.ts";

function clockAt(ms: number) {
  const clock = { t: ms, now: () => clock.t };
  return clock;
}

Deno.test("MessageIds.next() increases whether the clock moves on, stands or goes back", async (t) => {
  const clock = clockAt(ID_EPOCH_MS + 1_000_000);
  const ids = new MessageIds(clock);
  await t.step("the clock standing still", () => {
    const got = Array.from({ length: 1000 }, () => ids.next());
    for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!);
  });
  await t.step("the clock going back an hour", () => {
    const before = ids.next();
    clock.t -= 3_600_000;
    assert.ok(ids.next() > before);
  });
  await t.step("the clock moving on: ids follow it", () => {
    clock.t += 7_200_000;
    const id = ids.next();
    assert.equal(id, (clock.t - ID_EPOCH_MS) * 4096);
  });
});

Deno.test("MessageIds: nodes never collide, and a restart goes on above the last stored id", () => {
  const clock = clockAt(ID_EPOCH_MS + 5);
  const a = new MessageIds(clock, { node: 1 });
  const b = new MessageIds(clock, { node: 2 });
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    for (const id of [a.next(), b.next()]) {
      assert.ok(!seen.has(id));
      seen.add(id);
    }
  }
  for (const id of seen) assert.ok(Number.isSafeInteger(id) && id > 0);
  assert.ok([...seen].every((id) => [1, 2].includes(id % 2 ** NODE_BITS)));
  // Restarted with a clock far behind: still above what was stored.
  const last = Math.max(...seen);
  const restarted = new MessageIds(clockAt(0), { node: 1, after: last });
  const next = restarted.next();
  assert.ok(next > last);
  assert.equal(next % 2 ** NODE_BITS, 1);
});

Deno.test("MessageIds refuses a node index outside 0 to 15", () => {
  for (const node of [-1, 16, 1.5]) {
    assert.throws(() => new MessageIds(clockAt(0), { node }), RangeError);
  }
});

Deno.test("MessageIds stays below 2^53 for decades", () => {
  const ids = new MessageIds(clockAt(Date.UTC(2090, 0, 1)));
  assert.ok(Number.isSafeInteger(ids.next()));
});
