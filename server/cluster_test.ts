import assert from "node:assert/strict";
import { defaultNodeName, NODE_NAME_PATTERN, parseClusterUrls } from "./cluster.ts";
import { JimServer } from "./server.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";

Deno.test("parseClusterUrls() takes nats:// URLs and names what it refuses", async (t) => {
  await t.step("one or several, comma-separated, spaces ignored", () => {
    assert.deepEqual(parseClusterUrls("nats://127.0.0.1:4222"), {
      urls: ["nats://127.0.0.1:4222"],
    });
    assert.deepEqual(parseClusterUrls("nats://a:4222, tls://b:4222"), {
      urls: ["nats://a:4222", "tls://b:4222"],
    });
  });
  await t.step("anything else is a problem, quoted", () => {
    for (const bad of ["", "127.0.0.1:4222", "http://a:4222", "nats://", "nats://a:4222,"]) {
      const parsed = parseClusterUrls(bad);
      assert.ok("problem" in parsed, bad);
    }
  });
});

Deno.test("defaultNodeName() is HOSTNAME:PORT, made a valid node name", () => {
  const name = defaultNodeName(7777);
  assert.match(name, /:7777$/);
  assert.match(name, NODE_NAME_PATTERN);
  assert.match(defaultNodeName(0), new RegExp(`:0-${Deno.pid}$`));
});

Deno.test({
  name: "JimServer with reusePort: two nodes on one machine share the chat port",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using storage = SqliteStorage.open(":memory:");
    await using first = await JimServer.listen({ storage, port: 0, reusePort: true });
    await using second = await JimServer.listen({
      storage,
      port: first.addr.port,
      reusePort: true,
    });
    assert.equal(second.addr.port, first.addr.port);
    // Without it the port is taken, as before.
    await assert.rejects(
      JimServer.listen({ storage, port: first.addr.port }),
      Deno.errors.AddrInUse,
    );
    // The kernel hands connections to either; both accept.
    const conns = await Promise.all(
      Array.from(
        { length: 8 },
        () => Deno.connect({ hostname: "127.0.0.1", port: first.addr.port }),
      ),
    );
    const until = Date.now() + 10_000;
    while (first.connectionCount + second.connectionCount < 8 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(first.connectionCount + second.connectionCount, 8);
    for (const conn of conns) conn.close();
  },
});
