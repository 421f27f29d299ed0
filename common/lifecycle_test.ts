import assert from "node:assert/strict";
import { escapedMessage, ExitCode, exitCodeOf, startLifecycle } from "./lifecycle.ts";
import { UsageError } from "./usage.ts";

Deno.test("startLifecycle() reports an unhandled rejection and keeps running", async () => {
  const reported = Promise.withResolvers<string>();
  using lifecycle = startLifecycle({ onEscaped: (line) => reported.resolve(line) });
  Promise.reject(new Error("boom\nsecond line"));
  assert.equal(await reported.promise, "Internal error: boom");
  assert.equal(lifecycle.signal.aborted, false);
});

Deno.test("startLifecycle() stops on stop() and on the outer signal, once", async (t) => {
  await t.step("stop()", () => {
    using lifecycle = startLifecycle({ onEscaped: () => {} });
    lifecycle.stop();
    lifecycle.stop();
    assert.equal(lifecycle.signal.aborted, true);
  });
  await t.step("outer signal, before and after the start", () => {
    const outer = new AbortController();
    using lifecycle = startLifecycle({ signal: outer.signal, onEscaped: () => {} });
    outer.abort();
    assert.equal(lifecycle.signal.aborted, true);
    using already = startLifecycle({ signal: outer.signal, onEscaped: () => {} });
    assert.equal(already.signal.aborted, true);
  });
});

Deno.test("a disposed lifecycle no longer hears escaped errors", async () => {
  const late: string[] = [];
  const first = startLifecycle({ onEscaped: (line) => late.push(line) });
  first[Symbol.dispose]();
  first[Symbol.dispose]();
  const reported = Promise.withResolvers<string>();
  using _second = startLifecycle({ onEscaped: (line) => reported.resolve(line) });
  Promise.reject("plain reason");
  assert.equal(await reported.promise, "Internal error: plain reason");
  assert.deepEqual(late, []);
});

Deno.test("SIGTERM stops a process that runs under startLifecycle() with exit code 0", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-lifecycle-" });
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(
      script,
      `import { startLifecycle } from ${
        JSON.stringify(new URL("./lifecycle.ts", import.meta.url).href)
      };
using lifecycle = startLifecycle({ onEscaped: (line) => console.error(line) });
setTimeout(() => { throw new Error("from a timer"); }, 0);
await new Promise((resolve) => setTimeout(resolve, 10));
console.log("ready");
await new Promise((resolve) => lifecycle.signal.addEventListener("abort", resolve));
console.log("stopped");
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    const err = new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    );
    assert.equal(out, "ready\nstopped\n");
    assert.equal(err.trim(), "Internal error: from a timer");
    assert.equal(status.code, ExitCode.Ok);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exitCodeOf() gives 2 for a usage error and 1 for anything else", () => {
  assert.equal(exitCodeOf(new UsageError("Unknown command: x")), 2);
  assert.equal(exitCodeOf(new Error("Cannot listen")), 1);
  assert.equal(exitCodeOf("odd"), 1);
  assert.equal(escapedMessage(42), "Internal error: 42");
});
