/**
 * Issue 12's messaging end to end on the server: real loopback sockets, a real SQLite file,
 * restarts on the same file. Offline delivery, ids and states, carbons, receipts, read marks,
 * history, the backlog cap, the offline policy, several sessions, retention, and every bad
 * input of the issue with what it must not disturb.
 */
import assert from "node:assert/strict";
import { addUser } from "./accounts.ts";
import { type Capability, JimServer, SqliteStorage } from "./mod.ts";
import { connectRaw, ManualClock, type RawConnection, TEST_ITERATIONS } from "./testing.ts";
import type { Clock } from "./clock.ts";
import type { ServerLimits } from "./limits.ts";
import type { OfflineMessages } from "./handlers/mod.ts";

const USERS = ["alice", "bob", "carol"];
const JIM: Capability[] = ["ids", "carbons", "receipts"];
const now = () => Math.floor(Date.now() / 1000);

/** A server on a SQLite file that can be stopped and started again on the same file. */
class Fixture implements AsyncDisposable {
  server!: JimServer;
  storage!: SqliteStorage;
  readonly conns: RawConnection[] = [];

  private constructor(
    readonly dir: string,
    readonly options: {
      limits?: Partial<ServerLimits>;
      offlineMessages?: OfflineMessages;
      clock?: Clock;
    },
  ) {}

  static async start(options: Fixture["options"] = {}): Promise<Fixture> {
    const fx = new Fixture(await Deno.makeTempDir({ prefix: "jim-messaging-" }), options);
    const storage = SqliteStorage.open(fx.path);
    for (const login of USERS) {
      await addUser(storage.users, login, `${login}-pw`, { iterations: TEST_ITERATIONS });
    }
    await storage.close();
    await fx.#open();
    return fx;
  }

  get path(): string {
    return `${this.dir}/server.db`;
  }

  async #open(): Promise<void> {
    this.storage = SqliteStorage.open(this.path, { historyFlushMs: 10, changePollMs: 50 });
    this.server = await JimServer.listen({
      port: 0,
      storage: this.storage,
      limits: { rateLimit: 0, ...this.options.limits },
      offlineMessages: this.options.offlineMessages,
      clock: this.options.clock,
    });
  }

  /** Stops the server and closes the file, then opens both again. */
  async restart(): Promise<void> {
    await this.#stop();
    await this.#open();
  }

  async #stop(): Promise<void> {
    for (const c of this.conns.splice(0)) await c[Symbol.asyncDispose]();
    await this.server.close();
    await this.storage.close();
  }

  /** A logged-in raw connection; `caps` undefined logs in as a seed client would. */
  async login(login: string, caps: Capability[] | null = JIM): Promise<RawConnection> {
    const conn = await connectRaw({ host: "127.0.0.1", port: this.server.addr.port });
    this.conns.push(conn);
    const reply = await conn.login(login, `${login}-pw`, caps ? { capabilities: caps } : {});
    assert.equal(reply.response, 200, JSON.stringify(reply));
    return conn;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stop();
    await Deno.remove(this.dir, { recursive: true });
  }
}

function msg(to: string, message: string) {
  return { action: "msg", time: now(), to, encoding: "utf-8", message };
}

