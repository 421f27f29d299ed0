/**
 * A lean JIM peer for the benchmark: raw TCP, the protocol package's framing, SCRAM and
 * legacy login, a small read buffer, and no history or events, so that the load generator
 * spends as little CPU as possible next to the server it measures. The login storm uses it,
 * and so does the Deno load generator (tasks/bench/deno_loadgen.ts) where there is no C
 * compiler.
 */
import {
  encodeFrame,
  FrameDecoder,
  fromBase64,
  legacyDigest,
  ScramClient,
  toBase64,
} from "../protocol/mod.ts";

type Frame = Record<string, unknown>;

/** A salted password cached per user, as RFC 5802 allows. */
export type SaltCache = Map<string, { salt: Uint8Array; iterations: number; value: Uint8Array }>;

/** One connection of the load generator. */
export class LoadPeer {
  readonly conn: Deno.Conn;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  readonly #buffer: Uint8Array;
  #frames: Frame[] = [];
  #closed = false;
  #user = "";
  /** Called for every pushed msg; replaces the default of queueing it. */
  onMessage: ((frame: Frame) => void) | undefined;
  /** Called for every response; replaces the default of queueing it. */
  onResponse: ((frame: Frame) => void) | undefined;
  /** Called for every presence push (sessions with the `presence` capability). */
  onPresence: ((frame: Frame) => void) | undefined;

  private constructor(conn: Deno.Conn, bufferSize: number) {
    this.conn = conn;
    this.#buffer = new Uint8Array(bufferSize);
  }

  static async connect(port: number, bufferSize = 16 * 1024): Promise<LoadPeer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new LoadPeer(conn, bufferSize);
  }

  async write(frame: unknown): Promise<void> {
    const bytes = encodeFrame(frame);
    let written = 0;
    while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
  }

  /** Reads until at least one frame is available and returns the next one. */
  async next(): Promise<Frame> {
    while (this.#frames.length === 0) {
      if (!(await this.pump())) throw new Error("Connection closed by the server");
    }
    return this.#frames.shift()!;
  }

  /** Reads once and dispatches what arrived; false at end of stream. */
  async pump(): Promise<boolean> {
    if (this.#closed) return false;
    let n: number | null;
    try {
      n = await this.conn.read(this.#buffer);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#closed = true;
      return false;
    }
    for (const frame of this.#decoder.push(this.#buffer.subarray(0, n))) {
      if (!frame.ok) throw frame.error;
      const value = frame.value;
      if (value.action === "msg" && this.onMessage) this.onMessage(value);
      else if (value.action === "probe" && this.#user) this.#answerProbe();
      else if (value.action === "presence" && this.onPresence) this.onPresence(value);
      else if ("response" in value && this.onResponse) this.onResponse(value);
      else this.#frames.push(value);
    }
    return true;
  }

  #answerProbe(): void {
    this.write({ action: "presence", time: 0, user: { account_name: this.#user } }).catch(() => {
      // The connection is closing; the pump notices.
    });
  }

  async request(frame: unknown): Promise<Frame> {
    await this.write(frame);
    return await this.next();
  }

  /**
   * Logs in with SCRAM-SHA-256, reusing a cached salted password when it fits; announcing
   * `capabilities` when given (a jim client), nothing otherwise (the seed dialect).
   */
  async login(
    user: string,
    password: string,
    cache?: SaltCache,
    capabilities?: readonly string[],
  ): Promise<void> {
    const time = Math.floor(Date.now() / 1000);
    const hello = await this.request({
      action: "presence",
      time,
      user: { account_name: user },
      ...(capabilities ? { capabilities } : {}),
    });
    if (hello.response !== 401) throw new Error(`presence: ${JSON.stringify(hello)}`);
    const scram = new ScramClient(user, password);
    const step = (data: string) => ({
      action: "authenticate",
      time,
      mechanism: "SCRAM-SHA-256",
      user: { account_name: user },
      data: toBase64(data),
    });
    const first = await this.request(step(scram.clientFirst()));
    if (first.response !== 401 || typeof first.data !== "string") {
      throw new Error(`authenticate: ${JSON.stringify(first)}`);
    }
    const serverFirst = new TextDecoder().decode(fromBase64(first.data));
    const final = await scram.clientFinal(serverFirst, { cache: cache?.get(password) });
    if (cache && scram.saltedPassword) cache.set(password, scram.saltedPassword);
    const done = await this.request(step(final));
    if (done.response !== 200 || typeof done.data !== "string") {
      throw new Error(`authenticate: ${JSON.stringify(done)}`);
    }
    await scram.verifyServerFinal(new TextDecoder().decode(fromBase64(done.data)));
    this.#user = user;
  }

  /**
   * Logs in with the seed's HMAC-MD5 scheme, given the user's legacy stored value (hex), which
   * the caller computes once: deriving it is PBKDF2 at 100,000 iterations.
   */
  async loginLegacy(user: string, storedHex: string): Promise<void> {
    const hello = await this.request({ action: "presence", time: 0, user: { account_name: user } });
    if (hello.response !== 401 || typeof hello.token !== "string") {
      throw new Error(`presence: ${JSON.stringify(hello)}`);
    }
    const password = legacyDigest(storedHex, hello.token);
    const done = await this.request({
      action: "authenticate",
      time: 0,
      user: { account_name: user, password },
    });
    if (done.response !== 200) throw new Error(`authenticate: ${JSON.stringify(done)}`);
    this.#user = user;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}
