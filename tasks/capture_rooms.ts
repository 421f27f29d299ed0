/**
 * Captures the wire examples of docs/protocol.md's Rooms section (issue 13) from a running
 * jim-server: a real server on a temporary SQLite file, real sockets, and the frames as they
 * crossed, `→` from a client, `←` from the server. Ids and times differ on every run.
 *
 * ```sh
 * deno run -A tasks/capture_rooms.ts > /tmp/rooms.txt
 * ```
 *
 * @module
 */
import { addUser, JimServer, SqliteStorage } from "../server/mod.ts";
import { connectRaw, type RawConnection } from "../server/testing.ts";

const dir = await Deno.makeTempDir({ prefix: "jim-capture-rooms-" });
const storage = SqliteStorage.open(`${dir}/server.db`);
for (const login of ["alice", "bob", "carol"]) {
  await addUser(storage.users, login, `${login}-pw`, { iterations: 4096 });
}
const server = await JimServer.listen({
  port: 0,
  storage,
  limits: { rateLimit: 0, maxRoomMembers: 2 },
});
const time = 1764620000;
const sessions = new Map<string, RawConnection>();

async function login(user: string): Promise<void> {
  const conn = await connectRaw({ host: "127.0.0.1", port: server.addr.port });
  await conn.login(user, `${user}-pw`, { capabilities: ["ids", "rooms"] });
  sessions.set(user, conn);
}

/** `user` sends `frame`; then every frame that reaches anyone within a moment is printed. */
async function send(user: string, frame: Record<string, unknown>): Promise<void> {
  console.log(`${user} → ${JSON.stringify({ ...frame, time })}`);
  await sessions.get(user)!.send({ ...frame, time });
  await settle();
}

/** Prints what arrived at every session, until nothing more does for 150 ms. */
async function settle(): Promise<void> {
  for (const [user, conn] of sessions) {
    for (;;) {
      const frame = await conn.next(150).catch(() => undefined);
      if (!frame) break;
      console.log(`${user} ← ${JSON.stringify(frame)}`);
    }
  }
}

const heading = (text: string) => console.log(`\n## ${text}`);
for (const user of ["alice", "bob", "carol"]) await login(user);

heading("join (creating), join, join again");
await send("alice", { action: "join", room: "#general" });
await send("bob", { action: "join", room: "#General" });
await send("bob", { action: "join", room: "#general" });
heading("msg to a room (forged from ignored)");
await send("alice", {
  action: "msg",
  to: "#general",
  from: "mallory",
  encoding: "utf-8",
  message: "hello room",
});
heading("get_rooms and members");
await send("bob", { action: "get_rooms" });
await send("bob", { action: "members", room: "#general" });
heading("history of a room");
await send("bob", { action: "history", with: "#general", limit: 50 });
heading("errors");
await send("carol", { action: "msg", to: "#general", message: "let me in" });
await send("carol", { action: "history", with: "#general" });
await send("carol", { action: "msg", to: "#nowhere", message: "?" });
await send("carol", { action: "join", room: "general" });
await send("carol", { action: "join", room: "#gеneral" });
await send("carol", { action: "join", room: "#generaI" });
await send("carol", { action: "join", room: "#general" });
await send("carol", { action: "leave", room: "#general" });
await send("bob", { action: "kick", room: "#general", user_id: "alice" });
heading("invite-only");
await send("alice", { action: "join", room: "#team", invite_only: true });
await send("carol", { action: "join", room: "#team" });
await send("bob", { action: "invite", room: "#team", user_id: "carol" });
await send("alice", { action: "invite", room: "#team", user_id: "carol" });
await send("carol", { action: "join", room: "#team" });
heading("room_config, set_owner, kick, leave, delete_room");
await send("alice", { action: "room_config", room: "#team", history_visible: true });
await send("alice", { action: "set_owner", room: "#team", user_id: "carol" });
await send("carol", { action: "kick", room: "#team", user_id: "alice" });
await send("bob", { action: "leave", room: "#general" });
await send("alice", { action: "delete_room", room: "#general" });

for (const conn of sessions.values()) conn.close();
await server.close();
await storage.close();
await Deno.remove(dir, { recursive: true });
