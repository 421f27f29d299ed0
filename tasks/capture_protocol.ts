/**
 * Captures the wire examples of docs/protocol.md's conversation sections (issue 12) from a
 * running jim-server: a real server on a temporary SQLite file, real sockets, and the frames
 * as they crossed, `→` from a client, `←` from the server. Tokens, SCRAM data, ids and times
 * differ on every run.
 *
 * ```sh
 * deno run -A tasks/capture_protocol.ts > /tmp/capture.txt
 * ```
 *
 * @module
 */
import { addUser, JimServer, SqliteStorage } from "../server/mod.ts";
import { connectRaw, type RawConnection } from "../server/testing.ts";

const dir = await Deno.makeTempDir({ prefix: "jim-capture-" });
const storage = SqliteStorage.open(`${dir}/server.db`);
for (const login of ["alice", "bob", "carol"]) {
  await addUser(storage.users, login, `${login}-pw`, { iterations: 4096 });
}
const server = await JimServer.listen({
  port: 0,
  storage,
  limits: { rateLimit: 0, maxOfflineMessages: 2 },
});
const time = 1764620000;
const CAPS = ["ids", "carbons", "presence", "receipts", "rooms"];

/** A connection that prints what it sends and receives, under a label. */
class Shown {
  constructor(readonly label: string, readonly conn: RawConnection) {}
  async send(frame: Record<string, unknown>): Promise<void> {
    console.log(`${this.label} → ${JSON.stringify(frame)}`);
    await this.conn.send(frame);
  }
  async next(): Promise<Record<string, unknown>> {
    const frame = await this.conn.next();
    console.log(`${this.label} ← ${JSON.stringify(frame)}`);
    return frame;
  }
  async request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.send(frame);
    return await this.next();
  }
}

async function login(
  user: string,
  caps?: string[],
  show = false,
  label = user,
): Promise<Shown> {
  const conn = await connectRaw({ host: "127.0.0.1", port: server.addr.port });
  const shown = new Shown(label, conn);
  if (show) {
    await shown.request({
      action: "presence",
      time,
      user: { account_name: user },
      ...(caps ? { capabilities: caps } : {}),
    });
    await conn.scramLogin(user, `${user}-pw`);
  } else {
    await conn.login(user, `${user}-pw`, caps ? { capabilities: caps } : {});
  }
  return shown;
}

const heading = (text: string) => console.log(`\n## ${text}`);
const msg = (to: string, message: string) => ({
  action: "msg",
  time,
  to,
  encoding: "utf-8",
  message,
});

heading("capabilities");
const alice = await login("alice", CAPS, true);
const seed = await login("alice", undefined, false, "alice (seed client)");

heading("msg to an offline user (ids), then seed");
const stored = await alice.request(msg("bob", "are you there?"));
await seed.request(msg("bob", "from the seed client"));
// The seed session's message reaches alice's jim session as a carbon.
await alice.next();

heading("backlog full");
await alice.request(msg("bob", "one too many"));

heading("backlog at login");
const bob = await login("bob", CAPS);
await bob.next();
await bob.next();
await alice.next();
await alice.next();

heading("live msg and carbon");
const alice2 = await login("alice", CAPS, false, "alice (2nd session)");
await alice.request(msg("bob", "hi"));
await bob.next();
await alice2.next();

heading("read and receipts");
const fromBob = await bob.request(msg("alice", "hello alice"));
await alice.next();
await alice2.next();
await alice.request({ action: "read", time, user_id: "bob", id: fromBob.id });
await bob.next();
await alice2.next();
await alice.request({ action: "read", time, user_id: "bob", id: 9007199254740991 });

heading("message to oneself");
await alice.request(msg("alice", "note to self"));
await alice.next();
await alice2.next();

heading("history");
const h = await alice.request({ action: "history", time, with: "bob", limit: 2 });
for (let i = 0; i < (h.quantity as number); i++) await alice.next();
const h2 = await alice.request({
  action: "history",
  time,
  with: "bob",
  before: stored.id,
  limit: 50,
});
for (let i = 0; i < (h2.quantity as number); i++) await alice.next();
await alice.request({ action: "history", time, limit: 500 });
await alice.request({ action: "history", time, before: 1, limit: 10 });
await alice.request({ action: "history", time, before: 5, after: 2 });

await server.close();
await storage.close();
await Deno.remove(dir, { recursive: true });
