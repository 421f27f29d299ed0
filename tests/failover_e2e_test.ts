/**
 * End to end: clients given several servers (`--host a:7777,b:7777`) fail over between real
 * jim-server processes that share one database (a SQLite file, or a throwaway PostgreSQL).
 * The node a client is on is killed with SIGKILL, as a crash; the client reconnects to the
 * other one without the password and keeps chatting: the library, the console and the chat
 * GUI in chromium.
 */
import assert from "node:assert/strict";
import { ChatSession, ConnectionError, type ServerAddress } from "../client/mod.ts";
import { ClientProcess } from "../client/_spawn.ts";
import { addUser } from "../server/mod.ts";
import { SqliteStorage } from "../server/storage/sqlite/mod.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { JimServerProcess } from "./_jim_server.ts";
import { NATS_SERVER, POSTGRESQL, startNats, startPostgres } from "./_services.ts";
import { testWithTools } from "./_tools.ts";

const FAST = { iterations: 4096 };
const RECONNECT = { initialDelay: 20, maxDelay: 200 };

/** Two nodes on one database, with alice and bob in it, and a temporary data directory. */
class Pair implements AsyncDisposable {
  constructor(
    readonly a: JimServerProcess,
    readonly b: JimServerProcess,
    readonly servers: ServerAddress[],
    readonly dir: string,
    readonly onClose: () => Promise<void>,
  ) {}

  /** `127.0.0.1:A,127.0.0.1:B`. */
  get list(): string {
    return this.servers.map((s) => `${s.host}:${s.port}`).join(",");
  }

