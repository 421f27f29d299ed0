import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { NATS_SERVER, type NatsServer, startNats } from "../../tests/_services.ts";
import { testWithTools } from "../../tests/_tools.ts";
import { Envelope } from "./envelope.ts";
import type { Capability, HubSession, LoginOutcome, Notice, PresenceChange } from "./hub.ts";
import { NatsHub, type NatsHubOptions } from "./nats_hub.ts";
import { nodeKey, slotKey } from "./_cluster_names.ts";

/** A session as a hub sees it, scripted by the test, that detaches itself as Session does. */
class TestSession implements HubSession {
  static #next = 1;
  readonly id: string;
  readonly caps: ReadonlySet<Capability>;
  readonly key: string;
  readonly delivered: Envelope[] = [];
  readonly notices: Notice[] = [];
  probes = 0;
  /** How probes are answered. */
  alive = true;

  constructor(readonly hub: NatsHub, readonly login: string, caps: Capability[] = []) {
    this.id = `${hub.node}#${TestSession.#next++}`;
    this.caps = new Set(caps);
    this.key = login.toLowerCase();
  }

  deliver(envelope: Envelope): boolean {
    this.delivered.push(envelope);
    return true;
  }

  notify(notice: Notice): void {
    this.notices.push(notice);
    this.hub.detach(this);
  }

  probe(): Promise<boolean> {
    this.probes++;
    if (!this.alive) this.hub.detach(this);
    return Promise.resolve(this.alive);
  }

  texts(): string[] {
    return this.delivered.map((e) => (e.message as { message?: string }).message ?? "");
  }
}

/** Fast leases, so that a crashed node is noticed within a second. */
const FAST = { heartbeatMs: 100, leaseTtlMs: 600, timeoutMs: 1000, takeoverTimeoutMs: 500 };

function hubOf(nats: NatsServer, node: string, options: Partial<NatsHubOptions> = {}) {
  return NatsHub.connect({ servers: nats.url, node, ...FAST, ...options });
}

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (message: string) =>
  new Envelope({
    action: "msg",
    time: 1,
    to: "alice",
    from: "bob",
    encoding: "utf-8",
    message,
  });

testWithTools([NATS_SERVER], {
  name: "NatsHub routes, shows presence and caps sessions across nodes",
  async fn(t) {
    await using nats = await startNats();
    await using a = await hubOf(nats, "node-a");
    await using b = await hubOf(nats, "node-b");
    const changes: PresenceChange[] = [];
    b.on("presence", (change) => changes.push(change));

    const alice = new TestSession(a, "Alice");
    await t.step("a session on one node is online on every node", async () => {
      assert.deepEqual(await a.attach(alice), { ok: true });
      await eventually("alice online on b", () => b.isOnline("alice"));
      assert.equal(b.onlineLogin("alice"), "Alice");
      assert.deepEqual(b.onlineLogins(), ["Alice"]);
      assert.deepEqual(changes, [{ login: "Alice", key: "alice", online: true }]);
      assert.deepEqual(b.sessions("alice"), [{ id: alice.id, login: "Alice", node: "node-a" }]);
      assert.deepEqual(a.sessions(), [{ id: alice.id, login: "Alice", node: "node-a" }]);
    });

    await t.step("a message from another node reaches the session, once", async () => {
      const result = b.sendToAccount("alice", text("hi from b"));
      assert.deepEqual(result, { sessions: 1, delivered: 1, remote: 1 });
      await eventually("delivery", () => alice.delivered.length === 1);
      assert.deepEqual(alice.texts(), ["hi from b"]);
      // Its own node delivers locally, and publishes nothing: no other node has alice.
      assert.deepEqual(a.sendToAccount("alice", text("local")), { sessions: 1, delivered: 1 });
      assert.deepEqual(alice.texts(), ["hi from b", "local"]);
      assert.deepEqual(b.sendToAccount("nobody", text("x")), { sessions: 0, delivered: 0 });
    });

    await t.step("at the cap, a login elsewhere probes the holder across nodes", async () => {
      const second = new TestSession(b, "alice");
      assert.deepEqual(await b.attach(second), { ok: false, reason: "full" });
      assert.equal(alice.probes, 1, "the holder on node a was probed");
      alice.alive = false;
      assert.deepEqual(await b.attach(second), { ok: true });
      assert.equal(alice.probes, 2);
      assert.equal(a.sessions("alice").length, 1, "node a sees the new holder only");
      await eventually("a sees the session on b", () => a.sessions("alice")[0]?.node === "node-b");
      b.detach(second);
      await eventually("alice offline on a", () => !a.isOnline("alice"));
      assert.deepEqual(changes.map((c) => c.online), [true, false]);
    });

    await t.step("endSessions() ends the account's sessions on every node", async () => {
      const carol = new TestSession(a, "carol");
      await a.attach(carol);
      await eventually("carol on b", () => b.isOnline("carol"));
      assert.equal(b.endSessions("carol", { code: 403, text: "Account removed" }), 1);
      await eventually("carol notified", () => carol.notices.length === 1);
      assert.deepEqual(carol.notices, [{ code: 403, text: "Account removed" }]);
      await eventually("carol offline on b", () => !b.isOnline("carol"));
    });

    await t.step("a room message reaches members' sessions that take rooms, anywhere", async () => {
      const ann = new TestSession(a, "ann", ["rooms"]);
      const seed = new TestSession(a, "sid");
      const ben = new TestSession(b, "ben", ["rooms"]);
      for (const s of [ann, seed]) await a.attach(s);
      await b.attach(ben);
      await eventually("ann and sid on b", () => b.isOnline("ann") && b.isOnline("sid"));
      const members = ["ann", "sid", "ben", "nobody"];
      const result = b.sendToRoom("lobby", members, text("to the lobby"), { except: ben.id });
      assert.deepEqual(result, { sessions: 1, delivered: 1, remote: 1 });
      await eventually("ann got it", () => ann.texts().length === 1);
      assert.deepEqual(ann.texts(), ["to the lobby"]);
      assert.deepEqual(ben.texts(), [], "the sender's own session was excepted");
      assert.deepEqual(seed.texts(), [], "a seed session never gets room traffic");
      assert.deepEqual(a.sendToRoom("lobby", ["ben"], text("to ben")), {
        sessions: 1,
        delivered: 1,
        remote: 1,
      });
      await eventually("ben got it", () => ben.texts().length === 1);
      for (const s of [ann, seed]) a.detach(s);
      b.detach(ben);
    });

    await t.step("login outcomes reach every other node", async () => {
      const heard: LoginOutcome[] = [];
      const off = b.on("login", (outcome) => heard.push(outcome));
      a.shareLogin({ failed: true, address: "192.0.2.1", login: "alice" });
      await eventually("the outcome on b", () => heard.length === 1);
      assert.deepEqual(heard, [{ failed: true, address: "192.0.2.1", login: "alice" }]);
      off();
    });

    await t.step("a node that leaves takes its users offline at once", async () => {
      const dave = new TestSession(a, "dave");
      await a.attach(dave);
      await eventually("dave on b", () => b.isOnline("dave"));
      await a.close();
      await eventually("dave offline on b", () => !b.isOnline("dave"));
    });
  },
});

