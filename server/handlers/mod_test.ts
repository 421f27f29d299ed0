import assert from "node:assert/strict";
import {
  ACTIONS,
  DEFAULT_LIMITS,
  type JimRequest,
  type ServerPush,
  type ServerResponse,
  validateRequest,
} from "../../protocol/mod.ts";
import { addUser } from "../accounts.ts";
import { SYSTEM_CLOCK } from "../clock.ts";
import { EventFeed } from "../events.ts";
import type { Envelope } from "../hub/envelope.ts";
import type { Capability, HubSession, Notice } from "../hub/hub.ts";
import { LocalHub } from "../hub/local_hub.ts";
import { DEFAULT_SERVER_LIMITS } from "../limits.ts";
import { SqliteStorage } from "../storage/sqlite/mod.ts";
import { MessageIds } from "../message_ids.ts";
import {
  BEFORE_LOGIN,
  type HandlerContext,
  handlerFor,
  HANDLERS,
  type OfflineMessages,
} from "./mod.ts";

/** The requesting session, as a handler sees it: what it was told and whether it ended. */
class TestHandle {
  readonly id: string;
  readonly info;
  readonly key: string;
  readonly sent: (ServerResponse | ServerPush)[] = [];
  queuedBytes = 0;
  open = true;
  ended: string | undefined;
  caps: ReadonlySet<Capability> = new Set();
  readonly paced: Envelope[] = [];

  constructor(readonly login: string) {
    this.id = `handle-${login}`;
    this.key = login.toLowerCase();
    this.info = { id: 1, ip: "127.0.0.1", port: 1, user: login };
  }

  reply(message: ServerResponse): void {
    this.sent.push(message);
  }
  replyOk(): void {
    this.sent.push({ response: 200, alert: "OK" });
  }
  push(message: ServerPush): void {
    this.sent.push(message);
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  /** The deferred replies, in order, as the session sends them. */
  tail: Promise<void> = Promise.resolve();
  defer(reply: Promise<(() => void) | void>): void {
    reply.catch(() => {});
    this.tail = this.tail.then(() => reply).then((send) => send?.());
  }
  deliverPaced(envelope: Envelope): Promise<boolean> {
    this.paced.push(envelope);
    return Promise.resolve(this.open);
  }
  end(reason: string): void {
    this.ended = reason;
    this.open = false;
  }
}

/** A live recipient in the hub. */
class Recipient implements HubSession {
  readonly id: string;
  readonly key: string;
  readonly caps: ReadonlySet<Capability> = new Set();
  readonly got: Envelope[] = [];
  takes = true;

