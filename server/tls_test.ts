import assert from "node:assert/strict";
import { connectRaw, selfSignedCert, startTestServer } from "./testing.ts";

Deno.test("JimServer serves logins and messages over TLS", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-tls-" });
  try {
    const tls = await selfSignedCert(dir);
    await using srv = await startTestServer({
      users: [{ login: "alice", password: "pw-a" }, { login: "bob", password: "pw-b" }],
      tls,
    });
    assert.equal(srv.server.tls, true);

    await t.step("SCRAM login and delivery work through TLS", async () => {
      await using alice = await connectRaw(srv, { caCert: tls.cert });
      await using bob = await connectRaw(srv, { caCert: tls.cert });
      assert.equal((await alice.login("alice", "pw-a")).response, 200);
      assert.equal((await bob.login("bob", "pw-b")).response, 200);
      const reply = await alice.request({ action: "msg", time: 1, to: "bob", message: "secret" });
      assert.equal(reply.response, 200);
      const delivered = await bob.next();
      assert.equal(delivered.from, "alice");
      assert.equal(delivered.message, "secret");
    });

    await t.step("a plain TCP client gets no JIM answer from the TLS port", async () => {
      await using conn = await connectRaw(srv);
      // Plain TCP reaches the port, but the server's TLS layer rejects plain JSON: what comes
      // back is a TLS alert record (type 0x15) or nothing, never a JIM frame.
      await conn.send({ action: "get_users", time: 1 });
      await assert.rejects(
        conn.next(2000),
        /^FrameError: Cannot decode frame: expected an object, found byte 0x15$|^Error: Cannot read frame: connection closed$/,
      );
    });
    await t.step("a client that does not trust the certificate cannot connect", async () => {
      await assert.rejects(async () => {
        const conn = await Deno.connectTls({ hostname: srv.host, port: srv.port });
        try {
          await conn.handshake();
        } finally {
          conn.close();
        }
      }, /invalid peer certificate|UnknownIssuer/i);
    });

    await t.step("a fatal framing error is answered before the TLS connection closes", async () => {
      await using conn = await connectRaw(srv, { caCert: tls.cert });
      await conn.write("[1]");
      const frames = await conn.closedByServer();
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.response, 400);
      assert.match(String(frames[0]!.error), /expected an object/);
    });

    await t.step("the server keeps serving after failed handshakes", async () => {
      await using conn = await connectRaw(srv, { caCert: tls.cert });
      assert.equal((await conn.login("alice", "pw-a")).response, 200);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
