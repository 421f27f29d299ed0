import assert from "node:assert/strict";
import {
  type AuthenticateRequest,
  fromBase64,
  HMAC_MD5,
  legacyDigest,
  legacyStoredHash,
  SCRAM_SHA_256,
  ScramClient,
  type ServerResponse,
  toBase64,
} from "../protocol/mod.ts";
import { addUser } from "./accounts.ts";
import { SYSTEM_CLOCK } from "./clock.ts";
import { Decoys } from "./_decoy.ts";
import { EventFeed } from "./events.ts";
import { AUTH_REQUIRED, LEGACY_DENIED, LoginMachine, type LoginPeer } from "./_login.ts";
import { LoginThrottle } from "./_login_throttle.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";
import { SERVER_CAPABILITIES } from "./capabilities.ts";

const FAST = { iterations: 4096 };

/** A session's side of the login: what it was told, and whether it is still open. */
class Peer implements LoginPeer {
  readonly ip: string;
  readonly info;
  readonly replies: ServerResponse[] = [];
  open = true;

  constructor(ip = "192.0.2.10") {
    this.ip = ip;
    this.info = { id: 1, ip, port: 5000 };
  }

  reply(message: ServerResponse): void {
    this.replies.push(message);
  }

  last(): Record<string, unknown> {
    return this.replies.at(-1) as unknown as Record<string, unknown>;
  }
}

/** Real storage, throttle, decoys and event feed around the machines under test. */
async function loginFixture(options: { legacyAuth?: boolean; maxPerPair?: number } = {}) {
  const storage = SqliteStorage.open(":memory:");
  await addUser(storage.users, "alice", "alice-pw", { ...FAST, legacy: true });
  await addUser(storage.users, "bob", "bob-pw", FAST);
  const events = new EventFeed();
  const errors = events.subscribe({ types: ["error"] });
  const throttle = new LoginThrottle({
    windowMs: 60_000,
    maxPerPair: options.maxPerPair ?? 5,
    maxPerAddress: 20,
    // Account slow-down (served by the server's sweep, absent here) stays out of the way.
    slowAfter: 100,
    firstDelayMs: 1000,
    maxDelayMs: 30_000,
  }, SYSTEM_CLOCK);
  const services = {
    users: storage.users,
    throttle,
    decoys: new Decoys(await storage.secrets.get("decoy-credentials")),
    legacyAuth: options.legacyAuth ?? false,
    events,
    capabilities: SERVER_CAPABILITIES,
  };
  return {
    storage,
    errors,
    machine(peer = new Peer()) {
      return { peer, login: new LoginMachine(services, peer) };
    },
    async [Symbol.asyncDispose]() {
      errors.unsubscribe();
      await storage.close();
    },
  };
}

function scramStep(user: string, text: string): AuthenticateRequest {
  return {
    action: "authenticate",
    time: 1,
    user: { account_name: user },
    mechanism: SCRAM_SHA_256,
    data: toBase64(text),
  };
}

/** Runs a whole SCRAM login; resolves with what the last step gave. */
async function scramLogin(login: LoginMachine, peer: Peer, user: string, password: string) {
  login.presence(user);
  const client = new ScramClient(user, password);
  assert.equal(await login.authenticate(scramStep(user, client.clientFirst())), undefined);
  const first = peer.last();
  assert.equal(first.response, 401);
  const serverFirst = new TextDecoder().decode(fromBase64(String(first.data)));
  const final = await client.clientFinal(serverFirst);
  return { client, result: await login.authenticate(scramStep(user, final)) };
}

Deno.test("LoginMachine.presence() answers every name alike, with a fresh token", async () => {
  await using fx = await loginFixture();
  const { peer, login } = fx.machine();
  login.presence("alice");
  login.presence("nobody");
  const [known, unknown] = peer.replies as unknown as Record<string, unknown>[];
  assert.deepEqual(Object.keys(known!), ["response", "error", "token", "mechanisms"]);
  assert.deepEqual({ ...known, token: "" }, { ...unknown, token: "" });
  assert.equal(known!.error, AUTH_REQUIRED);
  assert.deepEqual(known!.mechanisms, [SCRAM_SHA_256]);
  assert.notEqual(known!.token, unknown!.token);
});

