import assert from "node:assert/strict";
import { connectRaw, startTestServer } from "./testing.ts";

/** A self-signed certificate for 127.0.0.1, made with openssl for this test run only. */
async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const output = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // A CA certificate may not serve as the end entity; this one is only ever a leaf.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

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

    await t.step("a client that does not trust the certificate cannot connect", async () => {
      await assert.rejects(async () => {
        await using conn = await connectRaw(srv);
        // Plain TCP reaches the port, but the server's TLS layer rejects plain JSON.
        await conn.send({ action: "get_users", time: 1 });
        await conn.next(2000);
      });
      await assert.rejects(async () => {
        const conn = await Deno.connectTls({ hostname: srv.host, port: srv.port });
        try {
          await conn.handshake();
        } finally {
          conn.close();
        }
      });
    });

    await t.step("the server keeps serving after failed handshakes", async () => {
      await using conn = await connectRaw(srv, { caCert: tls.cert });
      assert.equal((await conn.login("alice", "pw-a")).response, 200);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
