/**
 * ChatSession and rooms (issue 13) against the scripted server (client/_fake_server.ts, real
 * loopback sockets, real SQLite files): join and create, room messages both ways and from
 * another session of one's own, the rooms mirror following events, an offline member
 * catching up from the room's history, leave, invite-only refusals and forged room frames.
 * The same against the real server is in tests/rooms_e2e_test.ts.
 */
import { assert, rejectsWith, tempDir, waitFor } from "./_assert.ts";
import { FakeConvServer } from "./_fake_server.ts";
import { type ArrivedMessage, ChatSession } from "./chat_session.ts";
import { JimError } from "../protocol/mod.ts";
import type { RoomEvent } from "./rooms.ts";

const USERS = ["alice", "bob", "carol"].map((login) => ({ login, password: `${login}-pw` }));

interface Watched extends AsyncDisposable {
  session: ChatSession;
  arrived: ArrivedMessage[];
  events: RoomEvent[];
  service: string[];
}

async function open(srv: FakeConvServer, user: string, dataDir: string): Promise<Watched> {
  const session = new ChatSession({
    port: srv.port,
    user,
    password: `${user}-pw`,
    dataDir,
    reconnect: false,
  });
  const w: Watched = {
    session,
    arrived: [],
    events: [],
    service: [],
    [Symbol.asyncDispose]: () => session.close(),
  };
  session.addEventListener("message", (e) => w.arrived.push(e.detail));
  session.addEventListener("room", (e) => w.events.push(e.detail));
  session.addEventListener("service", (e) => w.service.push(e.detail.text));
  await session.open();
  await session.synced;
  return w;
}

Deno.test("ChatSession rooms: join, talk, members, leave", async (t) => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  await using bob = await open(srv, "bob", `${dir}/bob`);
  assert.ok(alice.session.roomsSupported);

  await t.step("the first join creates the room and makes the joiner its owner", async () => {
    const joined = await alice.session.join("#general");
    assert.deepEqual([joined.room, joined.created], ["#general", true]);
    assert.deepEqual(alice.session.rooms().map((r) => [r.room, r.owner, r.members]), [
      ["#general", "alice", 1],
    ]);
    const again = await bob.session.join("#general");
    assert.equal(again.created, false);
    await waitFor(() => alice.events.some((e) => e.event === "joined" && e.user === "bob"));
    await waitFor(() => alice.session.rooms()[0]?.members === 2, "the member count");
  });

  await t.step("a room message reaches the other member, stored with its sender", async () => {
    const sent = await alice.session.send("#general", "hello room");
    assert.equal(sent.status, "delivered");
    assert.equal(sent.contact, "#general");
    await waitFor(() => bob.arrived.length === 1, "bob's copy");
    const got = bob.arrived[0]!;
    assert.deepEqual([got.contact, got.sender, got.direction, got.via, got.text], [
      "#general",
      "alice",
      "in",
      "live",
      "hello room",
    ]);
    assert.equal(bob.session.history.unreadCounts().get("#general"), 1);
    await bob.session.markRead("#general");
    assert.equal(bob.session.history.unreadCounts().get("#general"), undefined);
    // Room reads stay local: no `read` went to the server.
    assert.ok(!srv.requests.some((r) => r.frame.action === "read"));
    // The sending session does not get its own message back.
    assert.equal(alice.arrived.length, 0);
  });

  await t.step("members lists who is in, the owner marked", async () => {
    const members = await bob.session.members("#general");
    assert.deepEqual(members, [
      { login: "alice", online: true, owner: true },
      { login: "bob", online: true, owner: false },
    ]);
  });

  await t.step("after leave nothing more of the room arrives", async () => {
    await bob.session.leave("#general");
    assert.deepEqual(bob.session.rooms(), []);
    await alice.session.send("#general", "anyone there?");
    // A message that bob still gets would come before this one, on the same connection.
    await alice.session.send("bob", "direct");
    await waitFor(() => bob.arrived.some((m) => m.text === "direct"), "the direct message");
    assert.ok(!bob.arrived.some((m) => m.text === "anyone there?"));
    // The old room messages stay in bob's history.
    assert.equal(bob.session.messages("#general").length, 1);
    await rejectsWith(
      () =>
        bob.session.send("#general", "back?").then((m) => {
          if (m.status === "failed") throw new JimError(403, m.error!);
        }),
      JimError,
      "Not a member of #general",
    );
  });
});