/** Frames until one matches, collecting the others. */
async function until(
  conn: RawConnection,
  match: (f: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  for (;;) {
    const frame = await conn.next();
    seen.push(frame);
    if (match(frame)) return seen;
  }
}

/** A request and its answer: the 202 and the items it announces. */
async function historyOf(conn: RawConnection, query: Record<string, unknown>) {
  const head = await conn.request({ action: "history", time: now(), ...query });
  const items: Record<string, unknown>[] = [];
  if (head.response === 202) {
    for (let i = 0; i < (head.quantity as number); i++) items.push(await conn.next());
  }
  return { head, items };
}

Deno.test("offline messages survive a restart and arrive once per session, in order", async () => {
  await using fx = await Fixture.start();
  const alice = await fx.login("alice");
  const sent: number[] = [];
  for (const text of ["one", "two", "three"]) {
    const reply = await alice.request(msg("BOB", text));
    assert.equal(reply.response, 200);
    assert.equal(reply.alert, "Stored for bob");
    assert.equal(reply.state, "stored");
    sent.push(reply.id as number);
  }
  assert.ok(sent[0]! < sent[1]! && sent[1]! < sent[2]!, "ids increase");
  await fx.restart();
  const sender = await fx.login("alice");
  const bob = await fx.login("bob");
  const backlog = [await bob.next(), await bob.next(), await bob.next()];
  assert.deepEqual(
    backlog.map(({ action, from, to, message, id, stored }) => ({
      action,
      from,
      to,
      message,
      id,
      stored,
    })),
    ["one", "two", "three"].map((message, i) => ({
      action: "msg",
      from: "alice",
      to: "bob",
      message,
      id: sent[i],
      stored: true,
    })),
  );
  // The sender's session hears of each delivery.
  const receipts = [await sender.next(), await sender.next(), await sender.next()];
  assert.deepEqual(
    receipts.map(({ action, id, user_id, state }) => ({ action, id, user_id, state })),
    sent.map((id) => ({ action: "receipt", id, user_id: "bob", state: "delivered" })),
  );
  // Once: another login of bob, even after a restart, gets nothing again.
  await fx.restart();
  const again = await fx.login("bob");
  const { head, items } = await historyOf(again, { with: "alice" });
  assert.deepEqual(head, { response: 202, quantity: 3, more: false });
  assert.deepEqual(items.map((i) => [i.id, i.state]), sent.map((id) => [id, "delivered"]));
  assert.deepEqual(await fx.storage.messages.undelivered("bob", { limit: 10 }), []);
});

Deno.test("a new message id after a restart is above every stored one, whatever the clock", async () => {
  const clock = { t: Date.UTC(2027, 0, 1), now: () => clock.t };
  await using fx = await Fixture.start({ clock });
  const alice = await fx.login("alice");
  const first = (await alice.request(msg("bob", "before"))).id as number;
  clock.t -= 86_400_000;
  await fx.restart();
  const again = await fx.login("alice");
  const second = (await again.request(msg("bob", "after"))).id as number;
  assert.ok(second > first, `${second} > ${first}`);
});

Deno.test("two sessions of one account both get a message and each the other's carbon", async (t) => {
  await using fx = await Fixture.start();
  const gui = await fx.login("alice");
  const console = await fx.login("alice");
  const bob = await fx.login("bob");
  await t.step("a message to the account reaches both sessions, once each", async () => {
    const reply = await bob.request(msg("alice", "to both"));
    assert.equal(reply.state, "delivered");
    for (const s of [gui, console]) {
      const got = await s.next();
      assert.deepEqual([got.action, got.from, got.message, got.id], [
        "msg",
        "bob",
        "to both",
        reply.id,
      ]);
      assert.equal(got.carbon, undefined);
    }
  });
  await t.step("each session gets a carbon of what the other sent", async () => {
    const fromGui = await gui.request(msg("bob", "from the GUI"));
    assert.deepEqual([fromGui.response, fromGui.alert, fromGui.state], [200, "OK", "delivered"]);
    const carbon = await console.next();
    assert.deepEqual(
      [carbon.from, carbon.to, carbon.message, carbon.carbon, carbon.state, carbon.id],
      ["alice", "bob", "from the GUI", true, "delivered", fromGui.id],
    );
    assert.equal((await bob.next()).message, "from the GUI");
    const fromConsole = await console.request(msg("bob", "from the console"));
    const back = await gui.next();
    assert.deepEqual([back.message, back.carbon, back.id], [
      "from the console",
      true,
      fromConsole.id,
    ]);
    assert.equal((await bob.next()).message, "from the console");
  });
  await t.step("a read on one session: the peer's receipt and the other session's", async () => {
    const last = (await bob.request(msg("alice", "read me"))).id as number;
    await gui.next();
    await console.next();
    assert.deepEqual(
      await console.request({ action: "read", time: now(), user_id: "bob", id: last }),
      {
        response: 200,
        alert: "OK",
      },
    );
    const own = await gui.next();
    assert.deepEqual([own.action, own.id, own.user_id, own.state, own.own], [
      "receipt",
      last,
      "bob",
      "read",
      true,
    ]);
    const peer = await bob.next();
    assert.deepEqual([peer.action, peer.id, peer.user_id, peer.state, peer.own], [
      "receipt",
      last,
      "alice",
      "read",
      undefined,
    ]);
  });
  await t.step(
    "a stored message: carbon says stored, then every sender session hears of delivery",
    async () => {
      const reply = await gui.request(msg("carol", "for later"));
      assert.equal(reply.state, "stored");
      const carbon = await console.next();
      assert.deepEqual([carbon.carbon, carbon.state, carbon.id], [true, "stored", reply.id]);
      await fx.login("carol");
      for (const s of [gui, console]) {
        const receipt = await s.next();
        assert.deepEqual([receipt.action, receipt.id, receipt.user_id, receipt.state], [
          "receipt",
          reply.id,
          "carol",
          "delivered",
        ]);
      }
    },
  );
});

Deno.test("a message to oneself reaches every session of the account once, without a carbon", async () => {
  await using fx = await Fixture.start();
  const a = await fx.login("alice");
  const b = await fx.login("alice");
  await a.send(msg("ALICE", "note to self"));
  const [echo, reply] = [await a.next(), await a.next()];
  assert.deepEqual([echo.action, echo.message, echo.carbon], ["msg", "note to self", undefined]);
  assert.deepEqual([reply.response, reply.state, reply.id], [200, "delivered", echo.id]);
  const other = await b.next();
  assert.deepEqual([other.message, other.carbon, other.id], ["note to self", undefined, echo.id]);
  // Exactly once: the next frame on b answers its own request.
  assert.equal((await b.request({ action: "get_users", time: now() })).response, 202);
});

Deno.test("a seed session gets exactly the seed dialect: no ids, no carbons, no receipts", async () => {
  await using fx = await Fixture.start();
  const seed = await fx.login("alice", null);
  const other = await fx.login("alice", null);
  const bob = await fx.login("bob");
  assert.deepEqual(await seed.request(msg("carol", "later")), {
    response: 200,
    alert: "Stored for carol",
  });
  assert.deepEqual(await seed.request(msg("bob", "now")), { response: 200, alert: "OK" });
  await bob.next();
  const reply = await bob.request(msg("alice", "back"));
  for (const s of [seed, other]) {
    const got = await s.next();
    assert.deepEqual(Object.keys(got).sort(), [
      "action",
      "encoding",
      "from",
      "message",
      "time",
      "to",
    ]);
  }
  // No receipt reaches bob's seed-dialect peers; their next frame answers their request.
  await bob.request({ action: "read", time: now(), user_id: "alice", id: reply.id });
  assert.equal((await other.request({ action: "get_users", time: now() })).response, 202);
});

Deno.test("history: pages of one's own conversations, and every bad query refused", async (t) => {
  await using fx = await Fixture.start();
  const alice = await fx.login("alice");
  const bob = await fx.login("bob");
  const carol = await fx.login("carol");
  const ids: number[] = [];
  for (let i = 1; i <= 7; i++) {
    const [from, to, peer] = i % 2 ? [alice, "bob", bob] : [bob, "alice", alice];
    ids.push((await from.request(msg(to, `m${i}`))).id as number);
    await peer.next();
  }
  const foreign = (await bob.request(msg("carol", "not for alice"))).id as number;
  await carol.next();
  await t.step("the latest page, then older, then newer, with states", async () => {
    const latest = await historyOf(alice, { with: "BOB", limit: 3 });
    assert.deepEqual(latest.head, { response: 202, quantity: 3, more: true });
    assert.deepEqual(latest.items.map((i) => i.message), ["m5", "m6", "m7"]);
    assert.deepEqual(latest.items.map((i) => i.state), ["delivered", "delivered", "delivered"]);
    assert.deepEqual(latest.items.map((i) => i.action), Array(3).fill("history_item"));
    const older = await historyOf(alice, { with: "bob", before: ids[4], limit: 10 });
    assert.deepEqual(older.items.map((i) => i.message), ["m1", "m2", "m3", "m4"]);
    assert.equal(older.head.more, false);
    const newer = await historyOf(alice, { with: "bob", after: ids[1], limit: 2 });
    assert.deepEqual(newer.items.map((i) => i.message), ["m3", "m4"]);
    assert.equal(newer.head.more, true);
    const all = await historyOf(alice, {});
    assert.deepEqual(all.items.map((i) => i.id), ids);
  });
  const before = JSON.stringify((await historyOf(alice, { limit: 100 })).items);
  await t.step("absurd limits and ranges: 400, naming the field", async () => {
    for (const limit of [0, -5, 101, 1e9, 2.5, "50", null]) {
      if (limit === null) continue;
      assert.deepEqual(await alice.request({ action: "history", time: now(), limit }), {
        response: 400,
        error: "Invalid field: limit must be 1 to 100",
      });
    }
    assert.deepEqual(
      await alice.request({ action: "history", time: now(), before: ids[3], after: ids[1] }),
      { response: 400, error: "Invalid field: before and after exclude each other" },
    );
    for (const before of [0, -1, 2 ** 60, "5", 1.5]) {
      assert.deepEqual(await alice.request({ action: "history", time: now(), before }), {
        response: 400,
        error: "Invalid field: before must be a positive integer below 2^53",
      });
    }
  });
  await t.step("forged and foreign ids: 404, telling nothing", async () => {
    for (const id of [foreign, 2 ** 53 - 1, ids[0]! + 1]) {
      assert.deepEqual(await alice.request({ action: "history", time: now(), before: id }), {
        response: 404,
        error: `No such message: ${id}`,
      });
    }
    // Visible, but not in the conversation asked for.
    assert.deepEqual(
      await alice.request({ action: "history", time: now(), with: "carol", after: ids[0] }),
      { response: 404, error: `No such message: ${ids[0]}` },
    );
  });
  await t.step("a conversation one is not part of gives nothing", async () => {
    // Asked as alice, "with carol" is alice's own conversation with carol: none.
    assert.deepEqual((await historyOf(alice, { with: "carol" })).head, {
      response: 202,
      quantity: 0,
      more: false,
    });
    assert.deepEqual((await historyOf(alice, { with: "nobody" })).items, []);
    assert.deepEqual(
      (await historyOf(carol, {})).items.map((i) => i.message),
      ["not for alice"],
    );
  });
  await t.step("nothing changed, and the session still works", async () => {
    assert.equal(JSON.stringify((await historyOf(alice, { limit: 100 })).items), before);
    assert.equal((await alice.request(msg("bob", "still here"))).response, 200);
  });
});

Deno.test("read: marks up to an id, once; unknown, forged and foreign ids are 404", async (t) => {
  await using fx = await Fixture.start();
  const alice = await fx.login("alice");
  const bob = await fx.login("bob");
  const carol = await fx.login("carol");
  const first = (await alice.request(msg("bob", "one"))).id as number;
  const second = (await alice.request(msg("bob", "two"))).id as number;
  await bob.next();
  await bob.next();
  const toCarol = (await alice.request(msg("carol", "for carol"))).id as number;
  await carol.next();
  const fromBob = (await bob.request(msg("alice", "from bob"))).id as number;
  await alice.next();
  const read = (conn: RawConnection, user_id: string, id: unknown) =>
    conn.request({ action: "read", time: now(), user_id, id });
  await t.step("bad ids: 404 No such message, and nothing read", async () => {
    for (
      const [user, id] of [
        ["alice", 2 ** 53 - 1], // no such message
        ["alice", toCarol], // someone else's
        ["alice", fromBob], // bob's own, not one he received
        ["carol", first], // from alice, not carol
        ["nobody", first], // no such peer
      ] as const
    ) {
      assert.deepEqual(await read(bob, user, id), {
        response: 404,
        error: `No such message: ${id}`,
      });
    }
    for (const id of [0, -1, "7", 2 ** 53]) {
      assert.equal((await read(bob, "alice", id)).response, 400);
    }
    const states = (await historyOf(alice, { with: "bob" })).items.map((i) => i.state);
    assert.deepEqual(states, ["delivered", "delivered", "delivered"]);
  });
  await t.step("a good mark: 200, the sender's receipt, states read", async () => {
    assert.deepEqual(await read(bob, "ALICE", second), { response: 200, alert: "OK" });
    const receipt = await alice.next();
    assert.deepEqual([receipt.action, receipt.id, receipt.user_id, receipt.state], [
      "receipt",
      second,
      "bob",
      "read",
    ]);
    const states = (await historyOf(alice, { with: "bob" })).items.map((i) => [i.id, i.state]);
    assert.deepEqual(states, [[first, "read"], [second, "read"], [fromBob, "delivered"]]);
  });
  await t.step("a lower or equal id: 200 and nothing more", async () => {
    assert.deepEqual(await read(bob, "alice", first), { response: 200, alert: "OK" });
    assert.deepEqual(await read(bob, "alice", second), { response: 200, alert: "OK" });
    // No receipt came: alice's next frame answers her own request.
    assert.equal((await alice.request({ action: "get_users", time: now() })).response, 202);
  });
});

Deno.test("a flood for one offline user: 503 past the cap, nothing stored dropped", async () => {
  await using fx = await Fixture.start({ limits: { maxOfflineMessages: 5 } });
  const alice = await fx.login("alice");
  const carol = await fx.login("carol");
  const replies: Record<string, unknown>[] = [];
  for (let i = 0; i < 8; i++) replies.push(await alice.request(msg("bob", `flood ${i}`)));
  assert.deepEqual(replies.slice(0, 5).map((r) => r.state), Array(5).fill("stored"));
  for (const r of replies.slice(5)) {
    assert.deepEqual(r, { response: 503, error: "Message not stored: bob has 5 messages waiting" });
  }
  // Others are not disturbed: carol still gets messages, alice still sends.
  assert.equal((await alice.request(msg("carol", "hello"))).state, "delivered");
  assert.equal((await carol.next()).message, "hello");
  const bob = await fx.login("bob");
  const got: unknown[] = [];
  for (let i = 0; i < 5; i++) got.push((await bob.next()).message);
  assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `flood ${i}`));
  // Delivered, so room again.
  const bye = await bob.request({ action: "quit", time: now() });
  assert.deepEqual(bye, { response: 200, alert: "Bye" });
  assert.deepEqual(fx.server.hub.sessions("bob"), []);
  // alice heard of the five deliveries.
  const receipts = await until(alice, (f) => f.action === "receipt" && f.id === replies[4]!.id);
  assert.deepEqual(receipts.map((r) => r.id), replies.slice(0, 5).map((r) => r.id));
  assert.equal((await alice.request(msg("bob", "after"))).state, "stored");
});

