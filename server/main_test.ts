import assert from "node:assert/strict";
import { parseInvocation, serveSettings } from "./main.ts";
import { JimServer } from "./server.ts";
import { SqliteStorage } from "./storage/sqlite/mod.ts";
import {
  connectRaw,
  now,
  type RawConnection,
  requireTool,
  selfSignedCert,
  startTestServer,
} from "./testing.ts";
import { BASE_RESERVE } from "./_fd_limit.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

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
    ["bad number", ["--port", "seven"], 2, /Invalid value for --port: seven/],
    ["flag of another command", ["serve", "--legacy"], 2, /Invalid flag for serve: --legacy/],
    ["missing name", ["user", "add", "--password-stdin"], 2, /Missing argument/],
    ["tls half given", ["--tls-cert", "x.pem"], 2, /--tls-cert and --tls-key go together/],
    ["bad log level", ["--log-level", "loud"], 2, /Invalid value for --log-level/],
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

Deno.test("jim-server serve logs JSON and fails with exit 1 on a busy port", async (t) => {
  await using dir = await tempDir();
  const db = `${dir.path}/json.db`;
  await using first = new ServerProcess(["--port", "0", "--db", db, "--log-format", "json"]);
  const port = await first.port();
  await t.step("every line is JSON", () => {
    for (const line of first.lines) {
      const record = JSON.parse(line);
      assert.equal(typeof record.time, "string");
      assert.equal(typeof record.level, "string");
    }
  });
  await t.step("a second server on the same port exits 1", async () => {
    const run = await cli(["--port", String(port), "--db", db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^jim-server: Cannot listen on 127\.0\.0\.1:\d+: address in use/);
  });
  first.child.kill("SIGTERM");
  assert.equal((await first.finish()).code, 0);
});

const HAS_SCRIPT = (() => {
  try {
    Deno.statSync("/usr/bin/script");
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "jim-server user add prompts for the password on a terminal without echo",
  // util-linux `script` provides the pseudo-terminal; without it there is no TTY to test.
  ignore: !HAS_SCRIPT,
  fn: async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/pty.db`;
    const command = [Deno.execPath(), "run", "-A", MAIN, "user", "add", "ptyuser", "--db", db]
      .concat(["--iterations", "4096"])
      .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
      .join(" ");
    const child = new Deno.Command("/usr/bin/script", {
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
});

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

const PRLIMIT = requireTool("prlimit", "a server with a low descriptor limit");

Deno.test({
  name:
    "jim-server serve fits its connection cap under the descriptor limit and answers 503 past it",
  ignore: PRLIMIT.skip,
  async fn() {
    await using dir = await tempDir();
    const limit = 150;
    await using server = new ServerProcess(
      ["--port", "0", "--db", `${dir.path}/fd.db`, "--max-connections-per-ip", "1000"],
      {},
      [PRLIMIT.path(), `--nofile=${limit}:${limit}`],
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
      /Invalid value for --max-contacts: must be above 0/,
    );
  });
});
