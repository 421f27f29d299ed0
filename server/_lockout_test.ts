import assert from "node:assert/strict";
import { FailedLogins } from "./_lockout.ts";

Deno.test("FailedLogins locks a key after max failures within the window", () => {
  let clock = 0;
  const failures = new FailedLogins(3, 1000, { now: () => clock });
  failures.fail("login:bob");
  clock = 100;
  failures.fail("login:bob");
  assert.equal(failures.retryAfter("login:bob"), 0);
  clock = 200;
  failures.fail("login:bob");
  assert.equal(failures.retryAfter("login:bob"), 800, "until the first failure ages out");
  assert.equal(failures.retryAfter("login:alice"), 0, "other keys are free");
  clock = 1000;
  assert.equal(failures.retryAfter("login:bob"), 0);
});

Deno.test("FailedLogins.clear() forgets a key", () => {
  const failures = new FailedLogins(1, 1000, { now: () => 0 });
  failures.fail("k");
  assert.ok(failures.retryAfter("k") > 0);
  failures.clear("k");
  assert.equal(failures.retryAfter("k"), 0);
});

Deno.test("FailedLogins bounds its memory by forgetting the oldest keys", () => {
  const failures = new FailedLogins(1, 1000, { now: () => 0, maxKeys: 2 });
  failures.fail("a");
  failures.fail("b");
  failures.fail("c");
  assert.equal(failures.retryAfter("a"), 0);
  assert.ok(failures.retryAfter("b") > 0);
  assert.ok(failures.retryAfter("c") > 0);
});
