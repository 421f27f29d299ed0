import assert from "node:assert/strict";
import { ChatSession, parseServerList } from "../client/mod.ts";
import { UsageError } from "../common/usage.ts";
import { NATS_SERVER, POSTGRESQL } from "../tests/_services.ts";
import { testWithTools } from "../tests/_tools.ts";
import { parseDemoArgs } from "./cluster_demo.ts";

const DEMO = new URL("./cluster_demo.ts", import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    // A zombie has exited; only its entry remains until it is reaped.
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

testWithTools(
  [NATS_SERVER, POSTGRESQL],
  "cluster:demo starts NATS, PostgreSQL and 3 nodes, clients chat across nodes through it, and Ctrl-C leaves nothing behind",
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DEMO, "--port", "0", "--password", "demo-pw"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let out = "";
    const text = new TextDecoder();
    const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
      for await (const chunk of stream) out += text.decode(chunk, { stream: true });
    }));
    let stopped = false;
    try {
      const deadline = Date.now() + 180_000;
      while (!out.includes("Cluster demo ready.")) {
        if (Date.now() > deadline || out.includes("cluster demo: ")) {
          assert.fail(`The demo did not come up:\n${out}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const list = /deno task client -u alice --host (\S+)/.exec(out)?.[1];
      assert.ok(list, out);
      const servers = parseServerList(list, 7777);
      assert.equal(servers.length, 3);
      const pids = [
        ...[...out.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1])),
        Number(/nats-server pid (\d+)/.exec(out)?.[1]),
        Number(/PostgreSQL pid (\d+)/.exec(out)?.[1]),
      ];
      assert.equal(pids.length, 5, out);
      assert.ok(pids.every((pid) => Number.isInteger(pid) && pid > 0 && alive(pid)), out);
      const dir = /data in (\S+)/.exec(out)?.[1];
      assert.ok(dir && Deno.statSync(dir).isDirectory, out);
      // The database password is in no node's command line.
      const password = Deno.readTextFileSync(`${dir}/db-password`);
      for (const pid of pids.slice(0, 3)) {
        assert.ok(!Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(password));
      }

      {
        const dataDir = `${dir}/clients`;
        await using alice = await ChatSession.connect({
          servers,
          user: "alice",
          password: "demo-pw",
          dataDir,
        });
        // bob starts at the second node: the message crosses the NATS hub.
        await using bob = await ChatSession.connect({
          servers: [...servers.slice(1), servers[0]!],
          user: "bob",
          password: "demo-pw",
          dataDir,
        });
        const got = Promise.withResolvers<string>();
        bob.addEventListener("message", (e) => got.resolve(e.detail.text));
        assert.deepEqual([alice.server, bob.server], [servers[0], servers[1]]);
        assert.equal((await alice.send("bob", "hello through the demo")).status, "delivered");
        assert.equal(await got.promise, "hello through the demo");
      }

      child.kill("SIGINT");
      stopped = true;
      const { code } = await child.status;
      await reading;
      assert.equal(code, 0, out);
      assert.match(out, /Cluster demo stopped/);
      for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is still running\n${out}`);
      assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
    } finally {
      if (!stopped) {
        child.kill("SIGINT");
        await child.status;
        await reading;
      }
    }
  },
);

Deno.test("parseDemoArgs() takes --nodes, --port and --password, and refuses bad values", () => {
  assert.deepEqual(parseDemoArgs([], {}), { nodes: 3, port: 7771, password: undefined });
  assert.deepEqual(parseDemoArgs(["--nodes", "2", "--port", "0"], { JIM_DEMO_PASSWORD: "x" }), {
    nodes: 2,
    port: 0,
    password: "x",
  });
  for (
    const argv of [
      ["--nodes", "0"],
      ["--nodes", "10"],
      ["--port", "x"],
      ["--port", "65535"],
      ["--bogus"],
      ["--password", "p".repeat(1025)],
    ]
  ) {
    assert.throws(() => parseDemoArgs(argv, {}), UsageError, argv.join(" "));
  }
});
