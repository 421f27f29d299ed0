/**
 * Test fixtures: a real server on 127.0.0.1 port 0 with a temporary database, and a raw
 * JIM connection that speaks frames directly. Other packages' tests use them too.
 *
 * @example
 * ```ts
 * import { connectRaw, startTestServer } from "./testing.ts";
 * await using srv = await startTestServer({ users: [{ login: "alice", password: "pw" }] });
 * await using alice = await connectRaw(srv);
 * await alice.login("alice", "pw");
 * ```
 *
 * @module
 */
import {
  encodeFrame,
  FrameDecoder,
  fromBase64,
  legacyDigest,
  legacyStoredHash,
  SCRAM_SHA_256,
  ScramClient,
  toBase64,
} from "../protocol/mod.ts";
import { connect as netConnect, type Socket } from "node:net";
import type { Clock } from "./clock.ts";
import type { EventFeed } from "./events.ts";
import type { ServerLimits } from "./limits.ts";
import type { OfflineMessages } from "./handlers/mod.ts";
import { addUser } from "./accounts.ts";
import { JimServer, type TlsOptions } from "./server.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";

/** A user the fixture creates. */
export interface TestUser {
  login: string;
  password: string;
  /** Also store the seed's legacy hash. */
  legacy?: boolean;
}

/** Options for {@linkcode startTestServer}. */
export interface TestServerOptions {
  users?: TestUser[];
  legacyAuth?: boolean;
  tls?: TlsOptions;
  limits?: Partial<ServerLimits>;
  /** PBKDF2 iterations for the fixture's users; 4096 (RFC 7677's minimum) keeps tests fast. */
  iterations?: number;
  events?: EventFeed;
  /** The server's clock; the real one by default. See {@linkcode ManualClock}. */
  clock?: Clock;
  /** The `--offline-messages` policy; `store` by default. */
  offlineMessages?: OfflineMessages;
}

/**
 * A clock that stands still until the test moves it, so that a test checks the order of
 * events (a deadline passes, then the server acts) instead of racing real time. The server's
 * sweep still runs on real timers and reads this clock each time.
 *
 * @example
 * ```ts
 * import { ManualClock, startTestServer } from "./testing.ts";
 * const clock = new ManualClock();
 * await using srv = await startTestServer({ clock, limits: { authTimeoutMs: 1000 } });
 * clock.advance(1000); // connections that have not logged in are now overdue
 * ```
 */
export class ManualClock implements Clock {
  #now: number;

  /** Starts at `start`, the real time by default. */
  constructor(start: number = Date.now()) {
    this.#now = start;
  }

  /** The time the test has set. */
  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("Cannot move a clock backwards");
    this.#now += ms;
  }
}

/** A running test server; `await using` closes it and deletes its database. */
export interface TestServer extends AsyncDisposable {
  host: string;
  port: number;
  server: JimServer;
  /** The server's storage: a SQLite file that login history reaches within 10 ms. */
  storage: SqliteStorage;
  dbPath: string;
  /** The temporary directory holding the database. */
  dir: string;
}

/** PBKDF2 iterations the fixtures use. */
export const TEST_ITERATIONS = 4096;

/**
 * Starts a server on 127.0.0.1 port 0 with a fresh database in a temporary directory.
 *
 * @example
 * ```ts
 * import { startTestServer } from "./testing.ts";
 * await using srv = await startTestServer({
 *   users: [{ login: "alice", password: "pw" }],
 *   limits: { rateLimit: 0 },
 * });
 * console.log(srv.port);
 * ```
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "jim-server-test-" });
  const dbPath = `${dir}/jim.db`;
  const storage = SqliteStorage.open(dbPath, { historyFlushMs: 10, changePollMs: 50 });
  try {
    for (const user of options.users ?? []) {
      await addUser(storage.users, user.login, user.password, {
        legacy: user.legacy,
        iterations: options.iterations ?? TEST_ITERATIONS,
      });
    }
    const server = await JimServer.listen({
      host: "127.0.0.1",
      port: 0,
      storage,
      legacyAuth: options.legacyAuth,
      tls: options.tls,
      limits: options.limits,
      events: options.events,
      clock: options.clock,
      offlineMessages: options.offlineMessages,
    });
    return {
      host: server.addr.hostname,
      port: server.addr.port,
      server,
      storage,
      dbPath,
      dir,
      async [Symbol.asyncDispose]() {
        await server.close();
        await storage.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/** Options for {@linkcode connectRaw}. */
export interface RawConnectOptions {
  /** Connect with TLS, trusting this CA certificate (PEM). */
  caCert?: string;
  /** Milliseconds `next()` waits by default; 5000. */
  timeoutMs?: number;
  /**
   * Connect from this local address, e.g. "127.0.0.5" (all of 127.0.0.0/8 is loopback on
   * Linux), to look like another client address. Deno.connect cannot bind one; node:net can.
   */
  localAddress?: string;
}

