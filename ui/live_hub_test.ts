import assert from "node:assert/strict";
import { Hono } from "hono";
import { LiveHub, type LiveHubOptions } from "./live_hub.ts";

interface SseFrame {
  event: string;
  id?: string;
  data: string;
  comment?: string;
}

/** The reconnection delay the last stream announced. */
let announcedRetry: number | undefined;

/** Reads SSE frames from a response body, one blank-line-terminated block at a time. */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #text = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(): Promise<SseFrame | null> {
    while (true) {
      const end = this.#text.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#text.slice(0, end);
        this.#text = this.#text.slice(end + 2);
        const frame: SseFrame = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim();
          else if (line.startsWith("event: ")) frame.event = line.slice(7);
          else if (line.startsWith("id: ")) frame.id = line.slice(4);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
          else if (line.startsWith("retry: ")) announcedRetry = Number(line.slice(7));
        }
        // A block with only a retry field is a setting, not an event.
        if (block.startsWith("retry: ") && !block.includes("\n")) continue;
        frame.data = data.join("\n");
        return frame;
      }
      const { done, value } = await this.#reader.read();
      if (done) return null;
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }

  async take(n: number): Promise<SseFrame[]> {
    const out: SseFrame[] = [];
    for (let i = 0; i < n; i++) {
      const f = await this.next();
      assert.ok(f, `stream ended after ${i} of ${n} frames`);
      out.push(f);
    }
    return out;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

function setup(options: LiveHubOptions = {}) {
  const hub = new LiveHub<number>(options);
  const app = new Hono();
  app.get("/events", (c) => hub.stream(c));
  return {
    hub,
    async open(headers: Record<string, string> = {}) {
      const res = await app.request("/events", { headers });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      assert.ok(res.body);
      return new SseReader(res.body);
    },
  };
}

function payload(frame: SseFrame): unknown {
  return JSON.parse(frame.data);
}

Deno.test("LiveHub.stream() sends ready, replays the buffer, then live events", async () => {
  const { hub, open } = setup();
  hub.publish("n", 1);
  hub.publish("n", 2);
  const sse = await open();
  const [ready, a, b] = await sse.take(3);
  assert.equal(ready?.event, "ready");
  assert.deepEqual(payload(a!), { topic: "n", data: 1 });
  assert.deepEqual(payload(b!), { topic: "n", data: 2 });
  hub.publish("n", 3);
  const [c] = await sse.take(1);
  assert.deepEqual(payload(c!), { topic: "n", data: 3 });
  assert.equal(c?.id, hub.lastId);
  await sse.cancel();
});

Deno.test("LiveHub.stream() resumes after Last-Event-ID", async (t) => {
  const { hub, open } = setup({ capacity: 5 });
  const ids = [1, 2, 3, 4].map((n) => hub.publish("n", n).id);

  await t.step("replays only the events after the id", async () => {
    const sse = await open({ "Last-Event-ID": ids[1]! });
    const frames = await sse.take(2);
    assert.deepEqual(frames.map((f) => payload(f)), [
      { topic: "n", data: 3 },
      { topic: "n", data: 4 },
    ]);
    hub.publish("n", 5);
    assert.deepEqual(payload((await sse.take(1))[0]!), { topic: "n", data: 5 });
    await sse.cancel();
  });

  await t.step("sends nothing old when the id is the newest", async () => {
    const sse = await open({ "Last-Event-ID": hub.lastId });
    hub.publish("n", 6);
    const [f] = await sse.take(1);
    assert.equal(f?.event, "message");
    assert.deepEqual(payload(f!), { topic: "n", data: 6 });
    await sse.cancel();
  });

  await t.step("resets when the id fell out of the buffer", async () => {
    for (let n = 7; n <= 12; n++) hub.publish("n", n);
    const sse = await open({ "Last-Event-ID": ids[0]! });
    const [reset, ...rest] = await sse.take(6);
    assert.equal(reset?.event, "reset");
    assert.deepEqual(rest.map((f) => (payload(f) as { data: number }).data), [8, 9, 10, 11, 12]);
    await sse.cancel();
  });

  await t.step("resets on an id from another hub or garbage", async () => {
    for (const bad of ["zzz-3", "not an id", "1-99999"]) {
      const sse = await open({ "Last-Event-ID": bad });
      const [reset] = await sse.take(1);
      assert.equal(reset?.event, "reset", bad);
      await sse.cancel();
    }
  });
});

Deno.test("LiveHub.stream() drops events for a slow stream and reports how many", async () => {
  const { hub, open } = setup({ queueSize: 3, capacity: 1 });
  const sse = await open();
  assert.equal((await sse.take(1))[0]?.event, "ready");
  // Nobody reads while 10 events arrive: the queue keeps 3 and counts the rest.
  for (let n = 1; n <= 10; n++) hub.publish("n", n);
  const frames: SseFrame[] = [];
  while (true) {
    const f = await sse.next();
    assert.ok(f);
    frames.push(f);
    if (f.event === "missed") break;
  }
  const data = frames.filter((f) => f.event === "message").map((f) => payload(f));
  assert.ok(data.length >= 3 && data.length < 10, `got ${data.length} data frames`);
  const missed = payload(frames.at(-1)!) as { count: number };
  assert.equal(missed.count + data.length, 10);
  hub.publish("n", 11);
  assert.deepEqual(payload((await sse.take(1))[0]!), { topic: "n", data: 11 });
  await sse.cancel();
});

Deno.test("LiveHub.stream() sends keepalive comments while idle", async () => {
  const { open } = setup({ keepaliveMs: 20 });
  const sse = await open();
  const [ready, ping] = await sse.take(2);
  assert.equal(ready?.event, "ready");
  assert.equal(ping?.comment, "keepalive");
  await sse.cancel();
});

Deno.test("LiveHub.stream() forgets a stream when the client goes away", async () => {
  const { hub, open } = setup({ keepaliveMs: 60_000 });
  const sse = await open();
  await sse.take(1);
  assert.equal(hub.streamCount, 1);
  await sse.cancel();
  // The stream's loop notices the abort on its next turn; sanitizers check no timer is left.
  for (let i = 0; i < 50 && hub.streamCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(hub.streamCount, 0);
});

Deno.test("LiveHub.close() ends every stream", async () => {
  const { hub, open } = setup({ keepaliveMs: 60_000 });
  const a = await open();
  const b = await open();
  await a.take(1);
  await b.take(1);
  hub.close();
  assert.equal(await a.next(), null);
  assert.equal(await b.next(), null);
  assert.equal(hub.streamCount, 0);
  hub.publish("n", 1);
  const late = await open();
  assert.equal((await late.take(1))[0]?.event, "ready");
  assert.equal(await late.next(), null);
});

Deno.test("LiveHub.stream() tells the browser how soon to reconnect", async () => {
  announcedRetry = undefined;
  const { open } = setup({ retryMs: 250 });
  const sse = await open();
  assert.equal((await sse.take(1))[0]?.event, "ready");
  assert.equal(announcedRetry, 250);
  await sse.cancel();
});

Deno.test("LiveHub.disconnectAll() ends streams; they resume from their last id", async () => {
  const { hub, open } = setup({ keepaliveMs: 60_000 });
  const sse = await open();
  const first = hub.publish("n", 1);
  const [, got] = await sse.take(2);
  assert.equal(got?.id, first.id);
  hub.disconnectAll();
  assert.equal(await sse.next(), null);
  assert.equal(hub.streamCount, 0);
  hub.publish("n", 2);
  const resumed = await open({ "Last-Event-ID": first.id });
  const [f] = await resumed.take(1);
  assert.deepEqual(payload(f!), { topic: "n", data: 2 }, "only the missed event");
  await resumed.cancel();
});

Deno.test("LiveHub.stream() also resumes from a lastEventId query parameter", async () => {
  const hub = new LiveHub<number>();
  const app = new Hono();
  app.get("/events", (c) => hub.stream(c));
  const a = hub.publish("n", 1);
  hub.publish("n", 2);
  const res = await app.request(`/events?lastEventId=${encodeURIComponent(a.id)}`);
  const sse = new SseReader(res.body!);
  const [f] = await sse.take(1);
  assert.deepEqual(payload(f!), { topic: "n", data: 2 });
  await sse.cancel();
});
