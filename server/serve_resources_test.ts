import assert from "node:assert/strict";
import { openServeResources } from "./serve_resources.ts";
import { selfSignedCert } from "./testing.ts";

Deno.test("openServeResources() reads TLS files and opens the database, or says which failed", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-serve-resources-" });
  try {
    await t.step("plain TCP: no TLS, an open storage", async () => {
      const { storage, tls } = await openServeResources({ db: `${dir}/a.db` });
      try {
        assert.equal(tls, undefined);
        assert.equal(await storage.users.count(), 0);
      } finally {
        await storage.close();
      }
    });
    await t.step("TLS: both PEM texts", async () => {
      const pem = await selfSignedCert(dir); // also writes cert.pem and key.pem there
      const { storage, tls } = await openServeResources({
        db: `${dir}/b.db`,
        tlsCert: `${dir}/cert.pem`,
        tlsKey: `${dir}/key.pem`,
      });
      await storage.close();
      assert.deepEqual(tls, pem);
    });
    await t.step("a missing TLS file", async () => {
      await assert.rejects(
        openServeResources({ db: `${dir}/c.db`, tlsCert: `${dir}/none.pem`, tlsKey: "x" }),
        /^Error: Cannot read TLS files: /,
      );
    });
    await t.step("a database that cannot be opened", async () => {
      await assert.rejects(
        openServeResources({ db: `${dir}/no/such/dir/d.db` }),
        new RegExp(`^Error: Cannot open database ${dir}/no/such/dir/d.db: `),
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
