/**
 * Rooms end to end on a real server: real TCP sockets on 127.0.0.1, a real SQLite file.
 * Every bad input of issue 13 has a case here, and each checks that nothing else changed.
 */
import assert from "node:assert/strict";
import {
  connectRaw,
  now,
  type RawConnection,
  startTestServer,
  type TestServer,
  type TestUser,
} from "./testing.ts";

const USERS: TestUser[] = ["alice", "bob", "carol", "dave"].map((login) => ({
  login,
  password: `${login}-pw`,
}));
const SEED: TestUser = { login: "seed", password: "seed-pw", legacy: true };

/** Logs in announcing `caps` (a jim client with rooms by default). */
async function login(
  srv: TestServer,
  user: string,
  caps: string[] = ["ids", "rooms"],
): Promise<RawConnection> {
  const conn = await connectRaw(srv);
  const reply = await conn.login(user, `${user}-pw`, { capabilities: caps });
  assert.equal(reply.response, 200, JSON.stringify(reply));
  return conn;
}

/** Sends `action` with `fields` and returns the reply (the next frame). */
function req(
  conn: RawConnection,
  action: string,
  fields: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return conn.request({ action, time: now(), ...fields });
}

/** The reply to a request, skipping room events and pushes that arrive first. */
async function reply(
  conn: RawConnection,
  action: string,
  fields: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  await conn.send({ action, time: now(), ...fields });
  for (;;) {
    const frame = await conn.next();
    if ("response" in frame) return frame;
  }
}

/** A 202 list: the response and the pushes it announces. */
async function list(
  conn: RawConnection,
  action: string,
  fields: Record<string, unknown> = {},
): Promise<{ head: Record<string, unknown>; items: Record<string, unknown>[] }> {
  const head = await reply(conn, action, fields);
  assert.equal(head.response, 202, JSON.stringify(head));
  const items = [];
  for (let i = 0; i < (head.quantity as number); i++) items.push(await conn.next());
  return { head, items };
}

/**
 * Asserts that nothing arrived at `conn` before the reply to a fresh request: every push
 * routed before it would be queued ahead of that reply.
 */
async function nothingArrived(conn: RawConnection): Promise<void> {
  const frame = await req(conn, "get_contacts");
  assert.deepEqual(frame, { response: 202, quantity: 0 });
}

async function server(limits = {}): Promise<TestServer> {
  return await startTestServer({
    users: [...USERS, SEED],
    legacyAuth: true,
    limits: { rateLimit: 0, ...limits },
  });
}

