/**
 * Installs jim-server and jim-client with `deno task install --root TMP` and drives them as
 * a user would: help, user add, serve, send to an online user, history, and a permission
 * they were not given refused. Wherever `deno task compile` can build (DENORT_BIN set, or
 * Deno's downloads reachable), the compiled binaries go through the same steps; where it
 * cannot, the test checks the task's one-line reason and says aloud that the binaries went
 * untested.
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

/** A program left running, its output collected as it comes. */
class Running implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #pumps: Promise<void>;

  constructor(command: string, args: string[], env: Record<string, string>) {
    this.child = new Deno.Command(command, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const utf8 = new TextDecoder();
      for await (const chunk of stream) this[into] += utf8.decode(chunk, { stream: true });
    };
    this.#pumps = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]).then(() => {});
  }

  /** Polls until `check` holds; fails with the output after 30 s. */
  async until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}:\n${this.stdout}\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the program with SIGTERM and returns its exit code. */
  async stop(): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    const status = await this.child.status;
    await this.#pumps;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The programs may run the desktop's browser opener and nothing else (`--allow-run=xdg-open,
 * open`, not `-A`). Deno refuses to start a subprocess with LD_PRELOAD in its environment
 * unless running programs is allowed without limit: with it set, `--open` must be refused,
 * and without it the opener (a stand-in on PATH that leaves a mark) must run.
 */
async function checkRunPermission(
  t: Deno.TestContext,
  name: string,
  program: string,
  args: string[],
  dir: string,
) {
  const bin = join(dir, `opener-${name}`);
  await Deno.mkdir(bin, { recursive: true });
  const mark = join(bin, "opened");
  await Deno.writeTextFile(join(bin, "xdg-open"), `#!/bin/sh\necho "$1" > '${mark}'\n`, {
    mode: 0o755,
  });
  const env = (extra: Record<string, string>) => ({
    PATH: `${bin}:${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
    ...extra,
  });
  await t.step(`${name} runs the browser opener it was given`, async () => {
    await using gui = new Running(program, [...args, "--open"], env({}));
    await gui.until(() => exists(mark), "the opener to run");
    assert.match(await Deno.readTextFile(mark), /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    assert.equal(await gui.stop(), 0, gui.stderr);
    await Deno.remove(mark);
  });
  await t.step(`${name} is refused any other use of --allow-run`, async () => {
    await using gui = new Running(program, [...args, "--open"], env({ LD_PRELOAD: "libc.so.6" }));
    const refused = () =>
      gui.stderr.includes("Could not open a browser: open the URL above yourself");
    const url = /GUI: (open )?http:\/\/127\.0\.0\.1:\d+\/\?token=/;
    // The warning and the URL go to different streams, in either order.
    await gui.until(
      async () => url.test(gui.stdout) && (refused() || await exists(mark)),
      "the refusal",
    );
    assert.equal(await exists(mark), false, "the opener ran: the program may run anything");
    assert.ok(refused(), gui.stderr);
    assert.equal(await gui.stop(), 0, gui.stderr);
  });
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
    // One session per user, as the seed: the refused login below is the 409.
    args: ["serve", "--db", db, "--port", String(port), "--max-sessions-per-user", "1"],
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

  const guiDb = join(dir, "gui.db");
  await checkRunPermission(t, "jim-server", server, [
    "gui",
    "--port",
    "0",
    "--gui-port",
    "0",
    "--db",
    guiDb,
  ], dir);
  await checkRunPermission(t, "jim-client", client, [
    "gui",
    "--gui-port",
    "0",
    "--data-dir",
    dataDir,
  ], dir);
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

Deno.test("deno task compile builds binaries that pass the same smoke test, or says why not", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-compile-" });
  try {
    const built = await compile(join(dir, "dist"));
    if (Deno.env.get("DENORT_BIN")) assert.equal(built.code, 0, built.stderr);
    if (built.code === 0) {
      await smoke(t, join(dir, "dist", "jim-server"), join(dir, "dist", "jim-client"), dir);
      return;
    }
    // No runtime to build with: the task must say so in one line, with the way out.
    assert.equal(built.code, 1);
    const lines = built.stderr.trim().split("\n");
    assert.equal(lines.length, 1, built.stderr);
    assert.match(lines[0]!, /^Cannot compile jim-server: .*DENORT_BIN/);
    console.error(`NOT TESTED: the compiled binaries, since ${lines[0]}`);
    await t.step({
      name: "the compiled binaries pass the smoke test (needs DENORT_BIN here)",
      ignore: true,
      fn: () => {},
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
