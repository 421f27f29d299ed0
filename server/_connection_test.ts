import assert from "node:assert/strict";
import { encodeFrame, type FrameError } from "../protocol/mod.ts";
import { SYSTEM_CLOCK } from "./clock.ts";
import { Connection, type ConnectionOwner } from "./_connection.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./limits.ts";

/** An owner that records what the connection told it and answers each frame as told. */
class Owner implements ConnectionOwner {
  readonly frames: Record<string, unknown>[] = [];
  readonly bad: FrameError[] = [];
  closed: string | undefined;
  ending: string | undefined;
  onFrameDo: (value: Record<string, unknown>) => Promise<void> | void = () => {};

  onFrame(value: Record<string, unknown>) {
    this.frames.push(value);
    return this.onFrameDo(value);
  }
  onBadFrame(error: FrameError) {
    this.bad.push(error);
  }
  onActivity() {}
  onEnding(reason: string) {
    this.ending = reason;
  }
  onClosed(reason: string) {
    this.closed = reason;
  }
  onCrash(error: unknown) {
    throw error;
  }
}

/** A real loopback pair; the server side counts its writes. */
async function pair(limits: Partial<ServerLimits> = {}) {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const accepted = await listener.accept();
  const writes: number[] = [];
  const counted = new Proxy(accepted, {
    get(target, prop) {
      if (prop === "write") {
        return (bytes: Uint8Array) => {
          writes.push(bytes.length);
          return target.write(bytes);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const owner = new Owner();
  const connection = new Connection(counted, {
    limits: { ...DEFAULT_SERVER_LIMITS, rateLimit: 0, lingerMs: 200, ...limits },
    clock: SYSTEM_CLOCK,
  }, owner);
  connection.start();
  const reader = client.readable.getReader();
  let text = "";
  return {
    client,
    connection,
    owner,
    writes,
    /** Reads until `n` newline-terminated frames arrived; returns them parsed. */
    async read(n: number): Promise<Record<string, unknown>[]> {
      while (text.split("\n").length - 1 < n) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const lines = text.split("\n");
      text = lines.slice(n).join("\n");
      return lines.slice(0, n).map((line) => JSON.parse(line));
    },
    async [Symbol.asyncDispose]() {
      connection.close("test over");
      await connection.done();
      reader.releaseLock();
      try {
        client.close();
      } catch {
        // Closed by the test.
      }
    },
  };
}

Deno.test("Connection writes the replies to the requests of one read in one write", async () => {
  await using p = await pair();
  p.owner.onFrameDo = (value) => {
    p.connection.send(encodeFrame({ response: 200, alert: String(value.n) }));
  };
  // Three requests in one packet: three replies, ready together, one write.
  await p.client.write(new TextEncoder().encode('{"n":1}{"n":2}{"n":3}'));
  const replies = await p.read(3);
  assert.deepEqual(replies.map((r) => r.alert), ["1", "2", "3"]);
  assert.deepEqual(p.writes.length, 1);
});

Deno.test("Connection hands over frames in order and holds the next while one is pending", async () => {
  await using p = await pair();
  const order: string[] = [];
  let release!: () => void;
  p.owner.onFrameDo = (value) => {
    order.push(`start ${value.n}`);
    if (value.n !== 1) return;
    return new Promise<void>((resolve) => (release = resolve)).then(() => {
      order.push("end 1");
    });
  };
  await p.client.write(new TextEncoder().encode('{"n":1}{"n":2}'));
  while (order.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(order, ["start 1"]);
  assert.equal(p.connection.pendingFrames, 1);
  release();
  while (order.length < 3) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(order, ["start 1", "end 1", "start 2"]);
});

Deno.test("Connection closes a client that lets more than its bound queue up", async () => {
  await using p = await pair({ maxOutboundBytes: 64 });
  assert.equal(p.connection.send(new Uint8Array(40)), true);
  assert.equal(p.connection.send(new Uint8Array(40)), false);
  assert.equal(p.connection.closed, true);
  assert.match(p.owner.closed!, /^Slow consumer: more than 64 bytes queued$/);
});

Deno.test("Connection.drain() waits until the queue is below the mark", async () => {
  await using p = await pair();
  const big = new Uint8Array(200_000).fill(0x20);
  big[big.length - 1] = 0x0a;
  p.connection.send(big);
  assert.ok(p.connection.queuedBytes > 1000);
  const drained = p.connection.drain(1000);
  // The client reads; the server's queue empties.
  const reader = (async () => {
    let got = 0;
    const buffer = new Uint8Array(65536);
    while (got < big.length) {
      const n = await p.client.read(buffer);
      if (n === null) break;
      got += n;
    }
    return got;
  })();
  await drained;
  assert.ok(p.connection.queuedBytes <= 1000);
  assert.equal(await reader, big.length);
});

Deno.test("Connection.end() flushes, half-closes and closes on the peer's EOF", async () => {
  await using p = await pair();
  p.connection.send(encodeFrame({ response: 200, alert: "Bye" }));
  p.connection.end("Client quit");
  assert.equal(p.connection.open, false);
  assert.equal(p.owner.ending, "Client quit");
  assert.deepEqual(await p.read(1), [{ response: 200, alert: "Bye" }]);
  // The server half-closed: the client reads EOF, then closes its side.
  const buffer = new Uint8Array(16);
  assert.equal(await p.client.read(buffer), null);
  p.client.close();
  await p.connection.done();
  assert.equal(p.owner.closed, "Client quit");
});

Deno.test("Connection reports bad frames and ends on a fatal one", async () => {
  await using p = await pair();
  await p.client.write(new TextEncoder().encode('{"a":1}{bad}{"b":2}'));
  while (p.owner.frames.length < 2) await new Promise((r) => setTimeout(r, 5));
  await p.client.write(new TextEncoder().encode("]"));
  await p.connection.done();
  assert.deepEqual(p.owner.frames, [{ a: 1 }, { b: 2 }]);
  assert.deepEqual(p.owner.bad.map((e) => e.fatal), [false, true]);
  assert.match(p.owner.bad[1]!.message, /expected an object/);
});