  /** Logs `user` in with the list; `from: 1` starts at the second node. */
  session(user: "alice" | "bob", from = 0): Promise<ChatSession> {
    return ChatSession.connect({
      servers: [...this.servers.slice(from), ...this.servers.slice(0, from)],
      user,
      password: `${user}-pw`,
      dataDir: `${this.dir}/${user}`,
      reconnect: RECONNECT,
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([this.a.stop(), this.b.stop()]);
    await this.onClose();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

async function startPair(db: "sqlite" | "postgres" | "cluster"): Promise<Pair> {
  const dir = await Deno.makeTempDir({ prefix: "jim-failover-" });
  let args: string[] = [];
  let env: Record<string, string> = {};
  let onClose = () => Promise.resolve();
  if (db === "sqlite") {
    const path = `${dir}/jim.db`;
    await using storage = SqliteStorage.open(path);
    await addUser(storage.users, "alice", "alice-pw", FAST);
    await addUser(storage.users, "bob", "bob-pw", FAST);
    args = ["--db", path];
  } else {
    const pg = await startPostgres();
    onClose = () => pg.close();
    {
      await using storage = await PostgresStorage.open(pg.url, { pool: 2 });
      await addUser(storage.users, "alice", "alice-pw", FAST);
      await addUser(storage.users, "bob", "bob-pw", FAST);
    }
    // The URL with its password goes through the environment, never argv.
    env = { JIM_DB: pg.url };
    if (db === "cluster") {
      const nats = await startNats();
      onClose = async () => {
        await nats.close();
        await pg.close();
      };
      env.JIM_CLUSTER = nats.url;
    }
  }
  const a = JimServerProcess.serve(
    [...args, ...(db === "cluster" ? ["--node-name", "a"] : [])],
    env,
  );
  const b = JimServerProcess.serve(
    [...args, ...(db === "cluster" ? ["--node-name", "b"] : [])],
    env,
  );
  const servers = [
    { host: "127.0.0.1", port: await a.port() },
    { host: "127.0.0.1", port: await b.port() },
  ];
  return new Pair(a, b, servers, dir, onClose);
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function texts(session: ChatSession): string[] {
  const got: string[] = [];
  session.addEventListener("message", (e) => got.push(e.detail.text));
  return got;
}

async function killNodeAndChat(pair: Pair): Promise<void> {
  await using alice = await pair.session("alice");
  await using bob = await pair.session("bob");
  const [first, second] = pair.servers as [ServerAddress, ServerAddress];
  assert.deepEqual([alice.server, bob.server], [first, first]);
  const got = texts(bob);
  assert.equal((await alice.send("bob", "before the crash")).status, "delivered");
  await until("bob gets the first message", () => got.includes("before the crash"));

  const back = Promise.all(
    [alice, bob].map((s) =>
      new Promise<void>((resolve) => s.addEventListener("reconnected", () => resolve()))
    ),
  );
  await pair.a.kill("SIGKILL");
  await back;
  assert.deepEqual([alice.server, bob.server], [second, second]);
  assert.ok(
    alice.serviceLog().some((e) => e.text === `Reconnected to 127.0.0.1:${second.port}`),
    JSON.stringify(alice.serviceLog()),
  );
  assert.equal((await alice.send("bob", "after the crash")).status, "delivered");
  await until("bob gets the second message", () => got.includes("after the crash"));
  assert.deepEqual(got, ["before the crash", "after the crash"]);
  // One history for the account, whichever node served it.
  assert.deepEqual(alice.history.messages("bob").map((m) => m.text), [
    "before the crash",
    "after the crash",
  ]);
}

Deno.test("ChatSession fails over when its node is killed -9: two nodes on one SQLite file", async () => {
  await using pair = await startPair("sqlite");
  await killNodeAndChat(pair);
});

testWithTools(
  [POSTGRESQL],
  "ChatSession fails over when its node is killed -9: two nodes on one PostgreSQL",
  async () => {
    await using pair = await startPair("postgres");
    await killNodeAndChat(pair);
  },
);

testWithTools(
  [POSTGRESQL, NATS_SERVER],
  "ChatSession on a NATS cluster: alice's node is killed -9, she moves to bob's and they chat on",
  async () => {
    await using pair = await startPair("cluster");
    const [first, second] = pair.servers as [ServerAddress, ServerAddress];
    await using alice = await pair.session("alice");
    await using bob = await pair.session("bob", 1);
    assert.deepEqual([alice.server, bob.server], [first, second]);
    const got = texts(bob);
    assert.equal((await alice.send("bob", "across nodes")).status, "delivered");
    await until("bob gets it across nodes", () => got.includes("across nodes"));
    const back = new Promise((resolve) => alice.addEventListener("reconnected", resolve));
    await pair.a.kill("SIGKILL");
    await back;
    assert.deepEqual(alice.server, second);
    assert.equal(bob.reconnecting, false);
    assert.equal((await alice.send("bob", "now on one node")).status, "delivered");
    await until("bob gets the second", () => got.includes("now on one node"));
    assert.deepEqual(got, ["across nodes", "now on one node"]);
  },
);

Deno.test("ChatSession.open() tries the servers in turn", async (t) => {
  await using pair = await startPair("sqlite");
  const dead = { host: "127.0.0.1", port: await closedPort() };
  const b = pair.servers[1]!;

  await t.step("a dead first server: logged in on the next", async () => {
    await using alice = await ChatSession.connect({
      servers: [dead, b],
      user: "alice",
      password: "alice-pw",
      dataDir: `${pair.dir}/alice`,
    });
    assert.deepEqual(alice.server, b);
    const log = alice.serviceLog().map((e) => e.text);
    assert.ok(
      log.some((l) =>
        l.startsWith(`Cannot connect to 127.0.0.1:${dead.port}: `) &&
        l.endsWith(`; trying 127.0.0.1:${b.port}`)
      ),
      log.join("\n"),
    );
  });

  await t.step("a first server that answers 503: logged in on the next", async () => {
    // A node whose database is down refuses logins with 503; the next node may serve.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unavailable = { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port };
    const serving = (async () => {
      for await (const conn of listener) {
        await conn.read(new Uint8Array(4096));
        const refusal = { response: 503, error: "Database unavailable: try again later" };
        await conn.write(new TextEncoder().encode(JSON.stringify(refusal) + "\n"));
        conn.close();
      }
    })();
    try {
      await using alice = await ChatSession.connect({
        servers: [unavailable, b],
        user: "alice",
        password: "alice-pw",
        dataDir: `${pair.dir}/alice`,
      });
      assert.deepEqual(alice.server, b);
      assert.ok(
        alice.serviceLog().some((e) =>
          e.text === `Database unavailable: try again later; trying 127.0.0.1:${b.port}`
        ),
        JSON.stringify(alice.serviceLog()),
      );
    } finally {
      listener.close();
      await serving.catch(() => {});
    }
  });

  await t.step("close() while the first server is tried: the next one is not", async () => {
    // A server that accepts and never answers: the login waits until close().
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const silent = { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port };
    const accepted = listener.accept();
    const session = new ChatSession({
      servers: [silent, b],
      user: "alice",
      password: "alice-pw",
      dataDir: `${pair.dir}/alice`,
    });
    const log: string[] = [];
    session.addEventListener("service", (e) => log.push(e.detail.text));
    const opening = session.open();
    const conn = await accepted;
    await session.close();
    await assert.rejects(opening, ConnectionError);
    assert.ok(!log.some((l) => l.includes(`127.0.0.1:${b.port}`)), log.join("\n"));
    conn.close();
    listener.close();
  });

  await t.step("a wrong password is not tried on the next server", async () => {
    const a = pair.servers[0]!;
    let connects = 0;
    const session = new ChatSession({
      servers: [a, b],
      user: "alice",
      password: "wrong",
      dataDir: `${pair.dir}/alice`,
    });
    session.addEventListener("service", (e) => {
      if (e.detail.text.startsWith("Connected to")) connects++;
    });
    await assert.rejects(session.open(), /Access denied/);
    assert.equal(connects, 1);
  });

  await t.step("every server dead: the last one's error", async () => {
    const other = { host: "127.0.0.1", port: await closedPort() };
    await assert.rejects(
      ChatSession.connect({
        servers: [dead, other],
        user: "alice",
        password: "alice-pw",
        dataDir: `${pair.dir}/alice`,
      }),
      (e: unknown) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.match(e.message, new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${other.port}: `));
        return true;
      },
    );
  });

  await t.step("an empty list is refused", () => {
    assert.throws(
      () => new ChatSession({ servers: [], user: "alice", password: "x" }),
      /the server list is empty/,
    );
  });
});

/** A loopback port nobody listens on (bound, then closed). */
function closedPort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return Promise.resolve(port);
}

Deno.test("jim-client --host A,B follows a killed node to the other one and keeps chatting", async () => {
  await using pair = await startPair("sqlite");
  const [first, second] = pair.servers as [ServerAddress, ServerAddress];
  await using bob = await pair.session("bob");
  const got = texts(bob);
  await using alice = new ClientProcess(
    ["-u", "alice", "--host", pair.list, "--data-dir", `${pair.dir}/alice-console`],
    { JIM_PASSWORD: "alice-pw" },
  );
  await alice.waitFor(`* Connected to 127.0.0.1:${first.port}`);
  await alice.waitFor("Type /help");
  await alice.line("/msg bob one");
  await until("bob gets one", () => got.includes("one"));

  await pair.a.kill("SIGKILL");
  await alice.waitFor(/\* Connection lost: .*; reconnecting\n/);
  await alice.waitFor(`* Reconnected to 127.0.0.1:${second.port}`);
  await until("bob is back", () => bob.connected && bob.server.port === second.port);
  await alice.line("/msg bob two");
  await until("bob gets two", () => got.includes("two"));
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0, alice.stderr);
  assert.deepEqual(got, ["one", "two"]);
});

Deno.test("jim-client refuses a malformed --host list with exit 2 and says which entry", async () => {
  await using alice = new ClientProcess(
    ["-u", "alice", "--host", "127.0.0.1:7777,,127.0.0.1:7778"],
    { JIM_PASSWORD: "x" },
  );
  assert.equal(await alice.exit(), 2);
  assert.match(alice.stderr, /Invalid --host: server 2 of 3 is empty \(a stray comma\?\)/);
});

testWithTools([CHROMIUM], {
  name: "chat GUI: a list in Server IP, the node killed -9, the page follows to the other node",
  async fn() {
    await using pair = await startPair("sqlite");
    const [first, second] = pair.servers as [ServerAddress, ServerAddress];
    await using gui = await startChatGui({
      guiPort: 0,
      dataDir: `${pair.dir}/gui`,
      presencePollMs: 60_000,
    });
    await using bob = await pair.session("bob");
    const got = texts(bob);
    await using browser = await launchBrowser({
      viewport: { width: 1024, height: 720 },
      // The malformed list below is refused with a 400, on purpose.
      ignoreConsole: [/status of 400 \(Bad Request\)/],
    });
    const page = browser.page;
    page.setDefaultTimeout(20_000);
    const param = (name: string) => page.locator(`[data-param="${name}"]`);

    await page.goto(gui.url);
    await page.getByLabel("User name", { exact: true }).fill("alice");
    await page.getByLabel("Password", { exact: true }).fill("alice-pw");
    await page.getByLabel("Server IP", { exact: true }).fill("127.0.0.1:1,,x");
    await page.getByLabel("Server port", { exact: true }).fill("7777");
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await page.locator("#connection-error").getByText(/server 2 of 3 is empty/).waitFor();
    assert.equal(await page.getByLabel("Server IP").getAttribute("aria-invalid"), "true");

    await page.getByLabel("Server IP", { exact: true }).fill(pair.list);
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await param("phase").getByText("Connected", { exact: true }).waitFor();
    assert.equal(await param("port").textContent(), String(first.port));
    assert.equal(await param("servers").textContent(), "server 1 of 2");
    await page.getByLabel("Login of the contact to add").fill("bob");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.locator('button[data-contact="bob"]').click();

    await pair.a.kill("SIGKILL");
    await param("port").getByText(String(second.port), { exact: true }).waitFor();
    await param("phase").getByText("Connected", { exact: true }).waitFor();
    assert.equal(await param("servers").textContent(), "server 2 of 2");
    await until("bob is back", () => bob.connected && bob.server.port === second.port);

    const input = page.locator("#message-input");
    await input.click();
    await input.pressSequentially("from the other node");
    await input.press("Enter");
    await page.locator(".msg.status-delivered").filter({ hasText: "from the other node" })
      .waitFor();
    await until("bob gets it", () => got.includes("from the other node"));
    // The form keeps the list for the next Connect.
    assert.equal(gui.chat.state().last.host, pair.list);
    assert.deepEqual(browser.consoleErrors, []);
  },
});
