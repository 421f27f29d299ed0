/**
 * Fan-out to a 1,000-member room with one member that never reads (issue 13): the others get
 * every message, and the stalled one is dropped. Real sockets, real SQLite; the stalled
 * member sits behind a proxy with a 4 KiB receive buffer (testdata/stall_proxy.py), so that
 * the kernel does not absorb megabytes before the server's own queue fills.
 *
 * Even so the server's kernel send buffer grows to megabytes (Linux autotunes it while the
 * peer's window is shut), and filling that with the crowd room's traffic alone would mean
 * gigabytes of reads for the other members. So each round also sends 40 KB into a side room
 * whose only other member is the stalled one: its room traffic fills up in tens of rounds,
 * the crowd's members read tens of megabytes.
 *
 * The test waits for every reader to have each message before sending the next: it checks
 * who gets what, never how fast.
 */
import assert from "node:assert/strict";
import { PYTHON3, testWithTools } from "../tests/_tools.ts";
import { addUser } from "./accounts.ts";
import {
  connectRaw,
  now,
  type RawConnection,
  startTestServer,
  TEST_ITERATIONS,
} from "./testing.ts";

const MEMBERS = 1000;
const ROOM = "#crowd";
const SIDE = "#side";
const PROXY = new URL("./testdata/stall_proxy.py", import.meta.url).pathname;

async function login(target: { host: string; port: number }, user: string) {
  const conn = await connectRaw(target, { timeoutMs: 60_000 });
  const reply = await conn.login(user, "pw", { capabilities: ["ids", "rooms"] });
  assert.equal(reply.response, 200, JSON.stringify(reply));
  return conn;
}

/** The proxy process: its port, and a line-at-a-time conversation over stdin/stdout. */
class StallProxy implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered = "";

  constructor(python: string, serverPort: number) {
    this.#child = new Deno.Command(python, {
      args: [PROXY, String(serverPort)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.getReader();
  }

  async line(): Promise<string> {
    const decoder = new TextDecoder();
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("Cannot read from the proxy: it exited");
      this.#buffered += decoder.decode(value);
    }
    const at = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return line;
  }

  async command(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.command("quit").catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
    await this.#child.status;
  }
}

testWithTools([PYTHON3], {
  name: "rooms: fan-out to 1,000 members; one that never reads is dropped, the others get all",
  async fn(t, tools) {
    await using srv = await startTestServer({
      limits: {
        rateLimit: 0,
        maxConnectionsPerIp: MEMBERS + 10,
        maxOutboundBytes: 16 * 1024,
        // Logging 1,000 members in takes a while on a loaded machine: no idle probes meanwhile.
        idleProbeMs: 3_600_000,
      },
    });
    const names = Array.from({ length: MEMBERS - 1 }, (_, i) => `m${String(i).padStart(4, "0")}`);
    const everyone = [...names, "stalled"];
    for (const name of everyone) {
      await addUser(srv.storage.users, name, "pw", { iterations: TEST_ITERATIONS });
      await srv.storage.rooms.join(ROOM, name, { now: 0 });
    }
    await srv.storage.rooms.join(SIDE, "m0000", { now: 0 });
    await srv.storage.rooms.join(SIDE, "stalled", { now: 0 });
    const readers: RawConnection[] = [];
    await using proxy = new StallProxy(tools.python3, srv.port);
    try {
      await t.step("1,000 members log in, one through the stalling proxy", async () => {
        for (let i = 0; i < names.length; i += 50) {
          readers.push(
            ...await Promise.all(names.slice(i, i + 50).map((name) => login(srv, name))),
          );
        }
        const port = Number(await proxy.line());
        await using _stalled = await login({ host: "127.0.0.1", port }, "stalled");
        await proxy.command("stall");
        assert.equal(await proxy.line(), "stalled");
        assert.equal(srv.server.connectionCount, MEMBERS);
        assert.equal((await srv.storage.rooms.get(ROOM))!.members, MEMBERS);
      });
      const [sender, ...others] = readers;
      const text = "x".repeat(1000);
      const padding = "p".repeat(4000);
      const ids: number[] = [];
      /** Sends one message and waits until every other reader has it. */
      const round = async () => {
        for (let i = 0; i < 10; i++) {
          const pad = await sender!.request({
            action: "msg",
            time: now(),
            to: SIDE,
            message: padding,
          });
          assert.equal(pad.response, 200, JSON.stringify(pad));
        }
        const reply = await sender!.request({
          action: "msg",
          time: now(),
          to: ROOM,
          message: text,
        });
        assert.equal(reply.response, 200, JSON.stringify(reply));
        ids.push(reply.id as number);
        await Promise.all(others.map(async (conn) => {
          const push = await conn.next();
          assert.deepEqual([push.action, push.from, push.to, push.id], [
            "msg",
            "m0000",
            ROOM,
            reply.id,
          ]);
        }));
      };
      await t.step(
        "the stalled member is dropped; every other member got each message",
        async () => {
          // A few kilobytes fill the proxy's buffer and the server's 16 KiB queue; the bound
          // only stops a broken server from looping for ever.
          for (let i = 0; i < 2000 && srv.server.connectionCount === MEMBERS; i++) await round();
          assert.equal(srv.server.connectionCount, MEMBERS - 1, "the stalled member is still on");
          assert.ok(ids.length > 1);
        },
      );
      await t.step("the room goes on for everyone else", async () => {
        for (let i = 0; i < 3; i++) await round();
        const page = await srv.storage.rooms.history({ caller: "m0001", room: ROOM, limit: 100 });
        assert.deepEqual(page.items.map((m) => m.id), ids.slice(-100));
        assert.equal((await srv.storage.rooms.get(ROOM))!.members, MEMBERS);
      });
    } finally {
      for (const conn of readers) conn.close();
    }
  },
});