Deno.test("rooms: three members join, talk and leave over real sockets", async (t) => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  await using bob = await login(srv, "bob");
  await using carol = await login(srv, "carol");

  await t.step("the first join creates the room, with its creator as owner", async () => {
    assert.deepEqual(await req(alice, "join", { room: "#General" }), {
      response: 200,
      alert: "Joined #General",
      room: "#General",
      created: true,
    });
    const event = await alice.next();
    assert.deepEqual({ ...event, time: 0 }, {
      action: "room_event",
      time: 0,
      room: "#General",
      event: "joined",
      user_id: "alice",
    });
  });
  await t.step("later joins in any case reach the same room; members are told", async () => {
    assert.deepEqual(await req(bob, "join", { room: "#general" }), {
      response: 200,
      alert: "Joined #General",
      room: "#General",
      created: false,
    });
    assert.equal((await bob.next()).event, "joined");
    const told = await alice.next();
    assert.deepEqual([told.action, told.event, told.user_id], ["room_event", "joined", "bob"]);
    assert.equal((await req(carol, "join", { room: "#GENERAL" })).response, 200);
    assert.equal((await carol.next()).user_id, "carol");
    assert.equal((await alice.next()).user_id, "carol");
    assert.equal((await bob.next()).user_id, "carol");
  });
  await t.step("joining again is 200 and tells nobody", async () => {
    assert.deepEqual(await req(carol, "join", { room: "#general" }), {
      response: 200,
      alert: "Already a member of #General",
      room: "#General",
      created: false,
    });
    await nothingArrived(alice);
  });
  let id = 0;
  await t.step("a message reaches every other member, with from set by the server", async () => {
    const sent = await req(alice, "msg", {
      to: "#general",
      from: "mallory",
      encoding: "utf-8",
      message: "hello room",
    });
    assert.equal(sent.response, 200);
    assert.equal(sent.state, "delivered");
    id = sent.id as number;
    assert.ok(Number.isSafeInteger(id) && id > 0);
    for (const member of [bob, carol]) {
      const push = await member.next();
      assert.deepEqual(push, {
        action: "msg",
        time: push.time,
        to: "#General",
        from: "alice",
        encoding: "utf-8",
        message: "hello room",
        id,
        ts: sent.ts,
      });
    }
    await nothingArrived(alice);
  });
  await t.step("get_rooms lists the member's rooms with the newest id", async () => {
    const { head, items } = await list(bob, "get_rooms");
    assert.equal(head.quantity, 1);
    assert.deepEqual(items, [{
      action: "room_list",
      room: "#General",
      owner: "alice",
      members: 3,
      invite_only: false,
      history_visible: false,
      last_id: id,
    }]);
  });
  await t.step("members lists logins with owner and online flags", async () => {
    const { items } = await list(bob, "members", { room: "#general" });
    assert.deepEqual(items.map((m) => [m.user_id, m.owner, m.online]), [
      ["alice", true, true],
      ["bob", false, true],
      ["carol", false, true],
    ]);
  });
  await t.step("the room's history pages as a conversation's", async () => {
    const { head, items } = await list(carol, "history", { with: "#general", limit: 10 });
    assert.deepEqual(head, { response: 202, quantity: 1, more: false });
    assert.deepEqual(items, [{
      action: "history_item",
      id,
      ts: items[0]!.ts,
      time: items[0]!.time,
      from: "alice",
      to: "#General",
      encoding: "utf-8",
      message: "hello room",
    }]);
  });
  await t.step("after leave nothing more arrives", async () => {
    assert.deepEqual(await req(bob, "leave", { room: "#general" }), {
      response: 200,
      alert: "Left #General",
      room: "#General",
    });
    assert.deepEqual([(await bob.next()).event, (await alice.next()).event], ["left", "left"]);
    assert.equal((await carol.next()).user_id, "bob");
    assert.equal(
      (await req(alice, "msg", { to: "#general", message: "bob is gone" })).response,
      200,
    );
    assert.equal((await carol.next()).message, "bob is gone");
    await nothingArrived(bob);
    const { head } = await list(bob, "get_rooms");
    assert.equal(head.quantity, 0);
  });
});