Deno.test("LoginMachine: the 401 answers the supported capabilities, which the login keeps", async (t) => {
  await using fx = await loginFixture();
  await t.step("announced: the supported subset, in announced order", async () => {
    const { peer, login } = fx.machine();
    login.presence("alice", ["rooms", "receipts", "ids", "carbons"]);
    const hello = peer.last();
    // rooms is supported since issue 13.
    assert.deepEqual(hello.capabilities, ["rooms", "receipts", "ids", "carbons"]);
    const client = new ScramClient("alice", "alice-pw");
    await login.authenticate(scramStep("alice", client.clientFirst()));
    const serverFirst = new TextDecoder().decode(fromBase64(String(peer.last().data)));
    const result = await login.authenticate(
      scramStep("alice", await client.clientFinal(serverFirst)),
    );
    assert.deepEqual([...result!.capabilities], ["rooms", "receipts", "ids", "carbons"]);
  });
  await t.step("an empty list: an empty answer", () => {
    const { peer, login } = fx.machine();
    login.presence("alice", []);
    assert.deepEqual(peer.last().capabilities, []);
  });
  await t.step("nothing announced: no new field, and the seed dialect", async () => {
    const { peer, login } = fx.machine();
    const { result } = await scramLogin(login, peer, "alice", "alice-pw");
    assert.equal("capabilities" in peer.replies[0]!, false);
    assert.equal(result!.capabilities.size, 0);
  });
});

Deno.test("LoginMachine logs in with SCRAM-SHA-256 and proves the server", async (t) => {
  await using fx = await loginFixture();
  await t.step("the right password: authenticated, with the server signature", async () => {
    const { peer, login } = fx.machine();
    const { client, result } = await scramLogin(login, peer, "ALICE", "alice-pw");
    assert.equal(result?.login, "alice", "in display case");
    assert.equal(result?.response.response, 200);
    const final = new TextDecoder().decode(fromBase64(result!.response.data!));
    await client.verifyServerFinal(final);
  });
  await t.step("a wrong password: 402 Access denied, and an error event", async () => {
    const { peer, login } = fx.machine();
    await assert.rejects(scramLogin(login, peer, "bob", "wrong"), {
      code: 402,
      message: "Access denied",
    });
    assert.equal(fx.errors.poll()?.message, "Failed login as bob");
  });
  await t.step("an unknown login: a stable salt, then the same failure", async () => {
    const salts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { peer, login } = fx.machine();
      await assert.rejects(scramLogin(login, peer, "nobody", "x"), {
        code: 402,
        message: "Access denied",
      });
      const reply = peer.replies[1] as unknown as Record<string, unknown>;
      const first = new TextDecoder().decode(fromBase64(String(reply.data)));
      salts.push(first.split(",").find((p) => p.startsWith("s="))!);
    }
    assert.equal(salts[0], salts[1]);
  });
  await t.step("out of order or for another name: 400", async () => {
    const { login } = fx.machine();
    await assert.rejects(
      Promise.resolve(login.authenticate(scramStep("bob", "c=biws,r=x,p=eA=="))),
      { code: 400, message: /client-final-message before client-first-message/ },
    );
    const client = new ScramClient("bob", "bob-pw");
    await assert.rejects(
      Promise.resolve(login.authenticate(scramStep("alice", client.clientFirst()))),
      {
        code: 400,
        message: "Invalid SCRAM message: user does not match user.account_name",
      },
    );
  });
  await t.step("a user removed while the proof was checked: 404", async () => {
    await addUser(fx.storage.users, "carol", "carol-pw", FAST);
    const { peer, login } = fx.machine();
    login.presence("carol");
    const client = new ScramClient("carol", "carol-pw");
    await login.authenticate(scramStep("carol", client.clientFirst()));
    const serverFirst = new TextDecoder().decode(fromBase64(String(peer.last().data)));
    const final = await client.clientFinal(serverFirst);
    await fx.storage.users.remove("carol");
    await assert.rejects(Promise.resolve(login.authenticate(scramStep("carol", final))), {
      code: 404,
      message: "No such client: carol",
    });
  });
});

