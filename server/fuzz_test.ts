import assert from "node:assert/strict";
import { ACTIONS as REQUEST_ACTIONS } from "../protocol/mod.ts";
import { EventFeed } from "./events.ts";
import { connectRaw, loginAll, startTestServer } from "./testing.ts";

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed by its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIONS = [
  ...REQUEST_ACTIONS,
  "exit",
  "probe",
  "",
  "x".repeat(40),
];
const KEYS = [
  "action",
  "time",
  "user",
  "account_name",
  "password",
  "to",
  "from",
  "message",
  "encoding",
  "user_id",
  "mechanism",
  "data",
  "__proto__",
  "constructor",
];

function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * 12);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor(rand() * 2 ** 53) * (rand() < 0.5 ? -1 : 1);
    case 3:
      return rand() * 1e308;
    case 4:
      return ACTIONS[Math.floor(rand() * ACTIONS.length)];
    case 5:
      return "bob";
    case 6:
      return String.fromCodePoint(...Array.from({ length: 8 }, () => Math.floor(rand() * 0x10ffff)))
        .replace(/[\ud800-\udfff]/g, "?");
    case 7:
      return "SCRAM-SHA-256";
    case 8:
      return btoa("n,,n=bob,r=" + Math.floor(rand() * 1e9));
    case 9:
      return depth > 3 ? [] : Array.from({ length: 3 }, () => randomValue(rand, depth + 1));
    default:
      return depth > 3 ? {} : randomObject(rand, depth + 1);
  }
}

function randomObject(rand: () => number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const count = Math.floor(rand() * 6);
  if (rand() < 0.8) out.action = ACTIONS[Math.floor(rand() * ACTIONS.length)];
  if (rand() < 0.7) out.time = rand() < 0.5 ? 1 : "1560964883";
  for (let i = 0; i < count; i++) {
    Object.defineProperty(out, KEYS[Math.floor(rand() * KEYS.length)]!, {
      value: randomValue(rand, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function randomBytes(rand: () => number): Uint8Array {
  const bytes = new Uint8Array(1 + Math.floor(rand() * 300));
  for (let i = 0; i < bytes.length; i++) {
    // Mostly structural characters so the decoder is exercised, not just rejected at once.
    bytes[i] = rand() < 0.5 ? '{}[]":,\\ a1'.charCodeAt(Math.floor(rand() * 12)) : rand() * 256;
  }
  return bytes;
}

Deno.test("JimServer answers random input without crashing or disturbing others", async () => {
  const seed = Number(Deno.env.get("JIM_FUZZ_SEED") ?? 20261125);
  const rand = prng(seed);
  const events = new EventFeed();
  using errors = events.subscribe({ types: ["error"] });
  const users = [
    { login: "alice", password: "pw-a" },
    { login: "bob", password: "pw-b" },
    { login: "carol", password: "pw-c" },
  ];
  await using srv = await startTestServer({
    users,
    events,
    legacyAuth: true,
    limits: { rateLimit: 0, maxFrameBytes: 2048, lingerMs: 200 },
  });
  const [watcher] = await loginAll(srv, users.slice(2));
  await using carol = watcher!;

  for (let round = 0; round < 60; round++) {
    await using conn = await connectRaw(srv, { timeoutMs: 5000 });
    if (rand() < 0.5) {
      assert.equal((await conn.login("alice", "pw-a")).response, 200, `seed ${seed}`);
    }
    const objects = rand() >= 0.3
      ? Array.from({ length: 1 + Math.floor(rand() * 10) }, () => randomObject(rand))
      : undefined;
    const frames = objects
      ? objects.map((o) => new TextEncoder().encode(JSON.stringify(o)))
      : [randomBytes(rand)];
    let replies: Record<string, unknown>[];
    try {
      for (const frame of frames) await conn.write(frame);
      // Then a quit and the end of our side: the server answers everything it got, in order,
      // and closes, so every reply is read and none is missed by giving up early.
      await conn.write(JSON.stringify({ action: "quit", time: 1 }));
      await conn.closeWrite();
      replies = await conn.closedByServer();
    } catch (error) {
      // Writes into a connection the server already closed (after a fatal frame) are fine.
      if (
        !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
      ) {
        throw error;
      }
      replies = await conn.closedByServer();
    }
    for (const reply of replies) {
      assert.ok(
        typeof reply.response === "number" || typeof reply.action === "string",
        `seed ${seed}: ${JSON.stringify(reply)}`,
      );
      if (typeof reply.response === "number") {
        assert.ok(reply.response !== 500, `seed ${seed}: server error ${JSON.stringify(reply)}`);
      }
    }
    const responses = replies.filter((r) => typeof r.response === "number");
    const quitsEarly = objects?.some((o) => o.action === "quit" || o.action === "exit");
    if (objects && !quitsEarly && responses.at(-1)?.alert === "Bye") {
      // The stream stayed whole: exactly one response per object sent, the quit included.
      assert.equal(responses.length, frames.length + 1, `seed ${seed}: ${JSON.stringify(replies)}`);
    }
  }

  assert.equal((await carol.request({ action: "get_users", time: 1 })).response, 202);
  await using fresh = await connectRaw(srv);
  assert.equal((await fresh.login("bob", "pw-b")).response, 200);
  const internal = [];
  for (let e = errors.poll(); e; e = errors.poll()) {
    if (/Internal/.test(e.message ?? "")) internal.push(e.message);
  }
  assert.deepEqual(internal, [], `seed ${seed}`);
});