Deno.test("rooms: bad input gets a clear error and changes nothing", async (t) => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  await using bob = await login(srv, "bob");
  await using carol = await login(srv, "carol");
  assert.equal((await req(alice, "join", { room: "#team" })).response, 200);
  await alice.next();
  const cases: [string, RawConnection, string, Record<string, unknown>, number, string][] = [
    [
      "join without #",
      bob,
      "join",
      { room: "team" },
      400,
      'Invalid field: room must start with "#"',
    ],
    ["join with only #", bob, "join", { room: "#" }, 400, "Invalid field: room must not be empty"],
    [
      "join with a space",
      bob,
      "join",
      { room: "#a b" },
      400,
      'Invalid field: room may hold only letters, digits, "_", "-" and "." after "#"',
    ],
    [
      "join with a name over 25 characters",
      bob,
      "join",
      { room: `#${"x".repeat(26)}` },
      400,
      "Invalid field: room exceeds 25 characters",
    ],
    [
      "join with mixed scripts",
      bob,
      "join",
      { room: "#tеam" },
      400,
      "Invalid room: mixes Latin and Cyrillic",
    ],
    [
      "join with a look-alike of a room",
      bob,
      "join",
      { room: "#tearn" },
      409,
      "Invalid room: looks like existing room #team",
    ],
    [
      "msg to a room one is not in",
      bob,
      "msg",
      { to: "#team", message: "x" },
      403,
      "Not a member of #team",
    ],
    [
      "msg to a room that does not exist",
      bob,
      "msg",
      { to: "#nope", message: "x" },
      404,
      "No such room: #nope",
    ],
    [
      "history of a room one is not in",
      bob,
      "history",
      { with: "#team" },
      403,
      "Not a member of #team",
    ],
    [
      "members of a room one is not in",
      bob,
      "members",
      { room: "#team" },
      403,
      "Not a member of #team",
    ],
    [
      "invite by a non-member",
      bob,
      "invite",
      { room: "#team", user_id: "carol" },
      403,
      "Not a member of #team",
    ],
    [
      "invite of an unknown user",
      alice,
      "invite",
      { room: "#team", user_id: "zed" },
      404,
      "No such client: zed",
    ],
    ["leave when not a member", bob, "leave", { room: "#team" }, 403, "Not a member of #team"],
    ["leave of no such room", bob, "leave", { room: "#nope" }, 404, "No such room: #nope"],
    [
      "kick by a non-member",
      bob,
      "kick",
      { room: "#team", user_id: "alice" },
      403,
      "Not a member of #team",
    ],
    [
      "kick of oneself",
      alice,
      "kick",
      { room: "#team", user_id: "alice" },
      400,
      "Cannot kick yourself: use leave",
    ],
    [
      "kick of a non-member",
      alice,
      "kick",
      { room: "#team", user_id: "bob" },
      404,
      "Not a member of #team: bob",
    ],
    ["delete by a non-member", bob, "delete_room", { room: "#team" }, 403, "Not a member of #team"],
    [
      "room_config without a setting",
      alice,
      "room_config",
      { room: "#team" },
      400,
      "Missing field: invite_only or history_visible",
    ],
  ];
  for (const [name, conn, action, fields, code, text] of cases) {
    await t.step(name, async () => {
      assert.deepEqual(await req(conn, action, fields), { response: code, error: text });
    });
  }
  await t.step("a member who is not the owner may not moderate", async () => {
    assert.equal((await req(carol, "join", { room: "#team" })).response, 200);
    for (
      const [action, fields] of [
        ["kick", { user_id: "alice" }],
        ["set_owner", { user_id: "carol" }],
        ["delete_room", {}],
        ["room_config", { invite_only: true }],
      ] as const
    ) {
      assert.deepEqual(await reply(carol, action, { room: "#team", ...fields }), {
        response: 403,
        error: "Only the owner of #team can do that",
      });
    }
  });
  await t.step("nothing was stored or changed, and every session still works", async () => {
    const { items } = await list(alice, "history", { with: "#team" });
    assert.deepEqual(items, []);
    const rooms = await srv.storage.rooms.list();
    assert.deepEqual(rooms.map((r) => [r.name, r.owner, r.members, r.inviteOnly]), [
      ["#team", "alice", 2, false],
    ]);
    assert.equal((await reply(bob, "join", { room: "#team" })).response, 200);
    assert.equal((await reply(bob, "msg", { to: "#team", message: "in now" })).response, 200);
  });
});

Deno.test("rooms: an offline member catches up from the room's history", async () => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  {
    await using bob = await login(srv, "bob");
    assert.equal((await req(alice, "join", { room: "#news" })).response, 200);
    assert.equal((await req(bob, "join", { room: "#news" })).response, 200);
    assert.equal((await reply(bob, "msg", { to: "#news", message: "seen live" })).response, 200);
  }
  const sent: number[] = [];
  for (const text of ["one", "two", "three"]) {
    const r = await reply(alice, "msg", { to: "#news", message: text });
    assert.equal(r.state, "stored");
    sent.push(r.id as number);
  }
  await using bob = await login(srv, "bob");
  const { items: rooms } = await list(bob, "get_rooms");
  assert.equal(rooms[0]!.last_id, sent[2]);
  const all = await list(bob, "history", { with: "#news", limit: 2 });
  assert.deepEqual(all.head, { response: 202, quantity: 2, more: true });
  assert.deepEqual(all.items.map((i) => i.message), ["two", "three"]);
  const older = await list(bob, "history", { with: "#news", before: sent[1], limit: 10 });
  assert.deepEqual(older.items.map((i) => i.message), ["seen live", "one"]);
});

