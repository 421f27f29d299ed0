/**
 * `jim-client gui` as a real process: flags, the printed token URL, a clean stop on SIGTERM.
 */
import assert from "node:assert/strict";
import { parseGuiArgs } from "./cli.ts";

const MAIN = new URL("../../bin/jim-client.ts", import.meta.url).pathname;
const PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-run"];

function spawn(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("parseGuiArgs() reads flags, falls back to the environment and rejects bad input", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseGuiArgs([], {}), {
      help: false,
      guiPort: 8081,
      guiHost: "127.0.0.1",
      open: false,
      dataDir: undefined,
    });
  });
  await t.step("flags win over the environment", () => {
    const env = { JIM_GUI_PORT: "9000", JIM_DATA_DIR: "/env" };
    assert.equal(parseGuiArgs([], env).guiPort, 9000);
    assert.equal(parseGuiArgs([], env).dataDir, "/env");
    const fromEnv = parseGuiArgs([], { JIM_GUI_HOST: "localhost", JIM_OPEN: "yes" });
    assert.equal(fromEnv.guiHost, "localhost");
    assert.equal(fromEnv.open, true);
    const c = parseGuiArgs(["--gui-port", "0", "--open", "--data-dir", "/d"], env);
    assert.equal(c.guiPort, 0);
    assert.equal(c.open, true);
    assert.equal(c.dataDir, "/d");
  });
  for (
    const [name, argv, env, text] of [
      ["bad port", ["--gui-port", "x"], {}, /Invalid --gui-port/],
      ["port too big", ["--gui-port", "65536"], {}, /Invalid --gui-port/],
      ["bad env port", [], { JIM_GUI_PORT: "-1" }, /Invalid JIM_GUI_PORT/],
      ["unknown flag", ["--bogus"], {}, /bogus/],
      ["stray argument", ["now"], {}, /Unexpected argument: now/],
      ["blank host", ["--gui-host", " "], {}, /Invalid --gui-host/],
      ["bad JIM_OPEN", [], { JIM_OPEN: "maybe" }, /Invalid JIM_OPEN/],
    ] as const
  ) {
    await t.step(name, () => {
      assert.throws(() => parseGuiArgs(argv, env), text);
    });
  }
});

Deno.test("jim-client gui prints its one-time token URL, a fresh one on SIGUSR1, and stops on SIGTERM", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-cli-test-" });
  try {
    const child = spawn(["gui", "--gui-port", "0", "--data-dir", dataDir]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/\?token=\S+/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const url = /Chat GUI: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out)?.[1];
    assert.ok(url, `no URL in: ${out}`);
    const res = await fetch(url, { redirect: "manual" });
    assert.equal(res.status, 303);
    assert.match(res.headers.get("set-cookie") ?? "", /HttpOnly/i);
    await res.body?.cancel();
    const wrong = await fetch(url.replace(/token=.*/, "token=wrong-token-wrong-token"));
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const again = await fetch(url, { redirect: "manual" });
    assert.equal(again.status, 401, "the URL works once");
    await again.body?.cancel();
    while (!/kill -USR1 \d+\n/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.match(out, new RegExp(`The URL works once; for a fresh one: kill -USR1 ${child.pid}`));
    child.kill("SIGUSR1");
    const urls = () => [...out.matchAll(/Chat GUI: (http:\/\/\S+)/g)].map((m) => m[1]!);
    while (urls().length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const fresh = urls()[1];
    assert.ok(fresh && fresh !== url, `no fresh URL in: ${out}`);
    const renewed = await fetch(fresh, { redirect: "manual" });
    assert.equal(renewed.status, 303);
    await renewed.body?.cancel();
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    const err = await new Response(child.stderr).text();
    assert.equal(status.code, 0, err);
    assert.match(out, /Chat GUI stopped\./);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("jim-client gui: usage errors exit 2, help exits 0, a busy port exits 1", async (t) => {
  await t.step("unknown flag", async () => {
    const { code, stderr } = await spawn(["gui", "--bogus"]).output();
    assert.equal(code, 2);
    assert.match(new TextDecoder().decode(stderr), /jim-client gui: .*bogus/);
  });
  await t.step("help", async () => {
    const { code, stdout } = await spawn(["gui", "--help"]).output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), /--gui-port PORT/);
  });
  await t.step("the console's help lists gui", async () => {
    const { code, stdout } = await spawn(["--help"]).output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), /jim-client gui/);
  });
  await t.step("port in use", async () => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String((busy.addr as Deno.NetAddr).port);
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-cli-test-" });
    try {
      const { code, stderr } = await spawn(["gui", "--gui-port", port, "--data-dir", dataDir])
        .output();
      assert.equal(code, 1);
      assert.match(new TextDecoder().decode(stderr), /address in use/);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  });
});
