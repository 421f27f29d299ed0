import assert from "node:assert/strict";
import { TokenBucket } from "./_rate_limiter.ts";

Deno.test("TokenBucket allows a burst, then paces at the rate", () => {
  let clock = 0;
  const bucket = new TokenBucket(10, 3, () => clock);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.equal(bucket.take(), 100);
  clock += 100;
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 100);
  clock += 10_000;
  // Idle time refills only up to the burst.
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.ok(bucket.take() > 0);
});

Deno.test("TokenBucket with rate 0 never delays", () => {
  const bucket = new TokenBucket(0, 0, () => 0);
  for (let i = 0; i < 1000; i++) assert.equal(bucket.take(), 0);
});