Deno.test("rooms: a non-member can neither post nor read; invite-only refuses the uninvited", async (t) => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  await using bob = await login(srv, "bob");
  await using carol = await login(srv, "carol");
  assert.equal((await req(alice, "join", { room: "#secret", invite_only: true })).response, 200);
  await alice.next();
  const first = await reply(alice, "msg", { to: "#secret", message: "members only" });
  await t.step("the uninvited are refused", async () => {
    assert.deepEqual(await req(bob, "join", { room: "#secret" }), {
      response: 403,
      error: "Room is invite-only: #secret",
    });
  });
  await t.step("a non-member's message is refused and stored nowhere", async () => {
    assert.deepEqual(await req(bob, "msg", { to: "#secret", message: "let me in" }), {
      response: 403,
      error: "Not a member of #secret",
    });
    assert.deepEqual(await req(bob, "history", { with: "#secret" }), {
      response: 403,
      error: "Not a member of #secret",
    });
    const { items } = await list(alice, "history", { with: "#secret" });
    assert.deepEqual(items.map((i) => i.message), ["members only"]);
    await nothingArrived(alice);
  });
  await t.step("an invite lets one in; the invitee is told", async () => {
    assert.deepEqual(await req(alice, "invite", { room: "#secret", user_id: "BOB" }), {
      response: 200,
      alert: "Invited bob to #secret",
      room: "#secret",
    });
    const invited = await bob.next();
    assert.deepEqual([invited.event, invited.user_id, invited.by], ["invited", "bob", "alice"]);
    assert.equal((await req(bob, "join", { room: "#secret" })).response, 200);
  });
  await t.step("a new member sees from its joining, or all once history is visible", async () => {
    const before = await list(bob, "history", { with: "#secret" });
    assert.deepEqual(before.items, []);
    assert.deepEqual(
      await reply(bob, "history", { with: "#secret", after: first.id }),
      { response: 404, error: `No such message: ${first.id}` },
    );
    const config = await reply(alice, "room_config", { room: "#secret", history_visible: true });
    assert.deepEqual(config, {
      response: 200,
      alert: "Updated #secret",
      room: "#secret",
      invite_only: true,
      history_visible: true,
    });
    const after = await list(bob, "history", { with: "#secret" });
    assert.deepEqual(after.items.map((i) => i.message), ["members only"]);
  });
  await t.step("a third user still cannot get in", async () => {
    assert.equal((await req(carol, "join", { room: "#secret" })).response, 403);
  });
});

Deno.test("rooms: the owner kicks, hands over and deletes; members online are told", async (t) => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  await using bob = await login(srv, "bob");
  await using carol = await login(srv, "carol");
  for (const conn of [alice, bob, carol]) {
    assert.equal((await reply(conn, "join", { room: "#mod" })).response, 200);
  }
  // Skips what was pushed so far: everything queued before the reply to a fresh request.
  const drain = async (conn: RawConnection) => {
    await conn.send({ action: "get_contacts", time: now() });
    while ((await conn.next()).response !== 202);
  };
  for (const conn of [alice, bob, carol]) await drain(conn);
  await t.step("kick: the kicked member and the others are told; it can post no more", async () => {
    assert.deepEqual(await req(alice, "kick", { room: "#mod", user_id: "carol" }), {
      response: 200,
      alert: "Removed carol from #mod",
      room: "#mod",
    });
    for (const conn of [alice, bob, carol]) {
      const event = await conn.next();
      assert.deepEqual([event.event, event.user_id, event.by], ["kicked", "carol", "alice"]);
    }
    assert.deepEqual(await req(carol, "msg", { to: "#mod", message: "x" }), {
      response: 403,
      error: "Not a member of #mod",
    });
  });
  await t.step("set_owner hands the room over", async () => {
    assert.deepEqual(await req(alice, "set_owner", { room: "#mod", user_id: "bob" }), {
      response: 200,
      alert: "Owner of #mod is now bob",
      room: "#mod",
    });
    for (const conn of [alice, bob]) assert.equal((await conn.next()).event, "owner");
    assert.equal((await req(alice, "delete_room", { room: "#mod" })).response, 403);
  });
  await t.step("delete_room with members online: they are told, the room is gone", async () => {
    assert.deepEqual(await req(bob, "delete_room", { room: "#mod" }), {
      response: 200,
      alert: "Deleted #mod",
      room: "#mod",
    });
    for (const conn of [alice, bob]) {
      const event = await conn.next();
      assert.deepEqual([event.event, event.by, event.room], ["deleted", "bob", "#mod"]);
    }
    await nothingArrived(carol);
    assert.deepEqual(await req(alice, "msg", { to: "#mod", message: "x" }), {
      response: 404,
      error: "No such room: #mod",
    });
    assert.deepEqual(await srv.storage.rooms.list(), []);
  });
  await t.step("the owner's leaving hands the room to the earliest member", async () => {
    assert.equal((await reply(alice, "join", { room: "#next" })).response, 200);
    assert.equal((await reply(bob, "join", { room: "#next" })).response, 200);
    await drain(alice);
    await drain(bob);
    assert.equal((await req(alice, "leave", { room: "#next" })).response, 200);
    const events = [await bob.next(), await bob.next()];
    assert.deepEqual(events.map((e) => [e.event, e.user_id]), [["left", "alice"], [
      "owner",
      "bob",
    ]]);
  });
});

