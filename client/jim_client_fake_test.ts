/**
 * JimClient against scripted peers on real sockets: what a real server never does
 * (a forged signature, a seed server, a dropped connection, replies split at every byte).
 */
import { assert, rejectsWith, waitFor } from "./_assert.ts";
import {
  JimError,
  legacyStoredHash,
  randomBytes,
  toBase64,
  verifyLegacyDigest,
} from "../protocol/mod.ts";
import { ConnectionError } from "./errors.ts";
import { type FakePeer, fakeServer, serveScram } from "./_fake_peer.ts";
import { JimClient } from "./jim_client.ts";

Deno.test("JimClient.login() verifies the server's SCRAM signature", async (t) => {
  await t.step("a genuine signature logs in", async () => {
    await using server = fakeServer(async (peer) => {
      await serveScram(peer, "pencil");
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    const result = await client.login("alice", "pencil");
    assert.deepEqual(result, { user: "alice", mechanism: "SCRAM-SHA-256" });
    assert.deepEqual(client.user, "alice");
  });

  await t.step("a forged signature fails loudly and closes the connection", async () => {
    let closedByClient = false;
    await using server = fakeServer(async (peer) => {
      await serveScram(peer, "pencil", { data: toBase64(`v=${toBase64(randomBytes(32))}`) });
      await peer.untilClosed();
      closedByClient = true;
    });
    await using client = await JimClient.connect({ port: server.port });
    const errors: Error[] = [];
    client.addEventListener("error", (e) => errors.push(e.detail.error));
    await rejectsWith(
      () => client.login("alice", "pencil"),
      JimError,
      "Cannot verify server: signature mismatch",
    );
    await server.done;
    assert.ok(closedByClient, "the client must hang up on an unverified server");
    assert.deepEqual(client.connected, false);
    assert.deepEqual(client.user, undefined);
    assert.deepEqual(errors.map((e) => e.message), ["Cannot verify server: signature mismatch"]);
    await rejectsWith(() => client.send("bob", "hi"), ConnectionError);
  });

  await t.step("a missing signature is refused too", async () => {
    await using server = fakeServer(async (peer) => {
      await serveScram(peer, "pencil", {});
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    await rejectsWith(
      () => client.login("alice", "pencil"),
      JimError,
      "Cannot verify server: signature missing",
    );
    assert.deepEqual(client.connected, false);
  });

  await t.step("a server that accepts presence without a challenge is refused", async () => {
    await using server = fakeServer(async (peer) => {
      await peer.receive();
      await peer.send({ response: 200 });
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    await rejectsWith(
      () => client.login("alice", "pencil"),
      JimError,
      "Cannot verify server: it accepted the login without authentication",
    );
  });
});

/** A seed server: 401 with a token and no mechanism list, then the HMAC-MD5 digest. */
async function serveSeedLogin(peer: FakePeer, password: string): Promise<Record<string, unknown>> {
  const token = "00112233445566778899aabbccddeeff";
  await peer.receive();
  await peer.send({ response: 401, error: "Authentication required", token });
  const auth = await peer.receive();
  const user = auth.user as { account_name: string; password: string };
  const ok = verifyLegacyDigest(await legacyStoredHash(password), token, user.password);
  await peer.send(ok ? { response: 200 } : { response: 402, error: "Access denied" });
  return auth;
}

Deno.test("JimClient.login() uses legacy HMAC-MD5 only with a seed server and consent", async (t) => {
  await t.step("allowed: the seed's digest logs in", async () => {
    let sent: Record<string, unknown> = {};
    await using server = fakeServer(async (peer) => {
      sent = await serveSeedLogin(peer, "secret");
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    const result = await client.login("Client5", "secret", { allowLegacy: true });
    assert.deepEqual(result.mechanism, "HMAC-MD5");
    await client.close();
    await server.done;
    assert.deepEqual(sent.mechanism, undefined);
    const password = (sent.user as { password: string }).password;
    assert.match(password, /^[0-9a-f]{32}$/);
    assert.ok(!JSON.stringify(sent).includes("secret"), "the password never crosses the wire");
  });

  await t.step("allowed, wrong password: 402 Access denied", async () => {
    await using server = fakeServer(async (peer) => {
      await serveSeedLogin(peer, "secret");
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    const error = await rejectsWith(
      () => client.login("Client5", "wrong", { allowLegacy: true }),
      JimError,
      "Access denied",
    );
    assert.deepEqual((error as JimError).code, 402);
  });

  await t.step("not allowed: refused before any digest is sent", async () => {
    let after: Record<string, unknown> | "closed" = "closed";
    await using server = fakeServer(async (peer) => {
      await peer.receive();
      await peer.send({ response: 401, error: "Authentication required", token: "00".repeat(16) });
      after = await peer.receive().catch(() => "closed" as const);
    });
    await using client = await JimClient.connect({ port: server.port });
    await rejectsWith(
      () => client.login("Client5", "secret"),
      JimError,
      "Cannot log in: the server offers only legacy HMAC-MD5 authentication",
    );
    await client.close();
    await server.done;
    assert.deepEqual(after, "closed");
  });
});

Deno.test("JimClient matches replies by order while pushes interleave", async () => {
  const pushed: string[] = [];
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    assert.deepEqual((await peer.receive()).action, "get_contacts");
    assert.deepEqual((await peer.receive()).action, "get_users");
    assert.deepEqual((await peer.receive()).action, "msg");
    // Every byte in its own write: the client must reassemble frames split anywhere.
    const script = [
      { response: 202, quantity: 2 },
      {
        action: "msg",
        time: 1560964883,
        to: "alice",
        from: "bob",
        encoding: "utf-8",
        message: "hé",
      },
      { action: "contact_list", user_id: "bob", online: true },
      { action: "probe", time: 1560964943 },
      { action: "contact_list", user_id: "carol" },
      { response: 202, users: ["alice", "bob", "carol"] },
    ];
    const bytes = new TextEncoder().encode(script.map((m) => JSON.stringify(m)).join(""));
    for (const b of bytes) await peer.conn.write(new Uint8Array([b]));
    const probeAnswer = await peer.receive();
    pushed.push(
      `${probeAnswer.action}:${(probeAnswer.user as { account_name: string }).account_name}`,
    );
    // Replies follow request order: the msg (sent before the probe came) first, then the
    // probe's presence. The 200 must not be taken for the msg's reply.
    await peer.send({ response: 410, error: "Client not online: carol" });
    await peer.send({ response: 200 });
    await peer.send({ action: "msg", time: 1, to: "alice", from: "carol", message: "after" });
    await peer.untilClosed();
  });
  await using client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const messages: string[] = [];
  client.addEventListener("message", (e) => messages.push(`${e.detail.from}: ${e.detail.text}`));
  const probes: number[] = [];
  client.addEventListener("probe", (e) => probes.push(e.detail.time));
  const contacts = client.contacts();
  const users = client.users();
  const send = client.send("carol", "hi");
  send.catch(() => {});
  assert.deepEqual(await contacts, [{ login: "bob", online: true }, {
    login: "carol",
    online: false,
  }]);
  assert.deepEqual(await users, ["alice", "bob", "carol"]);
  const error = await rejectsWith(() => send, JimError, "Client not online: carol");
  assert.deepEqual((error as JimError).code, 410);
  await waitFor(() => messages.length === 2, "the message after the replies");
  assert.deepEqual(messages, ["bob: hé", "carol: after"]);
  assert.equal(client.pendingRequests, 0);
  assert.deepEqual(probes.length, 1);
  assert.deepEqual(pushed, ["presence:alice"]);
});

Deno.test("JimClient rejects every pending request at once when the connection drops", async () => {
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    await peer.receive();
    await peer.receive();
    await peer.receive();
    peer.close();
  });
  await using client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const disconnected: string[] = [];
  client.addEventListener("disconnected", (e) => disconnected.push(e.detail.reason));
  const iterator = client.messages();
  const calls = [client.send("bob", "one"), client.contacts(), client.addContact("bob")];
  const outcomes = await Promise.allSettled(calls);
  for (const outcome of outcomes) {
    assert.deepEqual(outcome.status, "rejected");
    const reason = (outcome as PromiseRejectedResult).reason;
    assert.ok(reason instanceof ConnectionError, String(reason));
    assert.deepEqual(reason.message, "Connection lost: server closed the connection");
  }
  assert.deepEqual(disconnected, ["Connection lost: server closed the connection"]);
  assert.deepEqual(client.connected, false);
  assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  await rejectsWith(() => client.users(), ConnectionError, "server closed the connection");
  await client.close();
  await client.close();
});

Deno.test("JimClient closes the connection when a reply never comes", async () => {
  await using server = fakeServer(async (peer) => {
    await peer.receive();
    await peer.untilClosed();
  });
  await using client = await JimClient.connect({ port: server.port, requestTimeout: 200 });
  await rejectsWith(
    () => client.login("alice", "pw"),
    ConnectionError,
    "Connection lost: no reply to presence within 0.2 s",
  );
  assert.deepEqual(client.connected, false);
});

Deno.test("JimClient drops a server that sends garbage", async () => {
  await using server = fakeServer(async (peer) => {
    await peer.receive();
    await peer.conn.write(new TextEncoder().encode("[1,2,3]"));
    await peer.untilClosed();
  });
  await using client = await JimClient.connect({ port: server.port });
  await rejectsWith(
    () => client.login("alice", "pw"),
    ConnectionError,
    "Connection lost: Cannot decode frame: expected an object",
  );
});

Deno.test("JimClient checks arguments before anything goes on the wire", async () => {
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    const next = await peer.receive().catch(() => undefined);
    assert.deepEqual(next, undefined, "nothing may be sent for invalid arguments");
  });
  await using client = await JimClient.connect({
    port: server.port,
    limits: { maxMessageLength: 5 },
  });
  await rejectsWith(() => client.login("a b", "pw"), JimError, "Invalid field: user");
  await client.login("alice", "pw");
  await rejectsWith(() => client.send("bob", "toolong"), JimError, "exceeds 5 characters");
  await rejectsWith(() => client.send("bob", ""), JimError, "must not be empty");
  await rejectsWith(() => client.send("", "hi"), JimError, "Invalid field: to");
  await rejectsWith(() => client.addContact("x,y"), JimError, "Invalid field: user_id");
  await rejectsWith(() => client.login("alice", "pw"), JimError, "Already logged in: alice");
  await client.close();
});

Deno.test("JimClient.connect() reports an unreachable server as ConnectionError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await rejectsWith(
    () => JimClient.connect({ port }),
    ConnectionError,
    `Cannot connect to 127.0.0.1:${port}`,
  );
  const aborted = AbortSignal.abort(new Error("gave up"));
  await rejectsWith(() => JimClient.connect({ port, signal: aborted }), ConnectionError, "gave up");
});

Deno.test("JimClient.close() during connect() leaves it closed", async () => {
  await using server = fakeServer(async (peer) => {
    await peer.untilClosed();
  });
  const client = new JimClient({ port: server.port });
  const opening = client.open();
  const closing = client.close();
  await rejectsWith(() => opening, ConnectionError, "Connection closed");
  await closing;
  assert.equal(client.connected, false);
  await rejectsWith(() => client.users(), ConnectionError, "Connection closed");
});

Deno.test("JimClient: an aborted call rejects but its reply keeps its place", async () => {
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    await peer.receive();
    await peer.receive();
    await peer.send({ response: 202, users: ["first"] });
    await peer.send({ response: 202, users: ["second"] });
    await peer.untilClosed();
  });
  await using client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const controller = new AbortController();
  const first = client.users({ signal: controller.signal });
  const second = client.users();
  controller.abort(new Error("not needed"));
  await rejectsWith(() => first, Error, "not needed");
  assert.deepEqual(await second, ["second"]);
});

