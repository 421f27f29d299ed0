/**
 * A real `jim-server` child process for end-to-end tests: what it prints (stdout and stderr)
 * is collected, and it can be stopped (SIGTERM) or crashed (SIGKILL, as `kill -9`).
 *
 * @example
 * ```ts
 * import { JimServerProcess } from "./_jim_server.ts";
 * await using node = JimServerProcess.serve(["--db", "/tmp/jim.db"]);
 * console.log(await node.port());
 * await node.kill("SIGKILL");
 * ```
 *
 * @module
 */

const JIM_SERVER = new URL("../bin/jim-server.ts", import.meta.url).pathname;

/** A jim-server child process; what it prints (stdout and stderr) is collected. */
export class JimServerProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #output: Promise<string>;
  #seen = "";

  /** Starts `jim-server ARGS…` with NO_COLOR and `env` added to the environment. */
  constructor(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
    this.#child = new Deno.Command(Deno.execPath(), {
      // Cluster nodes listen with reusePort, still behind --unstable-net in Deno 2.9.
      args: ["run", "-A", "--unstable-net", JIM_SERVER, ...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...options.env },
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = this.#child.stdin.getWriter();
      writer.write(new TextEncoder().encode(options.stdin)).then(() => writer.close())
        .catch(() => {}); // It exited without reading: its output says why.
    }
    const text = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) this.#seen += text.decode(chunk, { stream: true });
    };
    this.#output = Promise.all([collect(this.#child.stdout), collect(this.#child.stderr)])
      .then(() => this.#seen);
  }

  /** `jim-server serve --port 0 ARGS…`: a node on a free loopback port. */
  static serve(args: string[], env: Record<string, string> = {}): JimServerProcess {
    return new JimServerProcess(["serve", "--port", "0", ...args], { env });
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits for the process to end by itself. */
  async finished(): Promise<{ code: number; output: string }> {
    const { code } = await this.#child.status;
    return { code, output: await this.#output };
  }

  /** Everything printed so far. */
  get output(): string {
    return this.#seen;
  }

  /** Waits until the output matches `pattern` (30 s at most). */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (let i = 0; i < 600; i++) {
      const match = this.#seen.match(pattern);
      if (match) return match;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`No output matching ${pattern} in:\n${this.#seen}`);
  }

  /** The chat port, once the server says it listens. */
  async port(): Promise<number> {
    return Number((await this.waitFor(/Listening on 127\.0\.0\.1:(\d+)/))[1]);
  }

  /** Sends `signal` (SIGKILL: a crash) and waits for the process to end. */
  async kill(signal: Deno.Signal): Promise<void> {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#output;
  }

  /** Stops the process with SIGTERM and returns everything it printed. */
  async stop(): Promise<string> {
    await this.kill("SIGTERM");
    return await this.#output;
  }

  /** Stops the process, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