/** The part of a connection a {@linkcode RawConnection} uses. */
export interface RawTransport {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /** Settles once the transport has let go of everything it holds. */
  readonly closed?: Promise<void>;
}

/**
 * A bare JIM connection for tests: send any bytes or objects, read frames one by one.
 * It does not reply to probes or hide anything.
 */
export class RawConnection implements AsyncDisposable {
  readonly conn: RawTransport;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  readonly #frames: Record<string, unknown>[] = [];
  readonly #buffer = new Uint8Array(16 * 1024);
  readonly #timeoutMs: number;
  #eof = false;
  #closed = false;
  #reading: Promise<boolean> | undefined;

  constructor(conn: RawTransport, timeoutMs = 5000) {
    this.conn = conn;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one object as a frame. */
  async send(message: unknown): Promise<void> {
    await this.write(encodeFrame(message));
  }

  /** Sends raw bytes or text. */
  async write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let written = 0;
    while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
  }

  /** Ends the sending side (TCP half-close); the server sees the end of the stream. */
  async closeWrite(): Promise<void> {
    await this.conn.closeWrite();
  }

  /** Sends a request and returns the next frame. */
  async request(message: unknown): Promise<Record<string, unknown>> {
    await this.send(message);
    return await this.next();
  }

  /** Reads more bytes into the frame queue; false at EOF or reset. */
  #fill(): Promise<boolean> {
    this.#reading ??= (async () => {
      try {
        const n = await this.conn.read(this.#buffer);
        if (n === null) {
          this.#eof = true;
          return false;
        }
        for (const frame of this.#decoder.push(this.#buffer.subarray(0, n))) {
          if (!frame.ok) throw frame.error;
          this.#frames.push(frame.value);
        }
        return true;
      } catch (error) {
        if (
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.Interrupted
        ) {
          this.#eof = true;
          return false;
        }
        throw error;
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  /**
   * The next frame from the server.
   *
   * @throws {Error} at EOF or after `timeoutMs`.
   */
  async next(timeoutMs = this.#timeoutMs): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.#eof) throw new Error("Cannot read frame: connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Cannot read frame: nothing within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), left);
      });
      try {
        const result = await Promise.race([this.#fill(), timeout]);
        if (result === "timeout") {
          throw new Error(`Cannot read frame: nothing within ${timeoutMs} ms`);
        }
      } finally {
        clearTimeout(timer);
      }
    }
    return this.#frames.shift()!;
  }

  /** Frames already received and not yet taken. */
  get buffered(): number {
    return this.#frames.length;
  }

  /**
   * Reads until the server closes the connection and returns the frames that came first.
   *
   * @throws {Error} when the connection is still open after `timeoutMs`.
   */
  async closedByServer(timeoutMs = this.#timeoutMs): Promise<Record<string, unknown>[]> {
    const frames: Record<string, unknown>[] = [];
    for (;;) {
      try {
        frames.push(await this.next(timeoutMs));
      } catch (error) {
        if (this.#eof) return frames;
        throw error;
      }
    }
  }

  /**
   * Logs in with SCRAM-SHA-256 through presence and both authenticate steps, announcing
   * `options.capabilities` (issue 12) when given.
   */
  async login(
    login: string,
    password: string,
    options: { capabilities?: string[] } = {},
  ): Promise<Record<string, unknown>> {
    const challenge = await this.request({
      action: "presence",
      time: now(),
      user: { account_name: login },
      ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
    });
    if (challenge.response !== 401) return challenge;
    return await this.scramLogin(login, password);
  }

  /** The SCRAM steps alone; returns the final response (verified when it is 200). */
  async scramLogin(login: string, password: string): Promise<Record<string, unknown>> {
    const client = new ScramClient(login, password);
    const first = await this.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: login },
      data: toBase64(client.clientFirst()),
    });
    if (first.response !== 401 || typeof first.data !== "string") return first;
    const serverFirst = new TextDecoder().decode(fromBase64(first.data));
    const final = await this.request({
      action: "authenticate",
      time: now(),
      mechanism: SCRAM_SHA_256,
      user: { account_name: login },
      data: toBase64(await client.clientFinal(serverFirst)),
    });
    if (final.response === 200) {
      await client.verifyServerFinal(new TextDecoder().decode(fromBase64(String(final.data))));
    }
    return final;
  }

  /** Logs in the seed's way: presence, then HMAC-MD5 of the legacy hash over the token. */
  async legacyLogin(login: string, password: string): Promise<Record<string, unknown>> {
    const challenge = await this.request({
      action: "presence",
      time: String(now()),
      user: { account_name: login },
    });
    if (challenge.response !== 401) return challenge;
    const digest = legacyDigest(await legacyStoredHash(password), String(challenge.token));
    return await this.request({
      action: "authenticate",
      time: String(now()),
      user: { account_name: login, password: digest },
    });
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#reading?.catch(() => {});
    await this.conn.closed;
  }
}

