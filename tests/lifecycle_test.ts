/**
 * `jim-server serve` and both `gui` commands run under one lifecycle (common/lifecycle.ts):
 * an error that escapes every handler is reported and the program keeps serving, and SIGTERM
 * still stops it with exit code 0. The escaped error is a real unhandled rejection inside the real
 * program: a module preloaded with `deno run --preload` rejects a promise on SIGUSR2.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const SERVER = new URL("bin/jim-server.ts", ROOT).pathname;
const CLIENT = new URL("bin/jim-client.ts", ROOT).pathname;

const PRELOAD = `Deno.addSignalListener("SIGUSR2", () => {
  Promise.reject(new Error("rejected on purpose by the test"));
});
`;

/** Collects a stream's lines and waits for one that matches. */
class Lines {
  readonly seen: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  #partial = "";
  #cursor = 0;

  constructor(stream: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      while (this.#cursor < this.seen.length) {
        const m = pattern.exec(this.seen[this.#cursor++]!);
        if (m) return m;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`Output ended without ${pattern}:\n${this.seen.join("\n")}`);
      const parts = (this.#partial + value).split("\n");
      this.#partial = parts.pop() ?? "";
      this.seen.push(...parts);
    }
  }

  /** Reads to the end. */
  async rest(): Promise<string[]> {
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      const parts = (this.#partial + value).split("\n");
      this.#partial = parts.pop() ?? "";
      this.seen.push(...parts);
    }
    return this.seen;
  }
}

interface Program {
  child: Deno.ChildProcess;
  out: Lines;
  err: Lines;
}

async function withProgram(
  args: string[],
  body: (program: Program) => Promise<void>,
): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "jim-lifecycle-" });
  const preload = `${dir}/preload.ts`;
  await Deno.writeTextFile(preload, PRELOAD);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--preload=${preload}`, ...args.map((a) => a.replaceAll("DIR", dir))],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", XDG_DATA_HOME: dir },
  }).spawn();
  // A failure must not leave the test waiting on a child that never ends.
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const program = { child, out: new Lines(child.stdout), err: new Lines(child.stderr) };
  try {
    await body(program);
    return (await child.status).code;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    const [out, err] = await Promise.all([program.out.rest(), program.err.rest()]);
    await child.status;
    throw new Error(
      `${(error as Error).message}\nstdout:\n${out.join("\n")}\nstderr:\n${err.join("\n")}`,
      { cause: error },
    );
  } finally {
    clearTimeout(watchdog);
    await Promise.all([program.out.rest(), program.err.rest()]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** The gate page answers (401 without a session): the GUI still serves. */
async function stillServes(url: string): Promise<void> {
  const res = await fetch(new URL("/", url));
  await res.body?.cancel();
  assert.equal(res.status, 401);
}

Deno.test("jim-server serve reports an unhandled rejection, keeps serving and stops on SIGTERM", async () => {
  const code = await withProgram(
    [SERVER, "serve", "--port", "0", "--db", "DIR/db.sqlite"],
    async ({ child, out }) => {
      const port = Number((await out.waitFor(/ INFO\s+start Listening on 127\.0\.0\.1:(\d+)$/))[1]);
      child.kill("SIGUSR2");
      await out.waitFor(/ ERROR error Internal error: rejected on purpose by the test$/);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      await out.waitFor(/ INFO\s+connect #1 /);
      child.kill("SIGTERM");
      await out.waitFor(/ INFO\s+stop Server stopped$/);
    },
  );
  assert.equal(code, 0);
});

Deno.test("jim-server gui reports an unhandled rejection, keeps serving and stops on SIGTERM", async () => {
  const code = await withProgram(
    [SERVER, "gui", "--gui-port", "0", "--port", "0", "--db", "DIR/db.sqlite"],
    async ({ child, out }) => {
      const url = (await out.waitFor(/^Admin GUI: open (http:\/\/127\.0\.0\.1:\d+)\/\?token=/))[1]!;
      child.kill("SIGUSR2");
      // Logged as serve logs it: an error event in the --log-format.
      await out.waitFor(/ ERROR error Internal error: rejected on purpose by the test$/);
      await stillServes(url);
      child.kill("SIGUSR2");
      await out.waitFor(/ ERROR error Internal error: rejected on purpose by the test$/);
      child.kill("SIGTERM");
      await out.waitFor(/^Admin GUI stopped$/);
    },
  );
  assert.equal(code, 0);
});

Deno.test("jim-client gui reports an unhandled rejection, keeps serving and stops on SIGTERM", async () => {
  const code = await withProgram(
    [CLIENT, "gui", "--gui-port", "0", "--data-dir", "DIR/data"],
    async ({ child, out, err }) => {
      const url = (await out.waitFor(/^Chat GUI: (http:\/\/127\.0\.0\.1:\d+)\/\?token=/))[1]!;
      await out.waitFor(/^The URL works once/);
      child.kill("SIGUSR2");
      await err.waitFor(/^jim-client gui: Internal error: rejected on purpose by the test$/);
      await stillServes(url);
      child.kill("SIGTERM");
      await out.waitFor(/^Chat GUI stopped\.$/);
    },
  );
  assert.equal(code, 0);
});