Deno.test("ChatSession rooms: an offline member catches up at login", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  {
    await using bob = await open(srv, "bob", `${dir}/bob`);
    await alice.session.join("#team");
    await bob.session.join("#team");
    await alice.session.send("#team", "before you left");
    await waitFor(() => bob.arrived.length === 1);
    await bob.session.quit();
  }
  for (let i = 1; i <= 130; i++) await alice.session.send("#team", `while away ${i}`);
  await using back = await open(srv, "bob", `${dir}/bob`);
  const texts = back.session.history.messages("#team", { limit: 500 }).map((m) => m.text);
  assert.equal(texts.length, 131);
  assert.equal(texts[0], "before you left");
  assert.equal(texts.at(-1), "while away 130");
  // Nothing of it was read: the live one and the 130 it caught up with.
  assert.equal(back.session.history.unreadCounts().get("#team"), 131);
  assert.ok(back.service.some((s) => s.includes("Rooms synced: 130 message(s)")));
});

Deno.test("ChatSession rooms: invite-only, owner actions and their events", async (t) => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  await using bob = await open(srv, "bob", `${dir}/bob`);
  await using carol = await open(srv, "carol", `${dir}/carol`);
  await alice.session.join("#secret", { inviteOnly: true });
  assert.equal(alice.session.rooms()[0]?.inviteOnly, true);

  await t.step("the uninvited are refused; an invitation lets them in", async () => {
    await rejectsWith(() => bob.session.join("#secret"), JimError, "Room is invite-only: #secret");
    assert.deepEqual(bob.session.rooms(), []);
    await alice.session.invite("#secret", "bob");
    await waitFor(() => bob.events.some((e) => e.event === "invited" && e.by === "alice"));
    await bob.session.join("#secret");
    await rejectsWith(() => carol.session.join("#secret"), JimError, "invite-only");
  });

  await t.step("a member who is not the owner cannot kick", async () => {
    await rejectsWith(
      () => bob.session.kick("#secret", "alice"),
      JimError,
      "Only the owner of #secret can do that",
    );
  });

  await t.step("hand over: the new owner shows in every mirror", async () => {
    await alice.session.setOwner("#secret", "bob");
    await waitFor(() => bob.session.rooms()[0]?.owner === "bob", "bob's mirror");
    assert.equal(alice.session.rooms()[0]?.owner, "bob");
  });

  await t.step("kick: the kicked member's mirror forgets the room", async () => {
    await bob.session.kick("#secret", "alice");
    await waitFor(() => alice.session.rooms().length === 0, "alice's mirror");
    assert.ok(alice.events.some((e) => e.event === "kicked" && e.user === "alice"));
  });

  await t.step("delete: members are told and forget it", async () => {
    await bob.session.invite("#secret", "alice");
    await alice.session.join("#secret");
    await bob.session.deleteRoom("#secret");
    await waitFor(() => alice.session.rooms().length === 0, "alice is told");
    assert.ok(alice.events.some((e) => e.event === "deleted" && e.by === "bob"));
    assert.deepEqual(bob.session.rooms(), []);
  });

  await t.step("bad names are refused before anything is sent", async () => {
    const before = srv.requests.length;
    await rejectsWith(() => alice.session.join("general"), JimError, 'must start with "#"');
    await rejectsWith(() => alice.session.join("#a b"), JimError, "may hold only");
    await rejectsWith(() => alice.session.join("#"), JimError, "room must not be empty");
    await rejectsWith(() => alice.session.join(`#${"x".repeat(26)}`), JimError, "exceeds 25");
    assert.equal(srv.requests.length, before);
  });
});