  constructor(readonly hub: LocalHub, readonly login: string) {
    this.id = `recipient-${login}`;
    this.key = login.toLowerCase();
  }
  deliver(envelope: Envelope): boolean {
    if (!this.takes) this.hub.detach(this);
    else this.got.push(envelope);
    return this.takes;
  }
  notify(_notice: Notice): void {
    this.hub.detach(this);
  }
  probe(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

async function handlerFixture(options: { offlineMessages?: OfflineMessages } = {}) {
  const storage = SqliteStorage.open(":memory:");
  for (const login of ["alice", "Bob", "carol"]) {
    await addUser(storage.users, login, "pw", { iterations: 4096 });
  }
  const hub = new LocalHub();
  const alice = new TestHandle("alice");
  const ctx: HandlerContext = {
    session: alice,
    hub,
    storage,
    limits: DEFAULT_SERVER_LIMITS,
    events: new EventFeed(),
    clock: SYSTEM_CLOCK,
    ids: new MessageIds(SYSTEM_CLOCK),
    offlineMessages: options.offlineMessages ?? "store",
  };
  /** Validates `raw` as the session would, then runs its handler. */
  const run = async (raw: Record<string, unknown>) => {
    const result = validateRequest({ time: 1, ...raw }, { maxMessageLength: 1 << 20 });
    if (!result.ok) throw result.error;
    const request: JimRequest = result.request;
    await handlerFor(request.action)(ctx, request as never);
    const deferred = alice.tail;
    alice.tail = Promise.resolve();
    await deferred;
  };
  return {
    storage,
    hub,
    alice,
    run,
    async [Symbol.asyncDispose]() {
      await hub.close();
      await storage.close();
    },
  };
}

Deno.test("HANDLERS has one handler per action, and the guard lets three through before login", () => {
  assert.deepEqual(Object.keys(HANDLERS).sort(), [...ACTIONS].sort());
  for (const action of ACTIONS) assert.equal(typeof handlerFor(action), "function", action);
  assert.deepEqual([...BEFORE_LOGIN].sort(), ["authenticate", "presence", "quit"]);
});

Deno.test("msg handler: routes through the hub with from set, or says why not", async (t) => {
  await using fx = await handlerFixture({ offlineMessages: "reject" });
  const bob = new Recipient(fx.hub, "Bob");
  await fx.hub.attach(bob);
  await t.step("to a live session: pushed with from and encoding, 200 to the sender", async () => {
    await fx.run({ action: "msg", to: "BOB", from: "forged", message: "hi" });
    assert.deepEqual(bob.got.map((e) => e.message), [{
      action: "msg",
      time: 1,
      to: "Bob",
      from: "alice",
      encoding: "utf-8",
      message: "hi",
    }]);
    assert.deepEqual(fx.alice.sent.pop(), { response: 200, alert: "OK" });
  });
  await t.step("to a known user with no live session: 410 in display case", async () => {
    await assert.rejects(fx.run({ action: "msg", to: "CAROL", message: "hi" }), {
      code: 410,
      message: "Client not online: carol",
    });
  });
  await t.step("to nobody: 404", async () => {
    await assert.rejects(fx.run({ action: "msg", to: "zed", message: "hi" }), {
      code: 404,
      message: "No such client: zed",
    });
  });
  await t.step("too large once from and encoding are added: 413, nothing delivered", async () => {
    const before = bob.got.length;
    const text = "x".repeat(DEFAULT_LIMITS.maxFrameBytes - 60);
    const frame = JSON.stringify({ action: "msg", time: 1, to: "bob", message: text });
    assert.ok(frame.length <= DEFAULT_LIMITS.maxFrameBytes, "the request itself fits");
    await assert.rejects(
      fx.run({ action: "msg", to: "bob", message: text }),
      { code: 413, message: /with sender and encoding added it exceeds 16384 bytes/ },
    );
    assert.equal(bob.got.length, before);
  });
  await t.step("to a session too slow to take it: 503", async () => {
    bob.takes = false;
    await assert.rejects(fx.run({ action: "msg", to: "bob", message: "hi" }), {
      code: 503,
      message: "Message not delivered: Bob is not reading fast enough",
    });
    assert.equal(fx.hub.isOnline("bob"), false);
  });
});

Deno.test("msg handler: with --offline-messages store, what no session takes is stored", async (t) => {
  await using fx = await handlerFixture();
  await t.step("to a user with no live session: 200 Stored for carol, and kept", async () => {
    await fx.run({ action: "msg", to: "CAROL", message: "later" });
    assert.deepEqual(fx.alice.sent.pop(), { response: 200, alert: "Stored for carol" });
    const waiting = await fx.storage.messages.undelivered("carol", { limit: 10 });
    assert.deepEqual(waiting.map((m) => [m.from, m.to, m.message]), [["alice", "carol", "later"]]);
  });
  await t.step("with ids: the id, the server time and the state", async () => {
    fx.alice.caps = new Set(["ids"]);
    await fx.run({ action: "msg", to: "carol", message: "again" });
    const reply = fx.alice.sent.pop() as unknown as Record<string, unknown>;
    assert.equal(reply.state, "stored");
    assert.equal(typeof reply.id, "number");
    assert.equal(typeof reply.ts, "number");
    fx.alice.caps = new Set();
  });
  await t.step("to a session too slow to take it: stored instead of lost", async () => {
    const bob = new Recipient(fx.hub, "Bob");
    await fx.hub.attach(bob);
    bob.takes = false;
    await fx.run({ action: "msg", to: "bob", message: "slow" });
    assert.deepEqual(fx.alice.sent.pop(), { response: 200, alert: "Stored for Bob" });
    assert.equal((await fx.storage.messages.undelivered("bob", { limit: 10 })).length, 1);
  });
});

Deno.test("contact handlers: add, list with online flags, remove, with the seed's errors", async (t) => {
  await using fx = await handlerFixture();
  await fx.hub.attach(new Recipient(fx.hub, "Bob"));
  await t.step("add_contact answers with the display case", async () => {
    await fx.run({ action: "add_contact", user_id: "bob" });
    await fx.run({ action: "add_contact", user_id: "carol" });
    assert.deepEqual(fx.alice.sent.splice(0), [
      { response: 200, alert: "Added to contacts: Bob" },
      { response: 200, alert: "Added to contacts: carol" },
    ]);
    await assert.rejects(fx.run({ action: "add_contact", user_id: "zed" }), { code: 404 });
    await assert.rejects(fx.run({ action: "add_contact", user_id: "BOB" }), { code: 409 });
  });
  await t.step("get_contacts: 202 with the count, then one push each", async () => {
    await fx.run({ action: "get_contacts" });
    assert.deepEqual(fx.alice.sent.splice(0), [
      { response: 202, quantity: 2 },
      { action: "contact_list", user_id: "Bob", online: true },
      { action: "contact_list", user_id: "carol", online: false },
    ]);
  });
  await t.step("get_contacts stops streaming when the session ends", async () => {
    fx.alice.open = false;
    await fx.run({ action: "get_contacts" });
    assert.deepEqual(fx.alice.sent.splice(0), [{ response: 202, quantity: 2 }]);
    fx.alice.open = true;
  });
  await t.step("del_contact", async () => {
    await fx.run({ action: "del_contact", user_id: "CAROL" });
    assert.deepEqual(fx.alice.sent.splice(0), [
      { response: 200, alert: "Removed from contacts: carol" },
    ]);
    await assert.rejects(fx.run({ action: "del_contact", user_id: "carol" }), {
      code: 404,
      message: "Client not in contacts: carol",
    });
    assert.deepEqual(await fx.storage.contacts.list("alice"), ["Bob"]);
  });
});

Deno.test("get_users handler pages the logins", async () => {
  await using fx = await handlerFixture();
  await fx.run({ action: "get_users" });
  assert.deepEqual(fx.alice.sent.pop(), { response: 202, users: ["alice", "Bob", "carol"] });
  await fx.run({ action: "get_users", after: "alice" });
  assert.deepEqual(fx.alice.sent.pop(), { response: 202, users: ["Bob", "carol"] });
});

Deno.test("presence, authenticate and quit handlers after login", async (t) => {
  await using fx = await handlerFixture();
  await t.step("presence for this session's login: 200 and last seen moves", async () => {
    await fx.run({ action: "presence", user: { account_name: "ALICE" } });
    assert.deepEqual(fx.alice.sent.pop(), { response: 200, alert: "OK" });
    await fx.storage.logins.flush();
    assert.notEqual((await fx.storage.users.get("alice"))!.lastSeen, null);
  });
  await t.step("presence for another login: 400", async () => {
    await assert.rejects(fx.run({ action: "presence", user: { account_name: "bob" } }), {
      code: 400,
      message: "Invalid field: user.account_name must be this session's login, alice",
    });
  });
  await t.step("authenticate again: 409", async () => {
    await assert.rejects(
      fx.run({ action: "authenticate", user: { account_name: "alice", password: "00" } }),
      { code: 409, message: "Already authenticated" },
    );
  });
  await t.step("quit: Bye, then the session ends", async () => {
    await fx.run({ action: "exit" });
    assert.deepEqual(fx.alice.sent.pop(), { response: 200, alert: "Bye" });
    assert.equal(fx.alice.ended, "Client quit");
  });
});