Deno.test("JimClient skips malformed pushes without losing its place", async () => {
  await using server = fakeServer(async (peer) => {
    await serveScram(peer, "pw");
    await peer.receive();
    await peer.conn.write(
      new TextEncoder().encode(
        '{"action":"bogus"}{"action":"msg","time":1}' +
          '{"action":"contact_list","user_id":"stray","online":true}',
      ),
    );
    await peer.send({ response: 202, users: ["alice"] });
    // A reply nobody asked for cannot be matched to anything.
    await peer.send({ response: 200 });
    await peer.untilClosed();
  });
  await using client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const errors: string[] = [];
  client.addEventListener("error", (e) => errors.push(e.detail.error.message));
  const stray: string[] = [];
  client.addEventListener("contact", (e) => stray.push(e.detail.login));
  assert.deepEqual(await client.users(), ["alice"]);
  await waitFor(() => errors.length === 3, "three error events");
  assert.deepEqual(errors, [
    "Ignored server message: Unknown action: bogus",
    "Ignored server message: Missing field: to",
    "Ignored server message: reply 200 to no request",
  ]);
  assert.deepEqual(stray, ["stray"]);
  assert.equal(client.connected, true);
});

Deno.test("JimClient ends the connection on a reply it cannot read", async (t) => {
  const cases: [string, string, string][] = [
    ["a malformed response", '{"response":"200"}', "response must be a JIM code"],
    ["an unparsable object", "{not json}", "Cannot parse frame"],
  ];
  for (const [name, bytes, message] of cases) {
    await t.step(name, async () => {
      await using server = fakeServer(async (peer) => {
        await serveScram(peer, "pw");
        await peer.receive();
        await peer.receive();
        await peer.conn.write(new TextEncoder().encode(bytes));
        await peer.send({ response: 202, users: ["alice"] });
        await peer.untilClosed();
      });
      await using client = await JimClient.connect({ port: server.port });
      await client.login("alice", "pw");
      const first = client.users();
      const second = client.contacts();
      await rejectsWith(() => first, ConnectionError, `Connection lost: unreadable reply: `);
      await rejectsWith(() => second, ConnectionError, message);
      assert.equal(client.connected, false);
    });
  }
});
