/** The client over TLS against the real server with a throwaway self-signed certificate. */
import { selfSignedCert, startTestServer } from "../server/testing.ts";
import { assert, rejectsWith } from "./_assert.ts";
import { runClient } from "./_spawn.ts";
import { ConnectionError } from "./errors.ts";
import { JimClient } from "./jim_client.ts";

Deno.test("JimClient and jim-client talk TLS with a trusted CA certificate", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-client-tls-" });
  try {
    const tls = await selfSignedCert(dir);
    await using srv = await startTestServer({
      users: [{ login: "alice", password: "pw-a" }, { login: "bob", password: "pw-b" }],
      tls,
      offlineMessages: "reject",
    });

    await t.step("with the CA: login and delivery", async () => {
      await using alice = await JimClient.connect({
        port: srv.port,
        tls: true,
        caCert: tls.cert,
      });
      await using bob = await JimClient.connect({ port: srv.port, tls: true, caCert: tls.cert });
      await alice.login("alice", "pw-a");
      await bob.login("bob", "pw-b");
      const inbox = bob.messages();
      await alice.send("bob", "over TLS");
      assert.equal((await inbox.next()).value?.text, "over TLS");
    });

    await t.step("without the CA: the connection is refused", async () => {
      await rejectsWith(
        () => JimClient.connect({ port: srv.port, tls: true }),
        ConnectionError,
        `Cannot connect to 127.0.0.1:${srv.port}`,
      );
    });

    await t.step("plain TCP to a TLS server fails instead of hanging", async () => {
      await using client = await JimClient.connect({ port: srv.port, requestTimeout: 3000 });
      await rejectsWith(() => client.login("alice", "pw-a"), ConnectionError, "Connection lost");
    });

    await t.step("jim-client --ca FILE", async () => {
      const result = await runClient(
        [
          "send",
          "--to",
          "alice",
          "hi",
          "-u",
          "bob",
          "-p",
          String(srv.port),
          "--ca",
          `${dir}/cert.pem`,
        ],
        { JIM_DATA_DIR: dir, JIM_PASSWORD: "pw-b" },
      );
      // alice is offline by now: the server's answer proves the TLS session worked.
      assert.equal(result.stderr, "jim-client: Not delivered to alice: Client not online: alice\n");
      assert.equal(result.code, 1);
      const missing = await runClient(
        ["-u", "bob", "-p", String(srv.port), "--ca", `${dir}/nope.pem`],
        { JIM_DATA_DIR: dir, JIM_PASSWORD: "pw-b" },
      );
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /Cannot read --ca .*nope\.pem/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
