/**
 * JimClient and frame sizes, against a scripted server on a real socket: frames from the
 * server may exceed the client's own limit by the receive margin, and no more.
 */
import { assert, rejectsWith } from "./_assert.ts";
import { DEFAULT_LIMITS, RECEIVE_MARGIN_BYTES } from "../protocol/mod.ts";
import { ConnectionError } from "./errors.ts";
import { fakeServer, serveScram } from "./_fake_peer.ts";
import { JimClient } from "./jim_client.ts";

/** A msg push whose JSON object is exactly `bytes` bytes (the frame's "\n" not counted). */
function pushOf(bytes: number): Record<string, unknown> {
  const base = { action: "msg", time: 1, to: "alice", from: "bob", encoding: "utf-8" };
  const overhead = JSON.stringify({ ...base, message: "" }).length;
  const message = { ...base, message: "x".repeat(bytes - overhead) };
  assert.equal(JSON.stringify(message).length, bytes);
  return message;
}

Deno.test("JimClient accepts server frames up to its limit plus the receive margin", async (t) => {
  const max = DEFAULT_LIMITS.maxFrameBytes;
  await t.step("a push over maxFrameBytes but within the margin arrives", async () => {
    const push = pushOf(max + RECEIVE_MARGIN_BYTES);
    await using server = fakeServer(async (peer) => {
      await serveScram(peer, "pw");
      await peer.send(push);
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    const inbox = client.messages();
    await client.login("alice", "pw");
    const got = await inbox.next();
    assert.equal(got.value?.text, push.message);
    assert.equal(client.connected, true);
  });
  await t.step("a frame beyond the margin ends the connection with a reason", async () => {
    await using server = fakeServer(async (peer) => {
      await serveScram(peer, "pw");
      assert.equal((await peer.receive()).action, "get_users");
      await peer.send(pushOf(max + RECEIVE_MARGIN_BYTES + 1));
      await peer.untilClosed();
    });
    await using client = await JimClient.connect({ port: server.port });
    await client.login("alice", "pw");
    const error = await rejectsWith(() => client.users(), ConnectionError, "Connection lost");
    assert.match(error.message, new RegExp(`exceeds ${max + RECEIVE_MARGIN_BYTES} bytes`));
    assert.equal(client.connected, false);
  });
});
