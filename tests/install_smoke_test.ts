/**
 * Installs jim-server and jim-client with `deno task install --root TMP` and drives them as
 * a user would: help, user add, serve, send to an online user, history. When DENORT_BIN is
 * set, the compiled binaries from `deno task compile` go through the same steps.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { JimClient } from "../client/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<Run> {
  const child = new Deno.Command(command, {
    args,
    env: {
      // Installed commands are shell scripts that call `deno` by name.
      PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
      NO_COLOR: "1",
      ...options.env,
    },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The smoke test shared by installed commands and compiled binaries. */
async function smoke(t: Deno.TestContext, server: string, client: string, dir: string) {
  const db = join(dir, "smoke.db");
  const dataDir = join(dir, "client-data");

  await t.step("--help and --version", async () => {
    for (const program of [server, client]) {
      const help = await run(program, ["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage:/);
      const version = await run(program, ["--version"]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^jim-(server|client) \d+\.\d+\.\d+ \(Deno \d+\.\d+\.\d+\)$/m);
    }
  });

  await t.step("user add", async () => {
    for (const [name, password] of [["alice", "alice-pw"], ["bob", "bob-pw"]] as const) {
      const added = await run(
        server,
        ["user", "add", name, "--password-stdin", "--iterations", "4096", "--db", db],
        { stdin: `${password}\n` },
      );
      assert.equal(added.code, 0, added.stderr);
    }
    const list = await run(server, ["user", "list", "--db", db]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /alice/);
    assert.match(list.stdout, /bob/);
  });

  const port = freePort();
  const serve = new Deno.Command(server, {
    args: ["serve", "--db", db, "--port", String(port)],
    env: { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    await waitForPort(port);
    await using bob = await JimClient.connect({ host: "127.0.0.1", port });
    await bob.login("bob", "bob-pw");
    const inbox = bob.messages();

    await t.step("jim-client send to an online user", async () => {
      const sent = await run(
        client,
        ["send", "--to", "bob", "Привет, bob 👋", "--user", "alice", "--port", String(port)],
        { env: { JIM_PASSWORD: "alice-pw", JIM_DATA_DIR: dataDir } },
      );
      assert.equal(sent.code, 0, sent.stderr);
      const received = await inbox.next();
      assert.equal(received.done, false);
      assert.equal(received.value?.from, "alice");
      assert.equal(received.value?.text, "Привет, bob 👋");
    });

    await t.step("jim-client history shows the message", async () => {
      const history = await run(
        client,
        ["history", "bob", "--json", "--user", "alice", "--port", String(port)],
        { env: { JIM_DATA_DIR: dataDir } },
      );
      assert.equal(history.code, 0, history.stderr);
      const entries = JSON.parse(history.stdout) as { text: string }[];
      assert.ok(entries.some((e) => e.text === "Привет, bob 👋"), history.stdout);
    });

    await t.step("a refused login fails the send with the server's error", async () => {
      const sent = await run(
        client,
        ["send", "--to", "alice", "hello?", "--user", "bob", "--port", String(port)],
        { env: { JIM_PASSWORD: "bob-pw", JIM_DATA_DIR: dataDir } },
      );
      // bob is already online through the library, so this login is refused: 409.
      assert.equal(sent.code, 1);
      assert.match(sent.stderr, /already online/i);
    });
  } finally {
    serve.kill("SIGTERM");
    const status = await serve.output();
    assert.equal(status.code, 0, decoder.decode(status.stderr));
  }
}

Deno.test("deno task install gives working jim-server and jim-client commands", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-install-" });
  try {
    const installed = await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-run",
      join(ROOT, "tasks/install.ts"),
      "--root",
      dir,
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    await smoke(t, join(dir, "bin", "jim-server"), join(dir, "bin", "jim-client"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `deno task compile --out DIR`, as the task does. */
function compile(out: string): Promise<Run> {
  return run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    join(ROOT, "tasks/compile.ts"),
    "--out",
    out,
  ]);
}

Deno.test({
  name: "deno task compile builds standalone binaries that pass the same smoke test",
  ignore: !Deno.env.get("DENORT_BIN"),
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-compile-" });
    try {
      const built = await compile(join(dir, "dist"));
      assert.equal(built.code, 0, built.stderr);
      await smoke(t, join(dir, "dist", "jim-server"), join(dir, "dist", "jim-client"), dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task compile fails in one clear line when the runtime cannot be fetched", {
  ignore: Boolean(Deno.env.get("DENORT_BIN")),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-compile-" });
  try {
    const built = await compile(join(dir, "dist"));
    if (built.code === 0) return; // A machine that can reach Deno's downloads builds fine.
    assert.equal(built.code, 1);
    const lines = built.stderr.trim().split("\n");
    assert.equal(lines.length, 1, built.stderr);
    assert.match(lines[0]!, /^Cannot compile jim-server: .*DENORT_BIN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
