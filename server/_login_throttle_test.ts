import assert from "node:assert/strict";
import { addressKey, LoginThrottle, type Turn } from "./_login_throttle.ts";
import { ManualClock } from "./testing.ts";

const POLICY = {
  windowMs: 300_000,
  maxPerPair: 5,
  maxPerAddress: 20,
  slowAfter: 5,
  firstDelayMs: 1000,
  maxDelayMs: 30_000,
};

function setup() {
  const clock = new ManualClock(1_000_000);
  return { clock, throttle: new LoginThrottle(POLICY, clock) };
}

/** A turn being waited for, with whether it has been granted yet. */
function pending(promise: Promise<Turn>) {
  let turn: Turn | undefined;
  let error: unknown;
  promise.then((t) => (turn = t), (e) => (error = e));
  return { turn: () => turn, error: () => error };
}

/** Lets granted turns' promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

async function fail(throttle: LoginThrottle, ip: string, login: string) {
  (await throttle.admit(ip, login)).failed();
}

Deno.test("LoginThrottle never refuses an account's owner for others' failures", async (t) => {
  await t.step("five wrong proofs from five addresses leave the sixth unrefused", async () => {
    const { throttle } = setup();
    for (let i = 1; i <= 5; i++) await fail(throttle, `192.0.2.${i}`, "alice");
    assert.equal(throttle.refusal("192.0.2.6", "alice"), undefined);
    assert.equal(throttle.accountFailures("alice"), 5);
  });
  await t.step("a clean address waits out the delay, then goes ahead", async () => {
    const { clock, throttle } = setup();
    for (let i = 1; i <= 5; i++) await fail(throttle, `192.0.2.${i}`, "alice");
    const owner = pending(throttle.admit("192.0.2.6", "alice"));
    await settle();
    assert.equal(owner.turn(), undefined, "the account is slowed after five failures");
    clock.advance(999);
    throttle.tick();
    await settle();
    assert.equal(owner.turn(), undefined);
    clock.advance(1);
    throttle.tick();
    await settle();
    assert.ok(owner.turn()?.waited);
    owner.turn()!.succeeded();
  });
  await t.step("an address trusted for the account is never delayed", async () => {
    const { throttle } = setup();
    for (let i = 1; i <= 5; i++) await fail(throttle, `192.0.2.${i}`, "alice");
    const byStore = pending(throttle.admit("198.51.100.9", "alice", { trusted: true }));
    await settle();
    assert.equal(byStore.turn()?.waited, false);
    byStore.turn()!.succeeded();
    // That success makes the address trusted from now on, without the store's say.
    const again = pending(throttle.admit("198.51.100.9", "alice"));
    await settle();
    assert.equal(again.turn()?.waited, false);
  });
});

Deno.test("LoginThrottle refuses a failing pair and a failing address", async (t) => {
  await t.step("five failures of one login from one address refuse that pair only", async () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 4; i++) await fail(throttle, "192.0.2.1", "bob");
    assert.equal(throttle.refusal("192.0.2.1", "bob"), undefined);
    clock.advance(10_000);
    await fail(throttle, "192.0.2.1", "bob");
    assert.deepEqual(throttle.refusal("192.0.2.1", "bob"), {
      scope: "login",
      retryAfterMs: 300_000 - 10_000,
    });
    assert.equal(throttle.refusal("192.0.2.1", "carol"), undefined, "other logins");
    assert.equal(throttle.refusal("192.0.2.2", "bob"), undefined, "other addresses");
    clock.advance(300_000 - 10_000);
    assert.equal(throttle.refusal("192.0.2.1", "bob"), undefined, "the window passed");
  });
  await t.step("twenty failures from one address refuse it for every login", async () => {
    const { throttle } = setup();
    for (let i = 0; i < 20; i++) await fail(throttle, "192.0.2.1", `user${i}`);
    assert.equal(throttle.refusal("192.0.2.1", "someone")?.scope, "address");
    assert.equal(throttle.refusal("192.0.2.2", "someone"), undefined);
  });
  await t.step("a success clears the pair's failures", async () => {
    const { throttle } = setup();
    for (let i = 0; i < 4; i++) await fail(throttle, "192.0.2.1", "bob");
    (await throttle.admit("192.0.2.1", "bob")).succeeded();
    await fail(throttle, "192.0.2.1", "bob");
    assert.equal(throttle.refusal("192.0.2.1", "bob"), undefined);
  });
  await t.step("IPv6 addresses count per /64", async () => {
    const { throttle } = setup();
    for (let i = 0; i < 5; i++) await fail(throttle, `2001:db8:0:1::${i + 1}`, "bob");
    assert.equal(throttle.refusal("2001:db8:0:1:ffff::9", "bob")?.scope, "login");
    assert.equal(throttle.refusal("2001:db8:0:2::1", "bob"), undefined);
  });
});

Deno.test("LoginThrottle slows a guessed account with growing delays, one proof at a time", async (t) => {
  await t.step("each failure past the fifth doubles the wait", async () => {
    const { clock, throttle } = setup();
    const delays: number[] = [];
    for (let i = 1; i <= 9; i++) {
      const turn = pending(throttle.admit(`192.0.2.${i}`, "alice"));
      let waited = 0;
      for (;;) {
        throttle.tick();
        await settle();
        if (turn.turn()) break;
        clock.advance(500);
        waited += 500;
      }
      delays.push(waited);
      turn.turn()!.failed();
    }
    assert.deepEqual(delays, [0, 0, 0, 0, 0, 1000, 2000, 4000, 8000]);
  });
  await t.step("the delay stops growing at the cap", async () => {
    const { clock, throttle } = setup();
    for (let i = 1; i <= 12; i++) {
      clock.advance(30_000);
      throttle.tick();
      await fail(throttle, `192.0.2.${i}`, "alice");
    }
    const next = pending(throttle.admit("192.0.2.99", "alice"));
    clock.advance(29_999);
    throttle.tick();
    await settle();
    assert.equal(next.turn(), undefined);
    clock.advance(1);
    throttle.tick();
    await settle();
    assert.ok(next.turn());
  });
  await t.step("a burst on a fresh account checks at most five proofs at once", async () => {
    const { throttle } = setup();
    const burst = Array.from({ length: 8 }, (_, i) => pending(throttle.admit(`10.0.0.${i}`, "al")));
    await settle();
    assert.equal(burst.filter((b) => b.turn()).length, 5);
    for (const b of burst.slice(0, 5)) b.turn()!.release();
    await settle();
    assert.equal(burst.filter((b) => b.turn()).length, 8, "released turns let the rest go");
  });
  await t.step("many logins at once from one clean address all go ahead", async () => {
    const { throttle } = setup();
    const logins = Array.from(
      { length: 200 },
      (_, i) => pending(throttle.admit("10.0.0.1", `u${i}`)),
    );
    await settle();
    assert.equal(logins.filter((l) => l.turn()).length, 200);
  });
  await t.step("a failing address checks no more at once than it has failures left", async () => {
    const { throttle } = setup();
    for (let i = 0; i < 18; i++) await fail(throttle, "10.0.0.1", `v${i}`);
    const burst = Array.from({ length: 5 }, (_, i) => pending(throttle.admit("10.0.0.1", `w${i}`)));
    await settle();
    assert.equal(burst.filter((b) => b.turn()).length, 2);
    burst[0]!.turn()!.succeeded();
    await settle();
    assert.equal(burst.filter((b) => b.turn()).length, 3, "a finished check frees a place");
  });
  await t.step("attempts from clean addresses go before failing ones", async () => {
    const { clock, throttle } = setup();
    for (let i = 1; i <= 5; i++) await fail(throttle, `192.0.2.${i}`, "alice");
    await fail(throttle, "203.0.113.1", "zed"); // this address has failed before
    const failing = pending(throttle.admit("203.0.113.1", "alice"));
    const clean = pending(throttle.admit("198.51.100.1", "alice"));
    clock.advance(1000);
    throttle.tick();
    await settle();
    assert.ok(clean.turn(), "the clean address went first");
    assert.equal(failing.turn(), undefined, "one proof at a time");
    clean.turn()!.release();
    await settle();
    assert.ok(failing.turn());
  });
  await t.step("an aborted wait leaves the queue", async () => {
    const { clock, throttle } = setup();
    for (let i = 1; i <= 5; i++) await fail(throttle, `192.0.2.${i}`, "alice");
    const abort = new AbortController();
    const gone = pending(throttle.admit("198.51.100.1", "alice", { signal: abort.signal }));
    const next = pending(throttle.admit("198.51.100.2", "alice"));
    abort.abort(new Error("Connection closed"));
    await settle();
    assert.match(String(gone.error()), /Connection closed/);
    clock.advance(1000);
    throttle.tick();
    await settle();
    assert.ok(next.turn());
  });
});

Deno.test("addressKey() groups IPv6 by /64 and unwraps IPv4-mapped addresses", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:0db8:0001:0002:0:0:0:1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
});

Deno.test("LoginThrottle shares outcomes: record() counts another node's, onOutcome() tells its own", async (t) => {
  await t.step("each checked proof is told once, with the address as counted", async () => {
    const { throttle } = setup();
    const told: unknown[] = [];
    const off = throttle.onOutcome((outcome) => told.push(outcome));
    await fail(throttle, "2001:db8:1:2::7", "alice");
    (await throttle.admit("192.0.2.1", "alice")).succeeded();
    (await throttle.admit("192.0.2.1", "bob")).release();
    off();
    await fail(throttle, "192.0.2.1", "alice");
    assert.deepEqual(told, [
      { failed: true, address: "2001:db8:1:2::/64", login: "alice" },
      { failed: false, address: "192.0.2.1", login: "alice" },
    ]);
  });
  await t.step("failures recorded from elsewhere refuse the pair here", () => {
    const { throttle } = setup();
    const told: unknown[] = [];
    throttle.onOutcome((outcome) => told.push(outcome));
    for (let i = 0; i < POLICY.maxPerPair; i++) {
      throttle.record({ failed: true, address: "192.0.2.9", login: "alice" });
    }
    assert.equal(throttle.refusal("192.0.2.9", "alice")?.scope, "login");
    assert.equal(throttle.accountFailures("alice"), POLICY.maxPerPair);
    assert.deepEqual(told, [], "what came from elsewhere is not told again");
  });
  await t.step("a success recorded from elsewhere trusts the address", () => {
    const { throttle } = setup();
    throttle.record({ failed: false, address: "192.0.2.9", login: "alice" });
    assert.equal(throttle.trusts("192.0.2.9", "alice"), true);
  });
});
