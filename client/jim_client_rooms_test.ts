/**
 * JimClient and rooms (PROTOCOL_13) against scripted peers on real loopback sockets: the
 * requests as they go on the wire, list answers with broken items, room frames outside an
 * answer, and refusals before anything is sent.
 */
import { JimError } from "../protocol/mod.ts";
import { assert, rejectsWith, waitFor } from "./_assert.ts";
import { type FakePeer, fakeServer, serveScram } from "./_fake_peer.ts";
import { UnsupportedError } from "./errors.ts";
import { JimClient } from "./jim_client.ts";
import type { RoomEvent } from "./rooms.ts";

async function session(script: (peer: FakePeer) => Promise<void>, capabilities = ["ids", "rooms"]) {
  const server = fakeServer(async (peer) => {
    await serveScram(peer, "pw", undefined, { capabilities });
    await script(peer);
    await peer.untilClosed();
  });
  const client = await JimClient.connect({ port: server.port });
  await client.login("alice", "pw");
  const errors: string[] = [];
  client.addEventListener("error", (e) => errors.push(e.detail.error.message));
  return {
    client,
    errors,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("JimClient room requests go on the wire as PROTOCOL_13 has them", async () => {
  const seen: Record<string, unknown>[] = [];
  await using s = await session(async (peer) => {
    const answers = [
      { response: 200, alert: "Joined #Team", room: "#Team", created: true },
      { response: 200, alert: "Invited bob to #Team" },
      { response: 200, alert: "Removed bob" },
      { response: 200, alert: "Owner is now bob" },
      { response: 200, alert: "Updated #Team" },
      { response: 200, alert: "Left #Team" },
      { response: 200, alert: "Deleted #Team" },
      { response: 200, alert: "OK", id: 5, ts: 9, state: "stored" },
    ];
    for (const answer of answers) {
      const { time: _, ...request } = await peer.receive();
      seen.push(request);
      await peer.send(answer);
    }
  });
  const c = s.client;
  assert.deepEqual(await c.join("#team", { inviteOnly: true }), {
    room: "#Team",
    created: true,
    alert: "Joined #Team",
  });
  await c.invite("#Team", "bob");
  await c.kick("#Team", "bob");
  await c.setOwner("#Team", "bob");
  await c.roomConfig("#Team", { historyVisible: true, inviteOnly: false });
  await c.leave("#Team");
  await c.deleteRoom("#Team");
  assert.deepEqual(await c.send("#Team", "hi"), { state: "stored", alert: "OK", id: 5, ts: 9 });
  assert.deepEqual(seen, [
    { action: "join", room: "#team", invite_only: true },
    { action: "invite", room: "#Team", user_id: "bob" },
    { action: "kick", room: "#Team", user_id: "bob" },
    { action: "set_owner", room: "#Team", user_id: "bob" },
    { action: "room_config", room: "#Team", history_visible: true, invite_only: false },
    { action: "leave", room: "#Team" },
    { action: "delete_room", room: "#Team" },
    { action: "msg", to: "#Team", from: "alice", encoding: "utf-8", message: "hi" },
  ]);
});

Deno.test("JimClient room lists skip broken items and keep the connection in order", async () => {
  const events: RoomEvent[] = [];
  await using s = await session(async (peer) => {
    assert.equal((await peer.receive()).action, "get_rooms");
    await peer.send({ response: 202, quantity: 3 });
    await peer.send({ action: "room_list", room: "#a", owner: "alice", members: 2, last_id: 7 });
    await peer.send({ action: "room_list", room: "no hash" });
    // An event in the middle of a list is an event, not an item.
    await peer.send({ action: "room_event", room: "#a", event: "joined", user_id: "bob" });
    await peer.send({ action: "room_list", room: "#b", invite_only: true });
    assert.equal((await peer.receive()).action, "members");
    await peer.send({ response: 202, quantity: 2 });
    await peer.send({ action: "room_member", room: "#a", user_id: "alice", owner: true });
    await peer.send({ action: "room_member", room: "#a", user_id: "bob", online: true });
    await peer.send({ action: "room_member", room: "#a", user_id: "carol" });
    assert.equal((await peer.receive()).action, "members");
    await peer.send({ response: 403, error: "Not a member of #z" });
  });
  s.client.addEventListener("room", (e) => events.push(e.detail));
  assert.deepEqual(await s.client.rooms(), [
    { room: "#a", owner: "alice", members: 2, inviteOnly: false, lastId: 7 },
    { room: "#b", inviteOnly: true },
  ]);
  assert.deepEqual(await s.client.members("#a"), [
    { login: "alice", online: false, owner: true },
    { login: "bob", online: true, owner: false },
  ]);
  await rejectsWith(() => s.client.members("#z"), JimError, "Not a member of #z");
  assert.deepEqual(events, [{ room: "#a", event: "joined", user: "bob" }]);
  await waitFor(() => s.errors.length === 2);
  assert.deepEqual(s.errors, [
    'Ignored server message: room_list: Invalid field: room must start with "#"',
    "Ignored server message: room_member outside a members answer",
  ]);
  assert.ok(s.client.connected);
});

Deno.test("JimClient refuses room calls before sending: bad names, no rooms capability", async () => {
  await using s = await session(async (peer) => {
    assert.equal((await peer.receive()).action, "quit");
    await peer.send({ response: 200, alert: "Bye" });
  }, ["ids"]);
  await rejectsWith(() => s.client.join("#ok"), UnsupportedError, 'did not announce "rooms"');
  await rejectsWith(() => s.client.send("#ok", "x"), UnsupportedError, "msg to a room");
  await rejectsWith(() => s.client.join("ok"), JimError, 'must start with "#"');
  await rejectsWith(() => s.client.invite("#ok", "a b"), JimError, "user_id");
  await rejectsWith(() => s.client.roomConfig("#ok", {}), JimError, "Missing field");
  await rejectsWith(() => s.client.history({ with: "#a b" }), JimError, "with may hold only");
  await s.client.quit();
});

Deno.test("JimClient keeps the parting notice that took a pending request's place", async () => {
  await using s = await session(async (peer) => {
    assert.equal((await peer.receive()).action, "get_rooms");
    // The account is removed while the room sync waits: the notice is all that comes.
    await peer.send({ response: 403, error: "Account removed" });
    peer.close();
  });
  const gone = new Promise<string | undefined>((resolve) =>
    s.client.addEventListener("disconnected", (e) => resolve(e.detail.notice?.text))
  );
  await rejectsWith(() => s.client.rooms(), JimError, "Account removed");
  assert.equal(await gone, "Account removed");
});
