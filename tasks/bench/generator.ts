/**
 * One run of a load generator subprocess, the C one (loadgen.c) or the Deno one
 * (deno_loadgen.ts): both take the same arguments and speak the same line protocol (commands
 * on stdin, JSON events on stdout), so the bench drives either the same way.
 *
 * @module
 */
import { benchCacheDir, compileLoadgen } from "./compile_loadgen.ts";
import { pinnedCommand, type Pinning } from "./pinning.ts";

/** How to start a load generator. */
export interface GeneratorProgram {
  readonly kind: "c" | "deno";
  readonly command: string;
  readonly args: readonly string[];
  /** One line for the output. */
  readonly description: string;
}

/** What one run does. */
export interface GeneratorWorkload {
  mode: "pingpong" | "flood" | "idle";
  /** The server's port on 127.0.0.1. */
  port: number;
  /** Another server's port for the odd users, so that each pair spans two servers. */
  port2?: number;
  /** Users are `${prefix}0` … `${prefix}${count - 1}`; pairs are (2i, 2i + 1). */
  prefix: string;
  count: number;
  /** The users' legacy stored value, hex. */
  stored: string;
  /** Flood: messages in flight per sender. */
  window?: number;
  /** Logins in progress at once. */
  concurrency?: number;
}

/** Every session logged in. */
export interface ReadyEvent {
  logins: number;
  loginSeconds: number;
}

/** Counted between mark and stop. */
export interface GeneratorResult {
  /** Messages received by their recipients. */
  messages: number;
  seconds: number;
  /** Non-200 responses since go. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * The C generator when `cc` can build it, else the Deno one; `prefer` forces either.
 *
 * @example
 * ```ts
 * const program = await findGenerator();
 * console.error(program.description);
 * ```
 */
export async function findGenerator(
  options: { prefer?: "c" | "deno"; denoFlags?: readonly string[] } = {},
): Promise<GeneratorProgram> {
  if (options.prefer !== "deno") {
    const binary = await compileLoadgen(benchCacheDir());
    if (binary) {
      return { kind: "c", command: binary, args: [], description: `load generator: C (${binary})` };
    }
    if (options.prefer === "c") throw new Error("Cannot build the C load generator: no cc");
  }
  return {
    kind: "deno",
    command: Deno.execPath(),
    args: [
      "run",
      "--allow-net",
      ...(options.denoFlags ?? []),
      new URL("./deno_loadgen.ts", import.meta.url).pathname,
    ],
    description: options.prefer === "deno"
      ? "load generator: Deno (--generator deno)"
      : "load generator: Deno, because there is no cc (it may be the limit: see docs/benchmarks.md)",
  };
}

const toMs = (value: unknown) => typeof value === "number" && value >= 0 ? value : NaN;

/** A running load generator. Dispose of it to end it. */
export class GeneratorRun implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: LineReader;
  #closed = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#lines = new LineReader(child.stdout);
  }

  /**
   * Starts the generator behind the pinning's generator prefix; it logs in at once.
   *
   * @example
   * ```ts
   * await using run = GeneratorRun.start(program, pinning, {
   *   mode: "pingpong", port, prefix: "p", count: 40, stored,
   * });
   * await run.ready();
   * ```
   */
  static start(
    program: GeneratorProgram,
    pinning: Pinning,
    workload: GeneratorWorkload,
  ): GeneratorRun {
    const args = [
      ...program.args,
      "--port",
      String(workload.port),
      "--mode",
      workload.mode,
      "--stored",
      workload.stored,
      "--count",
      String(workload.count),
      "--prefix",
      workload.prefix,
      "--window",
      String(workload.window ?? 32),
      "--concurrency",
      String(workload.concurrency ?? 200),
      ...(workload.port2 ? ["--port2", String(workload.port2)] : []),
    ];
    const child = pinnedCommand(pinning.generator, program.command, args, {
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new GeneratorRun(child);
  }

  /** The generator's process id (taskset execs it, so this is the generator itself). */
  get pid(): number {
    return this.#child.pid;
  }

  async #event(name: string): Promise<Record<string, unknown>> {
    const value = await this.#lines.next();
    if (value === undefined) {
      const status = await this.#child.status;
      throw new Error(`Load generator exited with status ${status.code} before "${name}"`);
    }
    const event = JSON.parse(value);
    if (event.event !== name) throw new Error(`Load generator sent ${value}, expected ${name}`);
    return event;
  }

  async #command(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Waits until every session has logged in. */
  async ready(): Promise<ReadyEvent> {
    const event = await this.#event("ready");
    return { logins: Number(event.logins), loginSeconds: Number(event.login_seconds) };
  }

  /** Starts the traffic. */
  go(): Promise<void> {
    return this.#command("go");
  }

  /** Starts the measured window. */
  mark(): Promise<void> {
    return this.#command("mark");
  }

  /** Messages received since mark. */
  async report(): Promise<number> {
    await this.#command("report");
    return Number((await this.#event("progress")).messages);
  }

  /** Ends the run: the generator reports and exits. */
  async stop(): Promise<GeneratorResult> {
    await this.#command("stop");
    const event = await this.#event("result");
    await this.close();
    return {
      messages: Number(event.messages),
      seconds: Number(event.seconds),
      errors: Number(event.errors),
      p50Ms: toMs(event.p50_ms),
      p99Ms: toMs(event.p99_ms),
      maxMs: toMs(event.max_ms),
    };
  }

  /** Closes its stdin (it exits on end of input) and waits for it; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stdin.close().catch(() => {});
    const exited = this.#child.status;
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 10_000);
    await exited;
    clearTimeout(timer);
    await this.#lines.cancel();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Newline-separated text from a stream, one line at a time. */
class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  readonly #lines: string[] = [];

  constructor(stream: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next non-empty line; undefined at end of stream. */
  async next(): Promise<string | undefined> {
    while (this.#lines.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      const parts = (this.#pending + value).split("\n");
      this.#pending = parts.pop()!;
      this.#lines.push(...parts.filter((line) => line.trim() !== ""));
    }
    return this.#lines.shift();
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
