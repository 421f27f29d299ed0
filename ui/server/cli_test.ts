import assert from "node:assert/strict";

const MAIN = new URL("../../bin/jim-server.ts", import.meta.url).pathname;

/** Reads a child's stdout line by line, keeping what follows a match for the next call. */
class LineReader {
  readonly seen: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  #lines: string[] = [];
  #partial = "";

  constructor(stream: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    while (true) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        this.seen.push(line);
        const m = pattern.exec(line);
        if (m) return m;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`Output ended without ${pattern}:\n${this.seen.join("\n")}`);
      const parts = (this.#partial + value).split("\n");
      this.#partial = parts.pop() ?? "";
      this.#lines.push(...parts);
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

/** Kills the child if a test waits on it too long, so a failure cannot hang the suite. */
function watchdog(child: Deno.ChildProcess, ms = 30_000): Disposable {
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  return { [Symbol.dispose]: () => clearTimeout(timer) };
}

Deno.test("jim-server gui prints a one-time token URL, a fresh one on SIGUSR1, and stops on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-gui-cli-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "gui", "--gui-port", "0", "--port", "0", "--db", `${dir}/db.sqlite`],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const errText = (async () => {
    let text = "";
    while (true) {
      const { value, done } = await stderr.read();
      if (done) return text;
      text += value;
    }
  })();
  using _guard = watchdog(child);
  const reader = new LineReader(child.stdout);
  try {
    const jim = await reader.waitFor(/^JIM server listening on 127\.0\.0\.1:(\d+)/);
    const url =
      (await reader.waitFor(/^Admin GUI: open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/))[1]!;
    const login = await fetch(url, { redirect: "manual" });
    await login.body?.cancel();
    assert.equal(login.status, 303);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
    const state = await (await fetch(new URL("/api/state", url), { headers: { cookie } })).json();
    assert.equal(state.server.running, true);
    assert.equal(state.server.port, Number(jim[1]));
    await reader.waitFor(
      new RegExp(`^The URL works once; for a fresh one: kill -USR1 ${child.pid}$`),
    );
    // The URL is dead after one use; SIGUSR1 prints a fresh one that works once.
    const again = await fetch(url, { redirect: "manual" });
    await again.body?.cancel();
    assert.equal(again.status, 401);
    child.kill("SIGUSR1");
    const fresh =
      (await reader.waitFor(/^Admin GUI: open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/))[1]!;
    assert.notEqual(fresh, url);
    const renewed = await fetch(fresh, { redirect: "manual" });
    await renewed.body?.cancel();
    assert.equal(renewed.status, 303);
    child.kill("SIGTERM");
    // The server events are printed as serve prints them (--log-level info by default).
    await reader.waitFor(/ INFO\s+stop Server stopped$/);
    await reader.waitFor(/^Admin GUI stopped$/);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone: the error above says why.
    }
    throw error;
  } finally {
    await reader.cancel();
  }
  const status = await child.status;
  assert.equal(status.code, 0, await errText);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jim-server gui rejects a bad --gui-port with exit code 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "gui", "--gui-port", "99999"],
    stdin: "null",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /Invalid --gui-port: expected a port from 0 to 65535, got "99999"/,
  );
});

Deno.test("jim-server gui shows 'permission denied' when it may not bind the JIM port", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-gui-perm-" });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const guiPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  // Only the GUI's own port is granted, so listening for JIM is refused by Deno's sandbox.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `--allow-net=127.0.0.1:${guiPort}`,
      MAIN,
      "gui",
      "--gui-port",
      String(guiPort),
      "--port",
      "7777",
      "--db",
      `${dir}/db.sqlite`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  using _guard = watchdog(child);
  const reader = new LineReader(child.stdout);
  try {
    await reader.waitFor(
      /^JIM server stopped: Cannot start server: permission denied \(127\.0\.0\.1:7777\); start it from the GUI$/,
    );
    await reader.waitFor(/^Admin GUI: open http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    child.kill("SIGTERM");
    await reader.waitFor(/^Admin GUI stopped$/);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone: its stderr says why.
    }
    const stderr = await new Response(child.stderr).text();
    throw new Error(`${(error as Error).message}\nstderr: ${stderr}`, { cause: error });
  } finally {
    await reader.cancel();
  }
  const status = await child.status;
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0, stderr);
  assert.match(stderr, /JIM server did not start: Cannot start server: permission denied/);
  await Deno.remove(dir, { recursive: true });
});