Deno.test("LoginMachine logs in the seed's legacy way only when allowed", async (t) => {
  const legacy = (user: string, digest: string) => ({
    action: "authenticate" as const,
    time: 1,
    user: { account_name: user, password: digest },
  });
  await t.step("disabled: 402 naming SCRAM", async () => {
    await using fx = await loginFixture();
    const { login } = fx.machine();
    login.presence("alice");
    await assert.rejects(Promise.resolve(login.authenticate(legacy("alice", "00"))), {
      code: 402,
      message: /legacy HMAC-MD5 login is disabled/,
    });
  });
  await using fx = await loginFixture({ legacyAuth: true });
  await t.step("offered beside SCRAM", () => {
    const { peer, login } = fx.machine();
    login.presence("alice");
    assert.deepEqual(peer.last().mechanisms, [SCRAM_SHA_256, HMAC_MD5]);
  });
  await t.step("without presence first: 400", async () => {
    const { login } = fx.machine();
    await assert.rejects(Promise.resolve(login.authenticate(legacy("alice", "00"))), {
      code: 400,
      message: "Cannot authenticate: send presence first for a token",
    });
  });
  await t.step("the right digest of the token", async () => {
    const { peer, login } = fx.machine();
    login.presence("alice");
    const token = String(peer.last().token);
    const digest = legacyDigest(await legacyStoredHash("alice-pw"), token);
    const result = await login.authenticate(legacy("Alice", digest));
    assert.deepEqual(result, {
      login: "alice",
      response: { response: 200, alert: "OK" },
      capabilities: new Set(),
    });
  });
  await t.step("wrong digest, no legacy hash, no such user: one answer", async () => {
    for (const [user, password] of [["alice", "wrong"], ["bob", "bob-pw"], ["zed", "x"]]) {
      const { peer, login } = fx.machine();
      login.presence(user!);
      const digest = legacyDigest(await legacyStoredHash(password!), String(peer.last().token));
      await assert.rejects(Promise.resolve(login.authenticate(legacy(user!, digest))), {
        code: 402,
        message: LEGACY_DENIED,
      });
    }
  });
  await t.step("a digest that is not hex fails like a wrong one", async () => {
    const { login } = fx.machine();
    login.presence("alice");
    await assert.rejects(Promise.resolve(login.authenticate(legacy("alice", "not hex!"))), {
      code: 402,
      message: LEGACY_DENIED,
    });
  });
});

Deno.test("LoginMachine refuses a failing address for that login, with retry_after", async () => {
  await using fx = await loginFixture({ maxPerPair: 2 });
  const attacker = new Peer("192.0.2.66");
  for (let i = 0; i < 2; i++) {
    const { peer, login } = fx.machine(attacker);
    await assert.rejects(scramLogin(login, peer, "alice", "guess"), { code: 402 });
  }
  const { login } = fx.machine(attacker);
  assert.equal(login.authenticate(scramStep("alice", "n,,n=alice,r=abc")), undefined);
  const refusal = attacker.last();
  assert.equal(refusal.response, 403);
  assert.match(String(refusal.error), /^Too many failed logins: try again in \d+ seconds$/);
  assert.ok(Number(refusal.retry_after) > 0);
  // The owner, from elsewhere, is not refused.
  const owner = fx.machine(new Peer("192.0.2.1"));
  const { result } = await scramLogin(owner.login, owner.peer, "alice", "alice-pw");
  assert.equal(result?.login, "alice");
});

Deno.test("LoginMachine gives up a step when its session closed meanwhile", async () => {
  await using fx = await loginFixture();
  const { peer, login } = fx.machine();
  login.presence("alice");
  const client = new ScramClient("alice", "alice-pw");
  const step = login.authenticate(scramStep("alice", client.clientFirst()));
  peer.open = false;
  login.abort();
  assert.equal(await step, undefined);
  assert.deepEqual(peer.replies.length, 1, "only the challenge: nothing after the close");
});
