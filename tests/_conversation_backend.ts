/**
 * Where the issue 12 end-to-end tests get a chat server: the real one, bin/jim-server.ts as a
 * child process with its own SQLite file and users added with `jim-server user add`. It is
 * driven only through its command line and the wire, so these tests do not depend on its
 * internals. Parts that need a capability the server does not announce yet (presence push,
 * landing separately) ask {@linkcode realServerCapabilities} and are skipped with the reason.
 *
 * @module
 */
import { type Capability, JimClient } from "../client/mod.ts";

const SERVER = new URL("../bin/jim-server.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** What the conversation tests need of the server. */
export const NEEDED: readonly Capability[] = ["ids", "carbons", "presence", "receipts"];

/** A user the backend creates. */
export interface BackendUser {
  login: string;
  password: string;
}

/** A running chat server for the tests. */
export interface Backend extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** Makes `contact` a contact of `owner`, through the protocol. */
  addContact(owner: string, contact: string): Promise<void>;
  /** Stops the server and starts it again on the same port with the same data. */
  restart(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let i = 0; i < 600 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`jim-server did not listen on ${port}`);
}

class RealServer implements Backend {
  readonly host = "127.0.0.1";
  readonly port = freePort();
  #child: Deno.ChildProcess | undefined;
  #stderr: Promise<string> = Promise.resolve("");
  readonly #passwords = new Map<string, string>();

  constructor(readonly dir: string, users: readonly BackendUser[]) {
    for (const u of users) this.#passwords.set(u.login, u.password);
  }

  get db(): string {
    return `${this.dir}/server.db`;
  }

  async addUsers(): Promise<void> {
    for (const [login, password] of this.#passwords) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          SERVER,
          "user",
          "add",
          login,
          "--password-stdin",
          "--iterations",
          "4096",
          "--db",
          this.db,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(`${password}\n`));
      await writer.close();
      const out = await child.output();
      if (!out.success) throw new Error(`user add ${login}: ${decoder.decode(out.stderr)}`);
    }
  }

  async start(): Promise<void> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SERVER,
        "serve",
        "--db",
        this.db,
        "--host",
        this.host,
        "--port",
        String(this.port),
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
    await waitForPort(this.port, child);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    await child.status;
    await this.#stderr;
  }

  async addContact(owner: string, contact: string): Promise<void> {
    await using client = await JimClient.connect({ port: this.port, capabilities: [] });
    await client.login(owner, this.#passwords.get(owner)!);
    await client.addContact(contact);
    await client.quit();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Starts the real server as a child process. */
export async function startRealServer(users: readonly BackendUser[]): Promise<Backend> {
  const dir = await Deno.makeTempDir({ prefix: "jim-conv-e2e-" });
  const server = new RealServer(dir, users);
  try {
    await server.addUsers();
    await server.start();
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return server;
}

/**
 * Which of {@linkcode NEEDED} the real server announces, asked once per test module: a login
 * against a freshly started bin/jim-server.ts.
 */
export async function realServerCapabilities(): Promise<Capability[]> {
  const user = { login: "probe", password: "probe-pw" };
  await using server = await startRealServer([user]);
  await using client = await JimClient.connect({ port: server.port });
  await client.login(user.login, user.password);
  const answered = NEEDED.filter((c) => client.supports(c));
  await client.quit();
  return answered;
}

/**
 * Whether the real server announces `capability`; prints why a test that needs it is skipped
 * when it does not.
 */
export async function realServerSupports(capability: Capability, what: string): Promise<boolean> {
  if ((await realServerCapabilities()).includes(capability)) return true;
  console.error(`${what}: the server does not announce "${capability}" yet; skipped`);
  return false;
}

/** The real server with `users`, and `contacts` (`[owner, contact]`) added through the wire. */
export async function startBackend(
  users: readonly BackendUser[],
  contacts: readonly [string, string][] = [],
): Promise<Backend> {
  const server = await startRealServer(users);
  for (const [owner, contact] of contacts) await server.addContact(owner, contact);
  return server;
}

/**
 * Whether the real server takes part in rooms (issue 13: it answers `rooms` and `ids`);
 * prints why not, once.
 */
export async function realServerSpeaksRooms(what: string): Promise<boolean> {
  const user = { login: "probe", password: "probe-pw" };
  await using server = await startRealServer([user]);
  await using client = await JimClient.connect({ port: server.port });
  await client.login(user.login, user.password);
  const ok = client.supports("rooms") && client.supports("ids");
  await client.quit();
  if (!ok) {
    console.error(`${what}: the real server does not announce "rooms" and "ids" yet (issue 13)`);
  }
  return ok;
}
