/**
 * The console client on a real terminal: a tmux session (Debian's tmux) runs it, keys are
 * sent with send-keys and the screen is read with capture-pane, polled until a deadline.
 */
import { startTestServer } from "../server/testing.ts";
import { testWithTools, TMUX } from "../tests/_tools.ts";
import { assert } from "./_assert.ts";
import { type IncomingMessage, JimClient } from "./jim_client.ts";
import { ChatSession } from "./chat_session.ts";
import { FakeConvServer } from "./_fake_server.ts";

const MAIN = new URL("../bin/jim-client.ts", import.meta.url).pathname;

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
];

/** One private tmux server with one 100x30 window running a command. */
class Tmux implements AsyncDisposable {
  readonly socket = `jim-tty-test-${crypto.randomUUID().slice(0, 8)}`;
  readonly #tmux: string;

  constructor(tmux: string) {
    this.#tmux = tmux;
  }

  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command(this.#tmux, {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return text;
  }

  async start(env: Record<string, string>, args: string[]): Promise<void> {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const command = [
      "env",
      // The test runner's own NO_COLOR (CI sets it) must not leak into the terminal under test.
      ...("NO_COLOR" in env ? [] : ["-u", "NO_COLOR"]),
      ...vars,
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      ...args,
    ].map((part) => `'${part.replaceAll("'", `'\\''`)}'`).join(" ");
    // Keep the pane after the client exits so its last words and exit code can be read.
    await this.run(
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      "100",
      "-y",
      "30",
      `${command}; echo "[exited $?]"; sleep 600`,
    );
  }

  /** The visible screen; with `escapes`, including color codes. */
  screen(escapes = false): Promise<string> {
    return this.run("capture-pane", "-p", ...(escapes ? ["-e"] : []), "-t", "t");
  }

  /** The cursor's column, from 0. */
  async cursorX(): Promise<number> {
    return Number((await this.run("display-message", "-p", "-t", "t", "#{cursor_x}")).trim());
  }

  async type(text: string): Promise<void> {
    await this.run("send-keys", "-t", "t", "-l", text);
  }

  async keys(...keys: string[]): Promise<void> {
    await this.run("send-keys", "-t", "t", ...keys);
  }

  /**
   * Polls the screen until `check` holds; fails with the screen after `timeout` ms. 30 s: in
   * two full runs of the suite on a loaded machine (of eight) the first screen after
   * "Connected" took longer than 15 s to show the password prompt; alone, under load, it never
   * did (the cause is not found). The check is of order, not of speed.
   */
  async waitFor(check: (screen: string) => boolean, what: string, timeout = 30_000) {
    const deadline = Date.now() + timeout;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.screen();
      if (check(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Timed out waiting for ${what}; screen:\n${screen}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run("kill-server").catch(() => {});
  }
}

/** Lines of the screen without trailing blanks. */
function lines(screen: string): string[] {
  const all = screen.split("\n").map((l) => l.trimEnd());
  while (all.length > 0 && all.at(-1) === "") all.pop();
  return all;
}

testWithTools(
  [TMUX],
  "jim-client on a TTY: the password is not echoed",
  async (_t, { tmux: bin }) => {
    await using srv = await startTestServer({ users: USERS });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-tty-test-" });
    try {
      await using tmux = new Tmux(bin);
      await tmux.start({ JIM_DATA_DIR: dataDir, TERM: "xterm-256color" }, [
        "--user",
        "alice",
        "--port",
        String(srv.port),
      ]);
      const prompted = await tmux.waitFor(
        (s) => s.includes(`Password for alice@127.0.0.1:${srv.port}:`),
        "prompt",
      );
      // The server was reached before the password was asked for.
      const shown = lines(prompted);
      assert.ok(
        shown.indexOf(`* Connected to 127.0.0.1:${srv.port}`) >= 0 &&
          shown.indexOf(`* Connected to 127.0.0.1:${srv.port}`) <
            shown.findIndex((l) => l.startsWith("Password for")),
        prompted,
      );
      await tmux.type("alice-pw");
      await tmux.keys("Enter");
      // The prompt on the last line means the login output is complete.
      const screen = await tmux.waitFor(
        (s) => s.includes("Logged in as alice") && lines(s).at(-1) === ">",
        "login and the prompt",
      );
      assert.ok(!screen.includes("alice-pw"), `password echoed:\n${screen}`);
      assert.ok((await tmux.screen(true)).includes("\x1b["), "expected color on a TTY");
      await tmux.type("/quit");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => s.includes("[exited 0]"), "exit 0");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);

testWithTools(
  [TMUX],
  "jim-client on a TTY: an unreachable server is reported before any prompt, a refusal once",
  async (t, { tmux: bin }) => {
    await using srv = await startTestServer({ users: USERS });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-tty-test-" });
    try {
      await t.step("unreachable: no password prompt, one line, exit 1", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const closedPort = String((listener.addr as Deno.NetAddr).port);
        listener.close();
        await using tmux = new Tmux(bin);
        await tmux.start({ JIM_DATA_DIR: dataDir, NO_COLOR: "1", TERM: "xterm-256color" }, [
          "-u",
          "alice",
          "-p",
          closedPort,
        ]);
        const screen = await tmux.waitFor((s) => s.includes("[exited 1]"), "exit 1");
        assert.ok(!screen.includes("Password for"), screen);
        assert.equal(screen.match(/Cannot connect to 127\.0\.0\.1/g)?.length, 1, screen);
        assert.match(
          screen,
          new RegExp(`jim-client: Cannot connect to 127\\.0\\.0\\.1:${closedPort}: `),
        );
      });
      await t.step("wrong password: the server's reason, once", async () => {
        await using tmux = new Tmux(bin);
        await tmux.start({ JIM_DATA_DIR: dataDir, NO_COLOR: "1", TERM: "xterm-256color" }, [
          "-u",
          "alice",
          "-p",
          String(srv.port),
        ]);
        await tmux.waitFor((s) => s.includes("Password for alice@"), "prompt");
        await tmux.type("not-the-password");
        await tmux.keys("Enter");
        const screen = await tmux.waitFor((s) => s.includes("[exited 1]"), "exit 1");
        assert.equal(screen.match(/Access denied/g)?.length, 1, screen);
        assert.match(screen, /^jim-client: Access denied$/m);
        assert.ok(!screen.includes("Disconnected"), screen);
        assert.ok(!screen.includes("not-the-password"), screen);
      });
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);

testWithTools(
  [TMUX],
  "jim-client on a TTY: an incoming message does not garble the line being typed",
  async (_t, { tmux: bin }) => {
    await using srv = await startTestServer({ users: USERS });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-tty-test-" });
    try {
      await using tmux = new Tmux(bin);
      await tmux.start({
        JIM_DATA_DIR: dataDir,
        JIM_PASSWORD: "alice-pw",
        NO_COLOR: "1",
        TERM: "xterm-256color",
      }, ["chat", "-u", "alice", "-p", String(srv.port)]);
      await tmux.waitFor((s) => lines(s).at(-1) === ">", "login and the prompt");
      await using bob = await JimClient.connect({ port: srv.port });
      await bob.login("bob", "bob-pw");
      const inbox: IncomingMessage[] = [];
      bob.addEventListener("message", (e) => inbox.push(e.detail));

      await tmux.type("/chat bob");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => lines(s).at(-1) === "bob>", "the chat prompt");
      await tmux.type("hello wor");
      await tmux.waitFor((s) => lines(s).at(-1) === "bob> hello wor", "the typed text");

      await bob.send("alice", "ping while you type");
      const screen = await tmux.waitFor(
        (s) => s.includes("bob: ping while you type"),
        "the incoming message",
      );
      const shown = lines(screen);
      assert.match(shown.at(-2)!, /^\[\d\d:\d\d:\d\d\] bob: ping while you type$/);
      assert.equal(shown.at(-1), "bob> hello wor", `input line garbled:\n${screen}`);
      assert.equal(await tmux.cursorX(), "bob> hello wor".length, "cursor back at the end");
      assert.ok(!(await tmux.screen(true)).includes("\x1b[1m"), "NO_COLOR must turn color off");

      // Editing still works on the redrawn line: finish the word, fix a typo, send.
      await tmux.type("ld");
      await tmux.keys("Left", "Left", "BSpace");
      await tmux.type("R");
      await tmux.keys("End", "Enter");
      await tmux.waitFor((s) => s.includes("alice → bob: hello woRld"), "the sent line");
      // Wide characters take two columns; the cursor must land where the terminal drew them.
      await tmux.type("日本ok");
      await tmux.keys("Left", "Left");
      await tmux.waitFor((s) => lines(s).at(-1) === "bob> 日本ok", "wide text");
      const deadlineX = Date.now() + 5000;
      while (await tmux.cursorX() !== 9 && Date.now() < deadlineX) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(await tmux.cursorX(), "bob> ".length + 4);
      await tmux.keys("End", "C-u");
      const deadline = Date.now() + 10_000;
      while (inbox.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(inbox.map((m) => m.text), ["hello woRld"]);

      await tmux.keys("C-d");
      await tmux.waitFor((s) => s.includes("[exited 0]"), "exit on Ctrl-D");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);

testWithTools(
  [TMUX],
  "jim-client on a TTY: presence pushes and carbons print above the line being typed; /history shows the marks",
  async (_t, { tmux: bin }) => {
    await using srv = await FakeConvServer.start({
      users: USERS,
      contacts: [["alice", "bob"]],
    });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-tty-test-" });
    try {
      await using tmux = new Tmux(bin);
      await tmux.start({
        JIM_DATA_DIR: `${dataDir}/tty`,
        JIM_PASSWORD: "alice-pw",
        NO_COLOR: "1",
        TERM: "xterm-256color",
      }, ["chat", "-u", "alice", "-p", String(srv.port)]);
      await tmux.waitFor((s) => lines(s).at(-1) === ">", "login and the prompt");
      await tmux.type("/msg bob see you at 5");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => s.includes("see you at 5 ✓ stored"), "the stored mark");
      await tmux.type("half a li");
      await tmux.waitFor((s) => lines(s).at(-1) === "> half a li", "the typed text");

      await using bob = await ChatSession.connect({
        port: srv.port,
        user: "bob",
        password: "bob-pw",
        dataDir: `${dataDir}/bob`,
        reconnect: false,
      });
      let screen = await tmux.waitFor((s) => s.includes("* bob is online"), "the presence line");
      assert.equal(lines(screen).at(-1), "> half a li", `input line garbled:\n${screen}`);
      await using phone = await ChatSession.connect({
        port: srv.port,
        user: "alice",
        password: "alice-pw",
        dataDir: `${dataDir}/phone`,
        reconnect: false,
      });
      await phone.send("bob", "typed on my phone");
      screen = await tmux.waitFor(
        (s) => s.includes("alice → bob: typed on my phone (from another device)"),
        "the carbon",
      );
      assert.equal(lines(screen).at(-1), "> half a li", `input line garbled:\n${screen}`);
      await bob.markRead("alice");
      await tmux.keys("C-u");
      await tmux.type("/history bob");
      await tmux.keys("Enter");
      screen = await tmux.waitFor(
        (s) =>
          /#1 alice → bob: see you at 5 ✓✓ read/.test(s) && s.includes("typed on my phone ✓✓ read"),
        "/history with the read marks",
      );
      await tmux.keys("C-d");
      await tmux.waitFor((s) => s.includes("[exited 0]"), "exit on Ctrl-D");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);

testWithTools(
  [TMUX],
  "jim-client on a TTY: room lines print above the line being typed in /chat #room",
  async (_t, { tmux: bin }) => {
    await using srv = await FakeConvServer.start({ users: USERS });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-tty-test-" });
    try {
      await using tmux = new Tmux(bin);
      await tmux.start({
        JIM_DATA_DIR: dataDir,
        JIM_PASSWORD: "alice-pw",
        NO_COLOR: "1",
        TERM: "xterm-256color",
      }, ["chat", "-u", "alice", "-p", String(srv.port)]);
      await tmux.waitFor((s) => lines(s).at(-1) === ">", "login and the prompt");
      await using bob = await ChatSession.connect({
        port: srv.port,
        user: "bob",
        password: "bob-pw",
        dataDir: `${dataDir}/bob`,
        reconnect: false,
      });
      await tmux.type("/join #team");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => s.includes("* Created #team: you own it"), "the room");
      await bob.join("#team");
      await tmux.waitFor((s) => s.includes("* bob joined #team"), "bob's join");
      await tmux.type("/chat #team");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => lines(s).at(-1) === "#team>", "the room's prompt");
      await tmux.type("half a li");
      await tmux.waitFor((s) => lines(s).at(-1) === "#team> half a li", "the typed text");
      await bob.send("#team", "a line while you type");
      const screen = await tmux.waitFor(
        (s) => s.includes("#team bob: a line while you type"),
        "the room line",
      );
      const shown = lines(screen);
      assert.match(shown.at(-2)!, /^\[\d\d:\d\d:\d\d\] #team bob: a line while you type$/);
      assert.equal(shown.at(-1), "#team> half a li", `input line garbled:\n${screen}`);
      await tmux.type("ne");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => /\] #team alice: half a line$/m.test(s), "the sent line");
      const deadline = Date.now() + 10_000;
      while (!bob.messages("#team").some((m) => m.text === "half a line")) {
        if (Date.now() > deadline) throw new Error("bob never got it");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await tmux.keys("C-d");
      await tmux.waitFor((s) => s.includes("[exited 0]"), "exit on Ctrl-D");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);
