import assert from "node:assert/strict";
import { connectRaw, now, startTestServer } from "./testing.ts";

const USERS = [{ login: "alice", password: "alice-pw" }];

Deno.test("presence with capabilities gets the granted ones in its 401; the seed gets none", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  await t.step("a jim client's presence: the subset the server grants", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.request({
      action: "presence",
      time: now(),
      user: { account_name: "alice" },
      capabilities: ["presence", "telepathy"],
    });
    assert.equal(reply.response, 401);
    assert.deepEqual(reply.capabilities, ["presence"]);
    assert.equal((await conn.scramLogin("alice", "alice-pw")).response, 200);
    assert.deepEqual(srv.server.hub.sessions("alice").map((s) => s.caps), [["presence"]]);
  });
  await t.step("the seed's presence: no capabilities field at all", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.request({
      action: "presence",
      time: String(now()),
      type: "status",
      user: { account_name: "alice", status: "Yep, I am here!" },
    });
    assert.equal(reply.response, 401);
    assert.equal("capabilities" in reply, false);
  });
  await t.step("malformed capabilities: 400, and the connection goes on", async () => {
    await using conn = await connectRaw(srv);
    const reply = await conn.request({
      action: "presence",
      time: now(),
      user: { account_name: "alice" },
      capabilities: { presence: true },
    });
    assert.deepEqual(reply, {
      response: 400,
      error: "Invalid field: capabilities must be a list of strings",
    });
    assert.equal((await conn.login("alice", "alice-pw")).response, 200);
  });
});