Deno.test("ChatSession rooms: forged and malformed room frames change nothing", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  const errors: string[] = [];
  alice.session.client.addEventListener("error", (e) => errors.push(e.detail.error.message));
  srv.inject("alice", { action: "msg", time: 1, to: "#bad name", from: "bob", message: "x" });
  srv.inject("alice", { action: "room_event", time: 1, room: "nohash", event: "deleted" });
  srv.inject("alice", { action: "room_event", time: 1, room: "#x", event: "exploded" });
  srv.inject("alice", { action: "room_member", room: "#x", user_id: "bob" });
  await alice.session.join("#real");
  await waitFor(() => errors.length >= 4, "four ignored frames");
  assert.ok(errors.every((e) => e.startsWith("Ignored server message:")), errors.join("\n"));
  assert.deepEqual(alice.session.history.messages("#bad name"), []);
  assert.deepEqual(alice.session.rooms().map((r) => r.room), ["#real"]);
  assert.ok(alice.session.connected);
});

Deno.test("ChatSession rooms: a session without `rooms` never sees room traffic", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  const plain = new ChatSession({
    port: srv.port,
    user: "bob",
    password: "bob-pw",
    dataDir: `${dir}/bob`,
    reconnect: false,
    capabilities: ["ids"],
  });
  await using _ = plain;
  await plain.open();
  assert.equal(plain.roomsSupported, false);
  await rejectsWith(() => plain.join("#general"), Error, 'did not announce "rooms"');
  await alice.session.join("#general");
  srv.inject("bob", { action: "msg", time: 1, to: "#general", from: "alice", message: "x" });
  await alice.session.send("bob", "direct");
  await waitFor(() => plain.history.messages("alice").length === 1);
  assert.deepEqual(plain.history.messages("#general"), []);
});

Deno.test("ChatSession rooms: a join on another session of the account is mirrored here", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using phone = await open(srv, "alice", `${dir}/phone`);
  await using laptop = await open(srv, "alice", `${dir}/laptop`);
  await using bob = await open(srv, "bob", `${dir}/bob`);
  await bob.session.join("#family");
  await bob.session.send("#family", "before alice came");
  await phone.session.join("#family");
  await waitFor(() => laptop.session.rooms().some((r) => r.owner === "bob"), "the laptop's mirror");
  await bob.session.send("#family", "welcome");
  await waitFor(() => laptop.arrived.some((m) => m.text === "welcome"), "the laptop's copy");
  // A message from the phone reaches the laptop as the account's own.
  await phone.session.send("#family", "thanks");
  await waitFor(() => laptop.arrived.some((m) => m.text === "thanks"), "the own copy");
  const own = laptop.arrived.find((m) => m.text === "thanks")!;
  assert.deepEqual([own.direction, own.via, own.sender], ["out", "carbon", "alice"]);
  assert.equal(laptop.session.history.unreadCounts().get("#family") ?? 0, 1);
});

Deno.test("ChatSession rooms: a room deleted without a word is forgotten at the first refusal", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir();
  await using alice = await open(srv, "alice", `${dir}/alice`);
  await alice.session.join("#gone");
  await alice.session.send("#gone", "still here");
  // As `jim-server room delete` in another process does it: nobody is told.
  srv.rooms.delete("#gone");
  const post = await alice.session.send("#gone", "hello?");
  assert.deepEqual([post.status, post.error], ["failed", "No such room: #gone"]);
  assert.deepEqual(alice.session.rooms(), []);
  assert.equal(alice.session.messages("#gone").length, 2, "its messages stay");
  await alice.session.join("#other");
  srv.rooms.delete("#other");
  await rejectsWith(() => alice.session.members("#other"), JimError, "No such room: #other");
  assert.deepEqual(alice.session.rooms(), []);
});