testWithTools([NATS_SERVER], {
  name: "NatsHub takes a crashed node's users offline within the lease TTL",
  async fn(t) {
    await using nats = await startNats();
    await using b = await hubOf(nats, "node-b");
    const nc = await connect({ servers: nats.url });
    try {
      const kv = await new Kvm(jetstream(nc)).open("jim-sessions");
      // What a node leaves behind when it is killed: a heartbeat and a lease, never renewed.
      await kv.put(nodeKey("ghost"), JSON.stringify({ node: "ghost", ts: Date.now() }));
      const lease = { node: "ghost", id: "ghost#1", login: "Erin", since: Date.now() };
      await kv.put(slotKey("erin", 0), JSON.stringify(lease));

      await t.step("its sessions count until the heartbeat is older than the TTL", async () => {
        await eventually("erin online", () => b.isOnline("erin"));
        await eventually("erin offline", () => !b.isOnline("erin"));
      });
      await t.step("and their leases are deleted, so that the slot is free", async () => {
        await eventually("the lease gone", async () => {
          const entry = await kv.get(slotKey("erin", 0));
          return entry?.operation !== "PUT";
        });
        const erin = new TestSession(b, "erin");
        assert.deepEqual(await b.attach(erin), { ok: true });
        assert.deepEqual(b.sessions("erin"), [{ id: erin.id, login: "erin", node: "node-b" }]);
      });
      await t.step("a slot held by a node that does not answer is taken over", async () => {
        await kv.put(slotKey("frank", 0), JSON.stringify({ ...lease, login: "Frank" }));
        await eventually("frank online", () => b.isOnline("frank"));
        const frank = new TestSession(b, "frank");
        assert.deepEqual(await b.attach(frank), { ok: true }, "no responders: taken over");
      });
    } finally {
      await nc.close();
    }
  },
});

testWithTools([NATS_SERVER], {
  name: "NatsHub goes on alone while NATS is down and resyncs when it is back",
  async fn(t) {
    await using nats = await startNats();
    await using a = await hubOf(nats, "node-a");
    await using b = await hubOf(nats, "node-b");
    const alice = new TestSession(a, "alice");
    const bob = new TestSession(b, "bob");
    await a.attach(alice);
    await b.attach(bob);
    await eventually("bob on a", () => a.isOnline("bob"));
    let resyncs = 0;
    a.on("resync", () => resyncs++);

    await t.step("other nodes' users count as offline; local delivery goes on", async () => {
      await nats.stop();
      await eventually("bob offline on a", () => !a.isOnline("bob"));
      assert.equal(a.connected, false);
      assert.deepEqual(a.sendToAccount("bob", text("for bob")), { sessions: 0, delivered: 0 });
      assert.deepEqual(a.sendToAccount("alice", text("local")), { sessions: 1, delivered: 1 });
      assert.deepEqual(alice.texts(), ["local"]);
    });

    const carol = new TestSession(a, "carol");
    await t.step("a login meanwhile attaches on its node", async () => {
      assert.deepEqual(await a.attach(carol), { ok: true });
      assert.equal(a.isOnline("carol"), true);
    });

    await t.step("when NATS is back, each node sees the others again by itself", async () => {
      await nats.restart();
      await eventually("resync on a", () => resyncs === 1);
      await eventually("bob online on a", () => a.isOnline("bob"));
      await eventually("carol's lease on b", () => b.isOnline("carol"));
      await eventually("alice on b", () => b.isOnline("alice"));
      b.sendToAccount("alice", text("after"));
      await eventually("delivery after", () => alice.texts().includes("after"));
    });
  },
});
