/**
 * The chat GUI's room routes (issue 13), in process (app.request), against the scripted
 * server (client/_fake_server.ts) on loopback: join and create, the Rooms list with unread
 * counts on the live stream, room messages headed `alice -> #room`, members with online
 * marks, the owner's actions, and every refusal with the field it belongs to.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../../client/mod.ts";
import { FakeConvServer } from "../../client/_fake_server.ts";
import { openGui, PASSWORDS, readLive, USERS, waitFor } from "./_app_testing.ts";
import type {
  ChatApiError,
  ChatState,
  MembersReply,
  MessagesReply,
  MessageView,
  RoomsSnapshot,
} from "./_types.ts";

const room = (name: string) => encodeURIComponent(name);

Deno.test("chat routes for rooms: join, talk, unread, members, owner actions", async (t) => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using gui = await openGui();
  const state = await gui.connect("alice", srv);
  assert.equal(state.status, 200);
  assert.equal((state.body as ChatState).server?.rooms, true);
  await using bob = await ChatSession.connect({
    port: srv.port,
    user: "bob",
    password: PASSWORDS.bob!,
    dataDir: `${gui.dataDir}/bob`,
    reconnect: false,
  });

  await t.step("join creates the room; the list shows it with its owner", async () => {
    const joined = await gui.api<RoomsSnapshot & { room: string; created: boolean }>(
      "POST",
      "/api/rooms",
      { room: "#team", inviteOnly: true },
    );
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.deepEqual([joined.body.room, joined.body.created], ["#team", true]);
    const list = await gui.api<RoomsSnapshot>("GET", "/api/rooms");
    assert.deepEqual(list.body.rooms.map((r) => [r.room, r.owner, r.inviteOnly, r.unread]), [
      ["#team", "alice", true, 0],
    ]);
  });

  await t.step("refusals name their field", async (t) => {
    for (
      const [body, status, text] of [
        [{ room: "team" }, 400, 'Invalid field: room must start with "#"'],
        [{ room: "#a b" }, 400, "Invalid field: room may hold only"],
        [
          { room: "#ok", inviteOnly: "yes" },
          400,
          "Invalid field: inviteOnly must be true or false",
        ],
      ] as const
    ) {
      await t.step(JSON.stringify(body), async () => {
        const r = await gui.api<ChatApiError>("POST", "/api/rooms", body);
        assert.equal(r.status, status);
        assert.ok(r.body.error.startsWith(text), r.body.error);
        assert.equal(r.body.field, "room");
      });
    }
    const uninvited = await bob.join("#team").then(() => "joined", (e: Error) => e.message);
    assert.equal(uninvited, "Room is invite-only: #team");
    const notMember = await gui.api<ChatApiError>("GET", `/api/rooms/${room("#nowhere")}/members`);
    assert.equal(notMember.status, 404);
    assert.equal(notMember.body.error, "No such room: #nowhere");
  });

  await t.step(
    "a member's message counts unread, is headed bob -> #team, reads clear it",
    async () => {
      const invited = await gui.api("POST", `/api/rooms/${room("#team")}/invite`, { login: "bob" });
      assert.equal(invited.status, 200, JSON.stringify(invited.body));
      await bob.join("#team");
      const ac = new AbortController();
      const live = await gui.raw("/api/events", { signal: ac.signal });
      await bob.send("#team", "hello from bob");
      const events = await readLive(
        live,
        (seen) =>
          seen.some((e) => e.topic === "rooms" && (e.data as RoomsSnapshot).rooms[0]?.unread === 1),
      );
      ac.abort();
      const msg = events.find((e) => e.topic === "message")!.data as MessageView;
      assert.deepEqual([msg.from, msg.to, msg.contact, msg.direction], [
        "bob",
        "#team",
        "#team",
        "in",
      ]);
      const page = await gui.api<MessagesReply>("GET", `/api/messages/${room("#team")}`);
      assert.deepEqual(page.body.messages.map((m) => `${m.from} -> ${m.to}: ${m.text}`), [
        "bob -> #team: hello from bob",
      ]);
      const read = await gui.api<RoomsSnapshot>("POST", `/api/rooms/${room("#team")}/read`);
      assert.equal(read.body.rooms[0]?.unread, 0);
      const sent = await gui.api<{ message: MessageView }>("POST", "/api/messages", {
        to: "#team",
        text: "hi bob",
      });
      assert.equal(sent.status, 200);
      assert.deepEqual([sent.body.message.from, sent.body.message.to], ["alice", "#team"]);
      await waitFor("bob's copy", () => bob.history.messages("#team").length === 2);
    },
  );

  await t.step("members with online marks and the owner", async () => {
    const m = await gui.api<MembersReply>("GET", `/api/rooms/${room("#team")}/members`);
    assert.deepEqual(m.body.members, [
      { login: "alice", online: true, owner: true },
      { login: "bob", online: true, owner: false },
    ]);
  });

  await t.step("hand over, remove, delete: the owner's actions and their refusals", async () => {
    const self = await gui.api<ChatApiError>("POST", `/api/rooms/${room("#team")}/kick`, {
      login: "alice",
    });
    assert.deepEqual([self.status, self.body.error, self.body.field], [
      400,
      "Cannot kick yourself: use leave",
      "login",
    ]);
    const handed = await gui.api<RoomsSnapshot>("POST", `/api/rooms/${room("#team")}/owner`, {
      login: "bob",
    });
    assert.equal(handed.body.rooms[0]?.owner, "bob");
    const notOwner = await gui.api<ChatApiError>("POST", `/api/rooms/${room("#team")}/delete`);
    assert.deepEqual([notOwner.status, notOwner.body.error], [
      403,
      "Only the owner of #team can do that",
    ]);
    await bob.deleteRoom("#team");
    await waitFor(
      "the room gone from the list",
      async () => (await gui.api<RoomsSnapshot>("GET", "/api/rooms")).body.rooms.length === 0,
    );
    // Its messages stay readable.
    const page = await gui.api<MessagesReply>("GET", `/api/messages/${room("#team")}`);
    assert.equal(page.body.messages.length, 2);
  });

  await t.step("leave", async () => {
    await gui.api("POST", "/api/rooms", { room: "#open" });
    const left = await gui.api<RoomsSnapshot>("DELETE", `/api/rooms/${room("#open")}`);
    assert.equal(left.status, 200);
    assert.deepEqual(left.body.rooms, []);
    const again = await gui.api<ChatApiError>("DELETE", `/api/rooms/${room("#open")}`);
    assert.equal(again.status, 404);
  });
});

Deno.test("chat routes for rooms: not connected is 409, and the list survives a restart", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-rooms-" });
  try {
    {
      await using gui = await openGui({ dataDir });
      const off = await gui.api<ChatApiError>("POST", "/api/rooms", { room: "#x" });
      assert.equal(off.status, 409);
      await gui.connect("alice", srv);
      await gui.api("POST", "/api/rooms", { room: "#kept" });
    }
    await using again = await openGui({ dataDir });
    const list = await again.api<RoomsSnapshot>("GET", "/api/rooms");
    assert.deepEqual(list.body.rooms.map((r) => r.room), ["#kept"]);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
