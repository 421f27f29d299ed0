import assert from "node:assert/strict";
import type { Envelope } from "./envelope.ts";
import type { Capability, HubSession, Notice } from "./hub.ts";
import { LocalHub } from "./local_hub.ts";

let next = 1;

/** A hub session that records what it gets; `caps` says whether it asked for presence. */
class Watcher implements HubSession {
  readonly id = `w#${next++}`;
  readonly key: string;
  readonly got: Envelope[] = [];
  takes = true;

  constructor(
    readonly hub: LocalHub,
    readonly login: string,
    readonly caps: ReadonlySet<Capability> = new Set(["presence"]),
  ) {
    this.key = login.toLowerCase();
  }

  deliver(envelope: Envelope): boolean {
    if (!this.takes) {
      this.hub.detach(this);
      return false;
    }
    this.got.push(envelope);
    return true;
  }

  notify(_notice: Notice): void {
    this.hub.detach(this);
  }

  probe(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** The presence pushes, as "login status". */
  get heard(): string[] {
    return this.got.map((e) => {
      const m = e.message as { action: string; user: { account_name: string; status: string } };
      assert.equal(m.action, "presence");
      return `${m.user.account_name} ${m.user.status}`;
    });
  }
}

const SEED: ReadonlySet<Capability> = new Set();
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function online(hub: LocalHub, login: string, caps?: ReadonlySet<Capability>) {
  const s = new Watcher(hub, login, caps);
  assert.deepEqual(await hub.attach(s), { ok: true });
  return s;
}

Deno.test("LocalHub presence push: contacts hear the first session come and the last go", async (t) => {
  await using hub = hubOf({ maxSessionsPerAccount: 2 });
  const alice = await online(hub, "alice");
  hub.watchPresence("alice", ["bob", "carol"]);
  await t.step("first session online, the second says nothing", async () => {
    const bob1 = await online(hub, "Bob");
    const bob2 = await online(hub, "Bob");
    await tick();
    assert.deepEqual(alice.heard, ["Bob online"]);
    hub.detach(bob1);
    await tick();
    assert.deepEqual(alice.heard, ["Bob online"], "one session of bob is still there");
    hub.detach(bob2);
    await tick();
    assert.deepEqual(alice.heard, ["Bob online", "Bob offline"]);
  });
  await t.step("the push frame is the protocol's", () => {
    const frame = JSON.parse(new TextDecoder().decode(alice.got[0]!.frame()));
    assert.equal(typeof frame.time, "number");
    assert.deepEqual({ ...frame, time: 0 }, {
      action: "presence",
      time: 0,
      type: "status",
      user: { account_name: "Bob", status: "online" },
    });
  });
  await t.step("someone not watched is not news", async () => {
    await online(hub, "dave");
    await tick();
    assert.equal(alice.heard.length, 2);
  });
});

Deno.test("LocalHub presence push is coalesced per watcher per tick", async (t) => {
  await using hub = hubOf();
  const alice = await online(hub, "alice");
  hub.watchPresence("alice", ["bob", "carol"]);
  await t.step("a flap within one tick sends nothing", async () => {
    const bob = await online(hub, "bob");
    hub.detach(bob);
    await tick();
    assert.deepEqual(alice.heard, []);
  });
  await t.step("online, offline, online within a tick sends the final state once", async () => {
    const carol = await online(hub, "carol");
    hub.detach(carol);
    await online(hub, "carol");
    await tick();
    assert.deepEqual(alice.heard, ["carol online"]);
  });
  await t.step("many watchers share one encoded frame per change", async () => {
    const watchers = [];
    for (let i = 0; i < 50; i++) {
      const w = await online(hub, `w${i}`);
      hub.watchPresence(w.key, ["eve"]);
      watchers.push(w);
    }
    await online(hub, "eve");
    await tick();
    const envelopes = new Set(watchers.map((w) => w.got[0]));
    assert.equal(envelopes.size, 1);
    assert.ok(watchers.every((w) => w.heard.join() === "eve online"));
  });
});

Deno.test("LocalHub presence push reaches only sessions that asked for it", async (t) => {
  await using hub = hubOf({ maxSessionsPerAccount: 2 });
  await t.step("a seed session never gets a push, nor makes a watch", async () => {
    const seed = await online(hub, "alice", SEED);
    hub.watchPresence("alice", ["bob"]);
    assert.equal(hub.watcherCount("bob"), 0, "no watch without a presence session");
    await online(hub, "bob");
    await tick();
    assert.deepEqual(seed.got, []);
  });
  await t.step(
    "beside a jim session of the same account, the seed one still gets none",
    async () => {
      const seed = hub.sessions("alice").length;
      assert.equal(seed, 1);
      const jim = await online(hub, "alice");
      hub.watchPresence("alice", ["carol"]);
      await online(hub, "carol");
      await tick();
      assert.deepEqual(jim.heard, ["carol online"]);
      hub.detach(jim);
      assert.deepEqual(hub.watchedBy("alice"), [], "the watch ends with the last presence session");
    },
  );
});

Deno.test("LocalHub presence watches follow contacts, sessions and removals", async (t) => {
  await using hub = hubOf();
  const alice = await online(hub, "alice");
  hub.watchPresence("alice", ["bob", "alice"]);
  await t.step("one does not watch oneself", () => {
    assert.deepEqual(hub.watchedBy("alice"), ["bob"]);
  });
  await t.step("unwatch (del_contact) stops the pushes", async () => {
    hub.unwatchPresence("alice", ["bob"]);
    await online(hub, "bob");
    await tick();
    assert.deepEqual(alice.heard, []);
    assert.equal(hub.watcherCount("bob"), 0);
  });
  await t.step("a removed account is nobody's contact any more", async () => {
    hub.watchPresence("alice", ["gone"]);
    assert.equal(hub.watcherCount("gone"), 1);
    hub.forgetPresence("gone");
    assert.equal(hub.watcherCount("gone"), 0);
    assert.deepEqual(hub.watchedBy("alice"), []);
    await online(hub, "gone"); // a new account of the same name
    await tick();
    assert.deepEqual(alice.heard, []);
    hub.forgetPresence("never-watched");
  });
  await t.step("a watcher that goes offline leaves no watch and gets nothing queued", async () => {
    hub.watchPresence("alice", ["zed"]);
    await online(hub, "zed");
    hub.detach(alice);
    await tick();
    assert.deepEqual(alice.heard, []);
    assert.equal(hub.watcherCount("zed"), 0);
    hub.watchPresence("alice", ["zed"]);
    assert.equal(hub.watcherCount("zed"), 0, "an offline account watches nothing");
  });
  await t.step("a watcher too slow for its push leaves; the others still hear it", async () => {
    const slow = await online(hub, "slow");
    const fine = await online(hub, "fine");
    hub.watchPresence("slow", ["x", "y"]);
    hub.watchPresence("fine", ["x"]);
    slow.takes = false;
    await online(hub, "x");
    await online(hub, "y");
    await tick();
    assert.equal(hub.isOnline("slow"), false);
    assert.deepEqual(fine.heard, ["x online"]);
    assert.equal(hub.watcherCount("y"), 0);
  });
});

Deno.test("LocalHub.close() drops presence pushes that wait for the tick", async () => {
  const hub = new LocalHub();
  const alice = await online(hub, "alice");
  hub.watchPresence("alice", ["bob"]);
  await online(hub, "bob");
  await hub.close(); // the sanitizer fails the test if the flush timer survived this
  await tick();
  assert.deepEqual(alice.got, []);
});

function hubOf(options?: { maxSessionsPerAccount?: number }): LocalHub {
  return new LocalHub(options);
}