/** A node:net socket as a {@linkcode RawTransport}, for a chosen local address. */
class NodeSocketTransport implements RawTransport {
  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(new Uint8Array(chunk));
      this.#wake?.();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", (error: Error) => {
      this.#failure = error;
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  static open(host: string, port: number, localAddress: string): Promise<NodeSocketTransport> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, localAddress });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        resolve(new NodeSocketTransport(socket));
      });
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#failure && !this.#ended) {
        throw new Deno.errors.ConnectionReset(this.#failure.message);
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error?: Error | null) => {
        if (error) reject(new Deno.errors.BrokenPipe(error.message));
        else resolve(bytes.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Unix seconds. */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Opens a raw connection to a test server.
 *
 * @example
 * ```ts
 * import { connectRaw, startTestServer } from "./testing.ts";
 * await using srv = await startTestServer();
 * await using conn = await connectRaw(srv);
 * console.log(await conn.request({ action: "get_users", time: 1 })); // 401
 * ```
 */
export async function connectRaw(
  target: { host: string; port: number },
  options: RawConnectOptions = {},
): Promise<RawConnection> {
  if (options.localAddress !== undefined) {
    const transport = await NodeSocketTransport.open(
      target.host,
      target.port,
      options.localAddress,
    );
    return new RawConnection(transport, options.timeoutMs);
  }
  const conn = options.caCert
    ? await Deno.connectTls({
      hostname: target.host,
      port: target.port,
      caCerts: [options.caCert],
    })
    : await Deno.connect({ hostname: target.host, port: target.port });
  return new RawConnection(conn, options.timeoutMs);
}

/**
 * Logs each user in over its own new connection and returns the connections, in order.
 */
export async function loginAll(
  target: { host: string; port: number },
  users: TestUser[],
): Promise<RawConnection[]> {
  const out: RawConnection[] = [];
  for (const user of users) {
    const conn = await connectRaw(target);
    const reply = await conn.login(user.login, user.password);
    if (reply.response !== 200) {
      conn.close();
      throw new Error(`Cannot log in as ${user.login}: ${JSON.stringify(reply)}`);
    }
    out.push(conn);
  }
  return out;
}

/**
 * Makes a self-signed certificate for 127.0.0.1 and localhost with `openssl`, writes
 * `cert.pem` and `key.pem` into `dir` and returns their texts. Pass `cert` to clients as
 * their CA.
 *
 * @example
 * ```ts
 * import { selfSignedCert, startTestServer } from "./testing.ts";
 * const dir = await Deno.makeTempDir();
 * const tls = await selfSignedCert(dir);
 * await using srv = await startTestServer({ tls });
 * ```
 */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const output = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // A CA certificate may not serve as the end entity; this one is only ever a leaf.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

const RESET_PEER = new URL("./testdata/reset_peer.py", import.meta.url).pathname;

/**
 * Opens `count` connections to `port` and resets each at once (SO_LINGER 0, then close), in
 * a python3 child, and returns when it is done. It blocks this process on purpose: a server
 * running in it cannot accept meanwhile, so every reset lands before `accept()`. Keep
 * `count` under the listen backlog (511 for Deno) or the child waits for room forever.
 *
 * @example
 * ```ts
 * import { resetFloodBlocking } from "./testing.ts";
 * resetFloodBlocking("/usr/bin/python3", 7777, 100);
 * ```
 */
export function resetFloodBlocking(python: string, port: number, count: number): void {
  const out = new Deno.Command(python, {
    args: [RESET_PEER, "flood", String(port), String(count)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text !== `done ${count}`) {
    throw new Error(`reset_peer.py flood failed: ${text} ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A python3 child logged in over its own connection, which it resets on command: the way
 * to test what a real reset of a live session does.
 *
 * @example
 * ```ts
 * import { ResetPeerSession } from "./testing.ts";
 * await using peer = new ResetPeerSession("/usr/bin/python3", 7777, "bob", "pw");
 * console.log(await peer.loggedIn); // { response: 200, ... }
 * await peer.command("reset");
 * ```
 */
export class ResetPeerSession implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** The server's reply to the SCRAM final step. */
  readonly loggedIn: Promise<Record<string, unknown>>;

  constructor(python: string, port: number, user: string, password: string) {
    this.#child = new Deno.Command(python, {
      args: [RESET_PEER, "session", String(port), user, password],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = lines(this.#child.stdout)[Symbol.asyncIterator]();
    this.loggedIn = this.#line().then((line) => JSON.parse(line));
  }

  async #line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("reset_peer.py ended early");
    return value;
  }

  /** Sends `send JSON` or `reset` and waits for the child's "ok". */
  async command(line: string): Promise<void> {
    await this.loggedIn;
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
    const answer = await this.#line();
    if (answer !== "ok") throw new Error(`reset_peer.py: ${answer}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#lines.return?.();
    const status = await this.#child.status;
    if (!status.success && status.signal === null) {
      throw new Error(`reset_peer.py exited with ${status.code}`);
    }
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  const utf8 = new TextDecoder();
  for await (const bytes of stream) {
    const chunk = utf8.decode(bytes, { stream: true });
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}
