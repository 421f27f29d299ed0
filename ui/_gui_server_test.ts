import assert from "node:assert/strict";
import { AccessTokens } from "./access.ts";
import { closeOnce, exposedHosts, onFreshUrlSignal, serveGui } from "./_gui_server.ts";

Deno.test("exposedHosts() warns only beyond loopback and returns the host to accept", () => {
  const warnings: string[] = [];
  assert.deepEqual(exposedHosts("127.0.0.1", "chat GUI", "Risk.", (m) => warnings.push(m)), []);
  assert.deepEqual(exposedHosts("0.0.0.0", "chat GUI", "Risk.", (m) => warnings.push(m)), [
    "0.0.0.0",
  ]);
  assert.deepEqual(warnings, [
    "WARNING: the chat GUI listens on 0.0.0.0, reachable from other machines. Risk.",
  ]);
});

Deno.test("serveGui() serves on the bound port with the token in the URL", async () => {
  const tokens = new AccessTokens("first-token-first-token");
  const gui = serveGui("127.0.0.1", 0, tokens, () => new Response("up"));
  try {
    assert.notEqual(gui.port, 0);
    assert.equal(gui.origin, `http://127.0.0.1:${gui.port}`);
    assert.equal(gui.url, `${gui.origin}/?token=first-token-first-token`);
    const res = await fetch(gui.url);
    assert.equal(await res.text(), "up");
    const fresh = gui.freshUrl();
    assert.equal(fresh, `${gui.origin}/?token=${tokens.current}`);
    assert.notEqual(fresh, gui.url, "a fresh URL has a new token");
  } finally {
    await gui.server.shutdown();
  }
});

Deno.test({
  name: "onFreshUrlSignal() calls back on SIGUSR1 until stopped",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { promise, resolve } = Promise.withResolvers<void>();
    let calls = 0;
    const stop = onFreshUrlSignal(() => {
      calls++;
      resolve();
    });
    // Signal listeners do not keep the event loop alive; this timer does until the signal.
    const alive = setTimeout(() => {}, 60_000);
    try {
      Deno.kill(Deno.pid, "SIGUSR1");
      await promise;
      assert.equal(calls, 1);
    } finally {
      clearTimeout(alive);
      stop();
      stop(); // idempotent
    }
  },
});

Deno.test("closeOnce() runs its body once, on call or on abort", async (t) => {
  await t.step("repeated calls share one run", async () => {
    let runs = 0;
    const close = closeOnce(undefined, async () => {
      runs++;
      await Promise.resolve();
    });
    await Promise.all([close(), close()]);
    await close();
    assert.equal(runs, 1);
  });
  await t.step("an abort runs it, a later call does not again", async () => {
    let runs = 0;
    const controller = new AbortController();
    const close = closeOnce(controller.signal, () => {
      runs++;
      return Promise.resolve();
    });
    controller.abort();
    await close();
    assert.equal(runs, 1);
  });
});