Deno.test("--offline-messages reject: 410 as the seed, and nothing stored", async () => {
  await using fx = await Fixture.start({ offlineMessages: "reject" });
  const alice = await fx.login("alice", null);
  assert.deepEqual(await alice.request(msg("Bob", "x")), {
    response: 410,
    error: "Client not online: bob",
  });
  assert.deepEqual(await alice.request(msg("zed", "x")), {
    response: 404,
    error: "No such client: zed",
  });
  assert.deepEqual(await fx.storage.messages.undelivered("bob", { limit: 10 }), []);
  // Delivered messages are still kept for the history.
  const bob = await fx.login("bob");
  assert.deepEqual(await alice.request(msg("bob", "live")), { response: 200, alert: "OK" });
  // Seen by bob, whose session announced ids.
  await bob.next();
  assert.equal((await historyOf(bob, {})).items.length, 1);
});

Deno.test("--max-sessions-per-user: sessions up to the cap, then the seed's 409", async (t) => {
  await using fx = await Fixture.start({ limits: { maxSessionsPerUser: 2 } });
  await t.step("two sessions log in, a third that others answer for is 409", async () => {
    await fx.login("alice");
    await fx.login("alice");
    const third = await connectRaw({ host: "127.0.0.1", port: fx.server.addr.port });
    fx.conns.push(third);
    const login = third.login("alice", "alice-pw");
    // Both holders are probed; they answer as a client does.
    for (const holder of fx.conns.slice(0, 2)) {
      assert.equal((await holder.next()).action, "probe");
      await holder.send({ action: "presence", time: now(), user: { account_name: "alice" } });
    }
    assert.deepEqual(await login, { response: 409, error: "Client already online" });
    assert.equal(fx.server.hub.sessions("alice").length, 2);
  });
});