Deno.test("rooms: limits refuse with clear errors", async (t) => {
  await using srv = await server({ maxRoomMembers: 2, maxRoomsPerUser: 2, maxRoomName: 5 });
  await using alice = await login(srv, "alice");
  await using bob = await login(srv, "bob");
  await using carol = await login(srv, "carol");
  await t.step("room-name length", async () => {
    assert.deepEqual(await req(alice, "join", { room: "#abcdef" }), {
      response: 400,
      error: "Invalid field: room exceeds 5 characters",
    });
  });
  await t.step("members per room", async () => {
    assert.equal((await reply(alice, "join", { room: "#full" })).response, 200);
    assert.equal((await reply(bob, "join", { room: "#full" })).response, 200);
    assert.deepEqual(await reply(carol, "join", { room: "#full" }), {
      response: 403,
      error: "Room is full: #full has 2 members",
    });
  });
  await t.step("rooms per user", async () => {
    assert.equal((await reply(alice, "join", { room: "#two" })).response, 200);
    assert.deepEqual(await reply(alice, "join", { room: "#three" }), {
      response: 403,
      error: "Too many rooms: the limit is 2",
    });
    assert.equal(await srv.storage.rooms.get("#three"), undefined);
  });
});

Deno.test("rooms: a seed client never receives room traffic and sees no new fields", async () => {
  await using srv = await server();
  await using alice = await login(srv, "alice");
  await using seed = await connectRaw(srv);
  assert.equal((await seed.legacyLogin("seed", "seed-pw")).response, 200);
  // A jim session without the rooms capability is treated the same.
  await using plain = await login(srv, "carol", ["ids"]);
  assert.equal((await reply(alice, "join", { room: "#mixed" })).response, 200);
  // Requests are accepted from any session; only pushes need the capability.
  assert.deepEqual(await seed.request({ action: "join", time: String(now()), room: "#mixed" }), {
    response: 200,
    alert: "Joined #mixed",
    room: "#mixed",
    created: false,
  });
  assert.equal((await req(plain, "join", { room: "#mixed" })).response, 200);
  assert.equal((await reply(alice, "msg", { to: "#mixed", message: "to all" })).response, 200);
  assert.deepEqual(await seed.request({ action: "get_contacts", time: String(now()) }), {
    response: 202,
    quantity: 0,
  });
  await nothingArrived(plain);
  // The seed's own room message is a plain 200, without id, ts or state.
  assert.deepEqual(
    await seed.request({ action: "msg", time: String(now()), to: "#mixed", message: "hi" }),
    { response: 200, alert: "OK" },
  );
  let push = await alice.next();
  while (push.action === "room_event") push = await alice.next();
  assert.deepEqual([push.from, push.message], ["seed", "hi"]);
});
