import assert from "node:assert/strict";
import { DEFAULT_ITERATIONS } from "../protocol/mod.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./limits.ts";
import { type CliIo, FLAGS, parseInvocation, serveSettings } from "./cli.ts";
import { JimServer } from "./server.ts";
import { addUser } from "./accounts.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";
import { connectRaw, now, type RawConnection, selfSignedCert, startTestServer } from "./testing.ts";
import { BASE_RESERVE } from "./_fd_limit.ts";
import { PRLIMIT, SCRIPT, testWithTools } from "../tests/_tools.ts";

const MAIN = new URL("../bin/jim-server.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion in a child Deno. */
async function cli(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** A `serve` child process; reads its stdout continuously so the pipe never fills. */
class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #reading: Promise<void>;
  readonly #stderr: Promise<string>;
  #waiters: (() => void)[] = [];

  /** `wrap` runs the server under another program, e.g. `["prlimit", "--nofile=150"]`. */
  constructor(args: string[], env: Record<string, string> = {}, wrap: string[] = []) {
    const command = [...wrap, Deno.execPath(), "run", "-A", MAIN, ...args];
    this.child = new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    const stdout = this.child.stdout;
    this.#reading = (async () => {
      let rest = "";
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
        for (const wake of this.#waiters.splice(0)) wake();
      }
      if (rest) this.lines.push(rest);
      for (const wake of this.#waiters.splice(0)) wake();
    })();
    this.#stderr = new Response(this.child.stderr).text();
  }

  /** Waits for a stdout line matching `pattern`. */
  async line(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (Date.now() > deadline) {
        throw new Error(`No line matching ${pattern} in:\n${this.lines.join("\n")}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 100))),
      ]);
      clearTimeout(timer);
    }
  }

  async port(): Promise<number> {
    return Number((await this.line(/Listening on 127\.0\.0\.1:(\d+)/))[1]);
  }

  async finish(): Promise<{ code: number; stderr: string }> {
    const status = await this.child.status;
    await this.#reading;
    return { code: status.code, stderr: await this.#stderr };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.finish();
  }
}

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "jim-cli-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

Deno.test("jim-server --help and --version exit 0", async (t) => {
  await t.step("--version", async () => {
    const run = await cli(["--version"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^jim-server \d+\.\d+\.\d+ \(Deno \d+\.\d+\.\d+\)\n$/);
  });
  await t.step("--help lists the commands", async () => {
    const run = await cli(["--help"]);
    assert.equal(run.code, 0);
    for (const cmd of ["serve", "user add", "user list", "user passwd", "user remove"]) {
      assert.ok(run.stdout.includes(cmd), cmd);
    }
  });
  await t.step("every command has --help", async () => {
    for (const args of [["serve", "-h"], ["user", "add", "--help"], ["--help", "user", "list"]]) {
      const run = await cli(args);
      assert.equal(run.code, 0, args.join(" "));
      assert.match(run.stdout, /Usage: jim-server/);
    }
    const serve = await cli(["serve", "--help"]);
    assert.match(serve.stdout, /--rate-limit VALUE.*\[JIM_RATE_LIMIT\]/);
  });
});

Deno.test("jim-server reports usage errors with exit 2 and failures with exit 1", async (t) => {
  await using dir = await tempDir();
  const cases: [string, string[], number, RegExp][] = [
    ["unknown command", ["frobnicate"], 2, /Unknown command: frobnicate/],
    ["unknown flag", ["--frob"], 2, /Unknown option '--frob'/],
    [
      "bad number",
      ["--port", "seven"],
      2,
      /Invalid --port: expected a port from 0 to 65535, got "seven"/,
    ],
    ["flag of another command", ["serve", "--legacy"], 2, /Invalid flag for serve: --legacy/],
    ["missing name", ["user", "add", "--password-stdin"], 2, /Missing argument/],
    ["tls half given", ["--tls-cert", "x.pem"], 2, /--tls-cert and --tls-key go together/],
    [
      "bad log level",
      ["--log-level", "loud"],
      2,
      /Invalid --log-level: expected error, warn, info or debug, got "loud"/,
    ],
    ["bad iterations", ["user", "add", "x", "--iterations", "10", "--password-stdin"], 2, /4096/],
    [
      "no tty for the prompt",
      ["user", "add", "x", "--db", `${dir.path}/a.db`],
      2,
      /--password-stdin/,
    ],
    [
      "unopenable database",
      ["user", "list", "--db", `${dir.path}/no/such/dir/x.db`],
      1,
      /Cannot open database/,
    ],
    [
      "removing a missing user",
      ["user", "remove", "ghost", "--db", `${dir.path}/a.db`],
      1,
      /No such client: ghost/,
    ],
  ];
  for (const [name, args, code, pattern] of cases) {
    await t.step(name, async () => {
      const run = await cli(args);
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stderr.split("\n")[0]!, pattern);
      assert.match(run.stderr.split("\n")[0]!, /^jim-server: /);
    });
  }
});

Deno.test("jim-server user commands manage users with flags before or after", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/users.db`;
  await t.step("add with --password-stdin, --iterations and --legacy", async () => {
    const run = await cli(
      ["--db", db, "user", "add", "Alice", "--password-stdin", "--iterations", "4096", "--legacy"],
      { stdin: "alice-pw\n" },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Added user Alice \(with legacy hash\)/);
  });
  await t.step("the database path may come from JIM_DB", async () => {
    const run = await cli(["user", "add", "bob", "--password-stdin", "--iterations", "4096"], {
      stdin: "bob-pw",
      env: { JIM_DB: db },
    });
    assert.equal(run.code, 0, run.stderr);
  });
  await t.step(
    "--password-stdin and --legacy may come from JIM_PASSWORD_STDIN and JIM_LEGACY",
    async () => {
      const run = await cli(["user", "add", "carol", "--iterations", "4096"], {
        stdin: "carol-pw\n",
        env: { JIM_DB: `${dir.path}/env.db`, JIM_PASSWORD_STDIN: "1", JIM_LEGACY: "true" },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Added user carol \(with legacy hash\)/);
    },
  );
  await t.step("a duplicate in another case is refused with exit 1", async () => {
    const run = await cli(["user", "add", "ALICE", "--db", db, "--password-stdin"], {
      stdin: "x\n",
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Client already exists: Alice/);
  });
  await t.step("list shows a table, newest first", async () => {
    const run = await cli(["user", "list", "--db", db]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.match(lines[0]!, /^LOGIN\s+LAST SEEN\s+LAST IP\s+CREATED\s+LEGACY$/);
    assert.match(lines[1]!, /^bob\s+never\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+no$/);
    assert.match(lines[2]!, /^Alice\s+never\s+-\s+.*\s+yes$/);
  });
  await t.step("remove deletes the user", async () => {
    const run = await cli(["user", "remove", "bob", "--db", db]);
    assert.equal(run.code, 0, run.stderr);
    const list = await cli(["user", "list", "--db", db]);
    assert.ok(!list.stdout.includes("bob"));
  });
});

Deno.test("jim-server user add refuses look-alike names with the reason", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/names.db`;
  for (const name of ["alice", "bob", "pop"]) {
    const run = await cli([
      "user",
      "add",
      name,
      "--db",
      db,
      "--password-stdin",
      "--iterations",
      "4096",
    ], {
      stdin: "pw\n",
    });
    assert.equal(run.code, 0, run.stderr);
  }
  // No --password-stdin and no terminal: every refusal below comes before the password prompt.
  const refused: [string, string, number, string][] = [
    ["Cyrillic а", "\u0430lice", 2, "Invalid login: mixes Latin and Cyrillic"],
    ["Cyrillic і", "al\u0456ce", 2, "Invalid login: mixes Latin and Cyrillic"],
    ["Greek ο", "b\u03bfb", 2, "Invalid login: mixes Latin and Greek"],
    ["fullwidth ａ", "\uff41lice", 1, "Client already exists: alice"],
    ["U+034F", "alice\u034f", 2, "Invalid login: contains an invisible character U+034F"],
    ["U+FE0F", "alice\ufe0f", 2, "Invalid login: contains an invisible character U+FE0F"],
    ["U+3164", "alice\u3164", 2, "Invalid login: contains an invisible character U+3164"],
    ["only U+3164", "\u3164", 2, "Invalid login: contains an invisible character U+3164"],
    ["all-Cyrillic рор", "\u0440\u043e\u0440", 1, "Invalid login: looks like existing user pop"],
    ["RFC 8265: a space", "foo bar", 2, "Invalid login: contains a space character U+0020"],
    [
      "RFC 8265: ♚",
      "\u265a",
      2,
      'Invalid login: may hold only letters, digits, "_", "-" and ".", not "♚" (U+265A)',
    ],
  ];
  for (const [label, name, code, message] of refused) {
    await t.step(label, async () => {
      const run = await cli(["user", "add", name, "--db", db]);
      assert.equal(run.code, code, run.stderr);
      assert.equal(run.stderr.trim(), `jim-server: ${message}`);
    });
  }
  await t.step("single scripts and RFC 8265's legal names are added", async () => {
    for (const name of ["Дмитрий", "李雷", "fußball", "π", "ς"]) {
      const run = await cli([
        "user",
        "add",
        name,
        "--db",
        db,
        "--password-stdin",
        "--iterations",
        "4096",
      ], {
        stdin: "pw\n",
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), `Added user ${name}`);
    }
    const list = await cli(["user", "list", "--db", db]);
    assert.ok(!list.stdout.includes("Name conflict"), list.stdout);
  });
});

Deno.test("jim-server user add stores 600,000 PBKDF2 iterations when --iterations is not given", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/default.db`;
  const add = await cli(["user", "add", "erin", "--db", db, "--password-stdin"], {
    stdin: "erin-pw\n",
  });
  assert.equal(add.code, 0, add.stderr);
  await using storage = SqliteStorage.open(db);
  assert.equal(DEFAULT_ITERATIONS, 600_000);
  assert.equal((await storage.users.credentials("erin"))!.scram.iterations, 600_000);
  // And the flag, when given, wins.
  const fast = await cli(["user", "add", "finn", "--db", db, "--password-stdin"], {
    stdin: "finn-pw\n",
    env: { JIM_ITERATIONS: "5000" },
  });
  assert.equal(fast.code, 0, fast.stderr);
  assert.equal((await storage.users.credentials("finn"))!.scram.iterations, 5000);
});

/** One value per limit flag, each distinct, with what the server must get. */
const LIMIT_FLAGS: [flag: string, value: string, key: keyof ServerLimits, expected: number][] = [
  ["max-frame-bytes", "20000", "maxFrameBytes", 20_000],
  ["max-message-length", "2000", "maxMessageLength", 2000],
  ["auth-timeout", "1.5", "authTimeoutMs", 1500],
  ["idle-timeout", "7", "idleProbeMs", 7000],
  ["probe-timeout", "0.25", "probeGraceMs", 250],
  ["rate-limit", "2.5", "rateLimit", 2.5],
  ["rate-burst", "3", "rateBurst", 3],
  ["max-backlog", "11", "maxBacklog", 11],
  ["max-failed-logins", "4", "maxFailedLogins", 4],
  ["lockout-window", "90", "failedLoginWindowMs", 90_000],
  ["max-connections", "500", "maxConnections", 500],
  ["max-connections-per-ip", "1", "maxConnectionsPerIp", 1],
  ["max-outbound-bytes", "65536", "maxOutboundBytes", 65_536],
  ["read-buffer-bytes", "4096", "readBufferBytes", 4096],
  ["linger", "0.5", "lingerMs", 500],
  ["max-failed-logins-per-ip", "9", "maxFailedLoginsPerIp", 9],
  ["takeover-timeout", "2.5", "takeoverTimeoutMs", 2500],
  ["max-contacts", "77", "maxContacts", 77],
  // issue 12, messaging
  ["max-offline-messages", "40", "maxOfflineMessages", 40],
  ["max-sessions-per-user", "3", "maxSessionsPerUser", 3],
  ["history-page-max", "60", "maxHistoryPage", 60],
  ["history-days", "30", "historyDays", 30],
  // Rooms (issue 13).
  ["max-room-members", "500", "maxRoomMembers", 500],
  ["max-rooms-per-user", "12", "maxRoomsPerUser", 12],
  ["max-room-name", "20", "maxRoomName", 20],
];

Deno.test("jim-server serve wires every limit flag and variable to the server, seconds as ms", async (t) => {
  const expected = { ...DEFAULT_SERVER_LIMITS };
  for (const [, , key, value] of LIMIT_FLAGS) expected[key] = value;
  await t.step("every limit has exactly one flag, and the table here covers them all", () => {
    const wired = Object.values(FLAGS).flatMap((spec) => spec.limit ? [spec.limit[0]] : []);
    assert.deepEqual([...wired].sort(), Object.keys(DEFAULT_SERVER_LIMITS).sort());
    assert.deepEqual(
      LIMIT_FLAGS.map(([f]) => f).sort(),
      Object.keys(FLAGS).filter((f) => FLAGS[f]!.limit).sort(),
    );
  });
  const noEnv: CliIo = { out: () => {}, err: () => {}, env: () => undefined };
  await t.step("from flags", () => {
    const argv = ["serve", ...LIMIT_FLAGS.flatMap(([flag, value]) => [`--${flag}`, value])];
    assert.deepEqual(serveSettings(parseInvocation(argv, noEnv).values).limits, expected);
  });
  await t.step("from JIM_* variables", () => {
    const env = new Map(LIMIT_FLAGS.map(([flag, value]) => [FLAGS[flag]!.env!, value]));
    const io: CliIo = { ...noEnv, env: (name) => env.get(name) };
    assert.deepEqual(serveSettings(parseInvocation(["serve"], io).values).limits, expected);
  });
  await t.step("in a running server", async () => {
    await using dir = await tempDir();
    await using server = new ServerProcess([
      "serve",
      "--port",
      "0",
      "--db",
      `${dir.path}/limits.db`,
      ...LIMIT_FLAGS.flatMap(([flag, value]) => [`--${flag}`, value]),
    ]);
    const port = await server.port();
    const settings = (await server.line(/^jim-server settings: /)).input!;
    for (const [key, value] of Object.entries(expected)) {
      assert.match(settings, new RegExp(` ${key}=${value}( |$)`), key);
    }
    // The server itself enforces them: a second connection from one address is refused.
    await using first = await connectRaw({ host: "127.0.0.1", port });
    assert.equal(
      (await first.request({ action: "presence", time: now(), user: { account_name: "x" } }))
        .response,
      401,
    );
    await using second = await connectRaw({ host: "127.0.0.1", port });
    assert.deepEqual(await second.closedByServer(), [
      { response: 503, error: "Too many connections from 127.0.0.1: the limit is 1" },
    ]);
    server.child.kill("SIGTERM");
    assert.equal((await server.finish()).code, 0);
  });
});

Deno.test("jim-server user add and passwd take effect on a running server at once", async () => {
  await using srv = await startTestServer({ users: [{ login: "alice", password: "old-pw" }] });
  const add = await cli(
    ["user", "add", "dave", "--db", srv.dbPath, "--password-stdin", "--iterations", "4096"],
    { stdin: "dave-pw\n" },
  );
  assert.equal(add.code, 0, add.stderr);
  {
    await using dave = await connectRaw(srv);
    assert.equal((await dave.login("dave", "dave-pw")).response, 200);
  }
  const passwd = await cli(
    ["user", "passwd", "alice", "--db", srv.dbPath, "--password-stdin", "--iterations", "4096"],
    { stdin: "new-pw\n" },
  );
  assert.equal(passwd.code, 0, passwd.stderr);
  await using alice = await connectRaw(srv);
  assert.equal((await alice.login("alice", "old-pw")).response, 402);
  assert.equal((await alice.login("alice", "new-pw")).response, 200);
});

Deno.test("jim-server user remove ends the removed user's session on a running server", async () => {
  await using srv = await startTestServer({
    users: [{ login: "alice", password: "a-pw" }, { login: "bob", password: "b-pw" }],
  });
  using disconnects = srv.server.events.subscribe({ types: ["disconnect"] });
  await using alice = await connectRaw(srv);
  await using bob = await connectRaw(srv);
  assert.equal((await alice.login("alice", "a-pw")).response, 200);
  assert.equal((await bob.login("bob", "b-pw")).response, 200);

  const remove = await cli(["user", "remove", "Alice", "--db", srv.dbPath]);
  assert.equal(remove.code, 0, remove.stderr);
  // The server notices the other process's commit in its sweep and says why before closing.
  assert.deepEqual(await alice.closedByServer(), [{ response: 403, error: "Account removed" }]);
  alice.close();
  const event = await disconnects.next();
  assert.equal(event?.conn?.user, "alice");
  assert.equal(event?.message, "Account removed");
  assert.equal(srv.server.isOnline("alice"), false);

  // Bob was re-checked too and goes on; alice is gone from the directory.
  assert.equal(srv.server.isOnline("bob"), true);
  assert.deepEqual(await bob.request({ action: "get_users", time: now() }), {
    response: 202,
    users: ["bob"],
  });
  assert.deepEqual(
    await bob.request({ action: "msg", time: now(), to: "alice", message: "hi" }),
    { response: 404, error: "No such client: alice" },
  );
});

Deno.test("jim-server serve prints its settings and stops gracefully on SIGTERM and SIGINT", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/serve.db`;
  const add = await cli([
    "user",
    "add",
    "alice",
    "--db",
    db,
    "--password-stdin",
    "--iterations",
    "4096",
  ], {
    stdin: "pw\n",
  });
  assert.equal(add.code, 0, add.stderr);

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await t.step(signal, async () => {
      await using server = new ServerProcess(
        ["--port", "0", "serve", "--db", db, "--rate-limit", "0"],
        { JIM_MAX_BACKLOG: "50" },
      );
      const port = await server.port();
      const settings = await server.line(/^jim-server settings: /);
      assert.match(settings.input!, /rateLimit=0 /);
      assert.match(settings.input!, /maxBacklog=50 /);
      assert.match(settings.input!, /legacy-auth=false/);
      await using conn = await connectRaw({ host: "127.0.0.1", port });
      assert.equal((await conn.login("alice", "pw")).response, 200);
      await server.line(/ login #\d+ 127\.0\.0\.1:\d+ alice/);
      server.child.kill(signal);
      const frames = await conn.closedByServer(15_000);
      assert.deepEqual(frames, [{ response: 503, error: "Server shutting down" }]);
      const { code, stderr } = await server.finish();
      assert.equal(code, 0, stderr);
      await server.line(/ stop Server stopped/);
    });
  }
  await t.step("the database was closed cleanly and history was written", async () => {
    const run = await cli(["user", "list", "--db", db]);
    assert.match(run.stdout, /^alice\s+\d{4}-.*127\.0\.0\.1/m);
  });
});

/** Every value under a secret-bearing key, at any depth. */
function secretFields(value: unknown, out: unknown[] = []): unknown[] {
  if (value === null || typeof value !== "object") return out;
  for (const [key, item] of Object.entries(value)) {
    if (["password", "token", "data", "digest", "proof"].includes(key)) out.push(item);
    else secretFields(item, out);
  }
  return out;
}

Deno.test("jim-server serve logs JSON: connections, logins, messages and errors, no secret", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/json.db`;
  const passwords = { alice: "alice-json-secret", bob: "bob-json-secret" };
  for (const [login, password] of Object.entries(passwords)) {
    const add = await cli(
      ["user", "add", login, "--db", db, "--password-stdin", "--iterations", "4096", "--legacy"],
      { stdin: `${password}\n` },
    );
    assert.equal(add.code, 0, add.stderr);
  }
  await using first = new ServerProcess(
    ["--port", "0", "--db", db, "--log-format", "json", "--log-level", "debug", "--legacy-auth"],
  );
  const port = await first.port();
  {
    await using alice = await connectRaw({ host: "127.0.0.1", port });
    await using bob = await connectRaw({ host: "127.0.0.1", port });
    assert.equal((await alice.login("alice", "wrong-guess")).response, 402);
    assert.equal((await alice.login("alice", passwords.alice)).response, 200);
    assert.equal((await bob.legacyLogin("bob", passwords.bob)).response, 200);
    const sent = await alice.request({ action: "msg", time: now(), to: "bob", message: "hi json" });
    assert.equal(sent.response, 200);
    assert.equal((await bob.next()).message, "hi json");
    await alice.request({ action: "quit", time: now() });
  }
  await first.line(/"type":"push".*"message":"hi json"/);
  await first.line(/"type":"disconnect".*"user":"alice"/);
  const records = first.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const find = (what: string, check: (r: Record<string, unknown>) => boolean) => {
    const found = records.find(check);
    assert.ok(found, `no ${what} in:\n${first.lines.join("\n")}`);
    return found;
  };
  const conn = (r: Record<string, unknown>) => r.conn as Record<string, unknown> | undefined;
  const payload = (r: Record<string, unknown>) => r.payload as Record<string, unknown> | undefined;

  await t.step("every line is JSON with an ISO time and a level", () => {
    for (const record of records) {
      assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(["debug", "info", "error"].includes(String(record.level)), String(record.level));
    }
    assert.equal(records[0]!.type, "settings");
    find("start", (r) => r.type === "start" && r.message === `Listening on 127.0.0.1:${port}`);
  });
  await t.step("connect, error, login, message, push and disconnect events", () => {
    const connect = find("connect", (r) => r.type === "connect");
    assert.equal(connect.level, "info");
    assert.equal(conn(connect)?.ip, "127.0.0.1");
    assert.equal(typeof conn(connect)?.port, "number");
    const error = find("error", (r) => r.type === "error");
    assert.equal(error.level, "error");
    assert.match(String(error.message), /Failed login as alice/);
    const login = find("login", (r) => r.type === "login" && conn(r)?.user === "alice");
    assert.equal(login.message, "Logged in");
    find("bob's login", (r) => r.type === "login" && conn(r)?.user === "bob");
    const msg = find("msg", (r) => r.type === "request" && payload(r)?.action === "msg");
    assert.equal(msg.level, "debug");
    assert.deepEqual([conn(msg)?.user, payload(msg)?.to, payload(msg)?.message], [
      "alice",
      "bob",
      "hi json",
    ]);
    const push = find("push", (r) => r.type === "push" && payload(r)?.action === "msg");
    assert.deepEqual([conn(push)?.user, payload(push)?.from], ["bob", "alice"]);
    find("disconnect", (r) => r.type === "disconnect" && conn(r)?.user === "alice");
  });
  await t.step("no secret: passwords, digests, tokens and SCRAM data are redacted", () => {
    const text = first.lines.join("\n");
    for (const secret of [...Object.values(passwords), "wrong-guess"]) {
      assert.ok(!text.includes(secret), `${secret} was logged`);
    }
    const secrets = records.flatMap((r) => secretFields(r));
    assert.ok(secrets.length >= 5, `expected redacted fields, got ${secrets.length}`);
    assert.deepEqual(new Set(secrets), new Set(["[redacted]"]));
  });
  await t.step("a second server on the same port exits 1", async () => {
    const run = await cli(["--port", String(port), "--db", db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^jim-server: Cannot listen on 127\.0\.0\.1:\d+: address in use/);
  });
  first.child.kill("SIGTERM");
  assert.equal((await first.finish()).code, 0);
});

// util-linux `script` provides the pseudo-terminal; without it there is no TTY to test.
testWithTools(
  [SCRIPT],
  "jim-server user add prompts for the password on a terminal without echo",
  async (_t, { script }) => {
    await using dir = await tempDir();
    const db = `${dir.path}/pty.db`;
    const command = [Deno.execPath(), "run", "-A", MAIN, "user", "add", "ptyuser", "--db", db]
      .concat(["--iterations", "4096"])
      .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
      .join(" ");
    const child = new Deno.Command(script, {
      args: ["-qfec", command, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const writer = child.stdin.getWriter();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const waitFor = async (text: string) => {
      while (!seen.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`Output ended before ${JSON.stringify(text)}: ${seen}`);
        seen += value;
      }
    };
    await waitFor("Password: ");
    await writer.write(new TextEncoder().encode("tty-secret\r"));
    await waitFor("Repeat password: ");
    await writer.write(new TextEncoder().encode("tty-secret\r"));
    await waitFor("Added user ptyuser");
    await writer.close();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const [status] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(status.code, 0);
    assert.ok(!seen.includes("tty-secret"), `the password was echoed: ${JSON.stringify(seen)}`);
    // Log in against the database the CLI wrote, through a server on it.
    await using storage = SqliteStorage.open(db);
    await using server = await JimServer.listen({ storage, port: 0 });
    await using conn = await connectRaw({ host: "127.0.0.1", port: server.addr.port });
    assert.equal((await conn.login("ptyuser", "tty-secret")).response, 200);
  },
);

Deno.test("jim-server serve over TLS logs requests at debug level with secrets redacted", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/debug.db`;
  const tls = await selfSignedCert(dir.path);
  const add = await cli(
    ["user", "add", "seed", "--db", db, "--password-stdin", "--iterations", "4096", "--legacy"],
    { stdin: "secret\n" },
  );
  assert.equal(add.code, 0, add.stderr);
  await using server = new ServerProcess(
    ["serve", "--port", "0", "--db", db, "--log-level", "debug"],
    {
      JIM_TLS_CERT: `${dir.path}/cert.pem`,
      JIM_TLS_KEY: `${dir.path}/key.pem`,
      JIM_LEGACY_AUTH: "true",
    },
  );
  await server.line(/Listening on 127\.0\.0\.1:\d+ \(TLS\)/);
  const port = await server.port();
  {
    await using scram = await connectRaw({ host: "127.0.0.1", port }, { caCert: tls.cert });
    assert.equal((await scram.login("seed", "secret")).response, 200);
    await scram.request({ action: "quit", time: 1 });
  }
  await server.line(/ disconnect #1 /);
  await using legacy = await connectRaw({ host: "127.0.0.1", port }, { caCert: tls.cert });
  assert.equal((await legacy.legacyLogin("seed", "secret")).response, 200);
  await server.line(/ response #2 .*"alert":"OK"/);
  server.child.kill("SIGTERM");
  assert.equal((await server.finish()).code, 0);
  const log = server.lines.join("\n");
  assert.match(log, /legacy-auth=true/);
  assert.match(log, / request #\d+ .*"action":"authenticate"/);
  assert.match(log, /"password":"\[redacted\]"/);
  assert.match(log, /"token":"\[redacted\]"/);
  assert.match(log, /"data":"\[redacted\]"/);
  assert.ok(!/"(?:password|token|data)":"(?!\[redacted\])/.test(log), "a secret was logged");
});

Deno.test("jim-server serve at the default level prints no requests", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/info.db`;
  await cli(["user", "add", "a", "--db", db, "--password-stdin", "--iterations", "4096"], {
    stdin: "pw\n",
  });
  await using server = new ServerProcess(["--port", "0", "--db", db]);
  const port = await server.port();
  {
    await using conn = await connectRaw({ host: "127.0.0.1", port });
    assert.equal((await conn.login("a", "wrong")).response, 402);
    assert.equal((await conn.login("a", "pw")).response, 200);
  }
  await server.line(/ disconnect #1 127\.0\.0\.1:\d+ a /);
  server.child.kill("SIGINT");
  assert.equal((await server.finish()).code, 0);
  const log = server.lines.join("\n");
  assert.match(log, / connect #1 /);
  assert.match(log, / ERROR error #1 .*Failed login as a/);
  assert.match(log, / login #1 127\.0\.0\.1:\d+ a Logged in/);
  assert.ok(!/ (request|response|push) #/.test(log), log);
});

testWithTools([PRLIMIT], {
  name:
    "jim-server serve fits its connection cap under the descriptor limit and answers 503 past it",
  async fn(_t, { prlimit }) {
    await using dir = await tempDir();
    const limit = 150;
    await using server = new ServerProcess(
      ["--port", "0", "--db", `${dir.path}/fd.db`, "--max-connections-per-ip", "1000"],
      {},
      [prlimit, `--nofile=${limit}:${limit}`],
    );
    const port = await server.port();
    const settings = (await server.line(/^jim-server settings: /)).input!;
    assert.match(settings, new RegExp(` openFileLimit=${limit}(\\s|$)`));
    const cap = Number(settings.match(/ maxConnections=(\d+) /)?.[1]);
    assert.ok(cap > 0 && cap <= limit - BASE_RESERVE, `maxConnections=${cap} under ${limit}`);
    const admitted: RawConnection[] = [];
    try {
      for (let i = 0; i < cap; i++) {
        const conn = await connectRaw({ host: "127.0.0.1", port });
        admitted.push(conn);
        assert.equal((await conn.request({ action: "get_users", time: now() })).response, 401);
      }
      // One past the cap: told and closed, not left to time out.
      await using extra = await connectRaw({ host: "127.0.0.1", port });
      assert.deepEqual(await extra.closedByServer(), [{
        response: 503,
        error: `Too many connections: the server allows ${cap}`,
      }]);
      // A freed place is taken again.
      admitted.shift()!.close();
      let reply: Record<string, unknown> | undefined;
      for (let attempt = 0; attempt < 100 && reply?.response !== 401; attempt++) {
        await using again = await connectRaw({ host: "127.0.0.1", port });
        reply = await again.request({ action: "get_users", time: now() });
      }
      assert.equal(reply?.response, 401);
    } finally {
      for (const conn of admitted) conn.close();
    }
  },
});

Deno.test("serveSettings() wires the login, takeover and contact limits from flags and variables", async (t) => {
  await t.step("flags, seconds turned into milliseconds", () => {
    const { limits } = serveSettings(
      parseInvocation([
        "--max-failed-logins-per-ip",
        "7",
        "--takeover-timeout",
        "3",
        "--max-contacts",
        "50",
      ], { out() {}, err() {}, env: () => undefined }).values,
    );
    assert.equal(limits.maxFailedLoginsPerIp, 7);
    assert.equal(limits.takeoverTimeoutMs, 3000);
    assert.equal(limits.maxContacts, 50);
  });
  await t.step("JIM_* variables", () => {
    const env: Record<string, string> = {
      JIM_MAX_FAILED_LOGINS_PER_IP: "9",
      JIM_TAKEOVER_TIMEOUT: "0.5",
      JIM_MAX_CONTACTS: "2",
    };
    const { limits } = serveSettings(
      parseInvocation([], { out() {}, err() {}, env: (name) => env[name] }).values,
    );
    assert.equal(limits.maxFailedLoginsPerIp, 9);
    assert.equal(limits.takeoverTimeoutMs, 500);
    assert.equal(limits.maxContacts, 2);
  });
  await t.step("0 is refused", () => {
    assert.throws(
      () => serveSettings({ "max-contacts": "0" }),
      /Invalid --max-contacts: expected a number above 0, got "0"/,
    );
  });
});

Deno.test("jim-server serve takes the messaging policy and refuses bad values", async (t) => {
  const noEnv: CliIo = { out: () => {}, err: () => {}, env: () => undefined };
  await t.step("--offline-messages and JIM_OFFLINE_MESSAGES", () => {
    assert.equal(serveSettings({}).offlineMessages, "store");
    assert.equal(serveSettings({ "offline-messages": "reject" }).offlineMessages, "reject");
    const io: CliIo = { ...noEnv, env: (n) => n === "JIM_OFFLINE_MESSAGES" ? "reject" : undefined };
    assert.equal(serveSettings(parseInvocation(["serve"], io).values).offlineMessages, "reject");
  });
  await t.step("bad values are usage errors", () => {
    assert.throws(
      () => serveSettings({ "offline-messages": "drop" }),
      /Invalid --offline-messages: expected store or reject, got "drop"/,
    );
    assert.throws(() => serveSettings({ "history-page-max": "101" }), /--history-page-max/);
    assert.throws(() => serveSettings({ "max-sessions-per-user": "0" }), /above 0/);
    assert.equal(serveSettings({ "history-days": "0" }).limits.historyDays, 0);
  });
});

Deno.test("jim-server history purge drops messages older than --history-days", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/purge.db`;
  {
    await using storage = SqliteStorage.open(db);
    await addUser(storage.users, "alice", "pw", { iterations: 4096 });
    await addUser(storage.users, "bob", "pw", { iterations: 4096 });
    const day = 86_400_000;
    for (const [id, age] of [[1, 40], [2, 31], [3, 29], [4, 0]]) {
      await storage.messages.append({
        id: id!,
        ts: Date.now() - age! * day,
        time: 1,
        from: "alice",
        to: "bob",
        message: `aged ${age}`,
      }, { delivered: false });
    }
  }
  await t.step("without the days: a usage error, nothing dropped", async () => {
    const run = await cli(["history", "purge", "--db", db]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Missing flag for history purge: --history-days DAYS/);
  });
  await t.step("with them: the older messages go, the count is printed", async () => {
    const run = await cli(["history", "purge", "--history-days", "30", "--db", db]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Purged 2 messages older than 30 days \(before \d{4}-/);
    await using storage = SqliteStorage.open(db);
    assert.deepEqual(
      (await storage.messages.history({ caller: "bob", limit: 10 })).items.map((i) => i.message),
      ["aged 29", "aged 0"],
    );
  });
  await t.step("JIM_HISTORY_DAYS works too", async () => {
    const run = await cli(["history", "purge", "--db", db], { env: { JIM_HISTORY_DAYS: "1" } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Purged 1 message older than 1 day /);
  });
  await t.step("an unknown history command is a usage error", async () => {
    const run = await cli(["history", "drop", "--db", db]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Unknown command: history drop/);
  });
});