Deno.test("--history-days: the sweep at start drops older messages, keeps newer", async () => {
  const clock = new ManualClock(Date.UTC(2027, 5, 1));
  await using fx = await Fixture.start({ clock });
  const alice = await fx.login("alice");
  await alice.request(msg("bob", "old"));
  clock.advance(3 * 86_400_000);
  await alice.request(msg("bob", "new"));
  fx.options.limits = { historyDays: 2 };
  await fx.restart();
  const bob = await fx.login("bob");
  const got = await until(bob, (f) => f.action === "msg");
  assert.equal(got.at(-1)!.message, "new");
  assert.deepEqual((await historyOf(bob, {})).items.map((i) => i.message), ["new"]);
});

Deno.test("messages sent back to back share commits, and every reply keeps request order", async () => {
  await using fx = await Fixture.start();
  const alice = await fx.login("alice");
  const bob = await fx.login("bob");
  const commits = fx.storage.messageCommits;
  let frames = "";
  for (let i = 0; i < 80; i++) frames += JSON.stringify(msg("bob", `m${i}`)) + "\n";
  frames += JSON.stringify({ action: "get_users", time: now() }) + "\n";
  frames += JSON.stringify({ action: "msg", time: now(), to: "bob" }) + "\n";
  frames += JSON.stringify(msg("nobody", "x")) + "\n";
  frames += JSON.stringify(msg("carol", "stored")) + "\n";
  await alice.write(frames);
  const replies = [];
  for (let i = 0; i < 84; i++) replies.push(await alice.next());
  const ids = replies.slice(0, 80).map((r) => r.id as number);
  assert.deepEqual(replies.slice(0, 80).map((r) => r.state), Array(80).fill("delivered"));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
  assert.equal(replies[80]!.response, 202);
  assert.deepEqual(replies[81], { response: 400, error: "Missing field: message" });
  assert.deepEqual(replies[82], { response: 404, error: "No such client: nobody" });
  assert.equal(replies[83]!.state, "stored");
  const got = [];
  for (let i = 0; i < 80; i++) got.push((await bob.next()).message);
  assert.deepEqual(got, Array.from({ length: 80 }, (_, i) => `m${i}`));
  // Fewer commits than messages: the pipeline's appends were grouped.
  assert.ok(fx.storage.messageCommits - commits < 81, `${fx.storage.messageCommits - commits}`);
});
