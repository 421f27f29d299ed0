/** Test support: run jim-client (bin/jim-client.ts) as a child process and watch its output. */
const MAIN = new URL("../bin/jim-client.ts", import.meta.url).pathname;

/** A running jim-client with piped stdio. */
export class ClientProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pumps: Promise<void>;
  #stdinClosed = false;

  constructor(args: string[], env: Record<string, string>) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      env: { NO_COLOR: "", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    const pump = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
    };
    this.#pumps = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]).then(() => {});
  }

  /** Types a line. */
  async line(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text + "\n"));
  }

  /** Closes stdin (end of input). */
  async endInput(): Promise<void> {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    await this.#writer.close().catch(() => {});
  }

  /** Waits until stdout matches; fails with both streams after `timeout` ms. */
  async waitFor(pattern: RegExp | string, timeout = 10_000): Promise<void> {
    const matches = () =>
      typeof pattern === "string" ? this.stdout.includes(pattern) : pattern.test(this.stdout);
    const deadline = Date.now() + timeout;
    while (!matches()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${pattern}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits for the process to end and returns its exit code. */
  async exit(): Promise<number> {
    await this.endInput();
    const status = await this.child.status;
    await this.#pumps;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.endInput();
    try {
      this.child.kill();
    } catch {
      // Exited already.
    }
    await this.child.status;
    await this.#pumps;
  }
}

/** Runs jim-client to completion with optional stdin text. */
export async function runClient(
  args: string[],
  env: Record<string, string>,
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  await using proc = new ClientProcess(args, env);
  if (stdin) await proc.line(stdin.replace(/\n$/, ""));
  const code = await proc.exit();
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}
