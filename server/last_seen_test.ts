/** Presence on a logged-in connection refreshes the user's last-seen time in the store. */
import assert from "node:assert/strict";
import { connectRaw, now, startTestServer } from "./testing.ts";

async function until<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("JimServer refreshes last-seen when a logged-in client sends presence", async () => {
  await using srv = await startTestServer({ users: [{ login: "alice", password: "pw" }] });
  await using alice = await connectRaw(srv);
  assert.equal((await alice.login("alice", "pw")).response, 200);
  const lastSeen = async () => (await srv.storage.users.get("alice"))!.lastSeen;
  const atLogin = await until("the login to be written", lastSeen, (t) => t !== null);

  for (let round = 1; round <= 2; round++) {
    const before = (await lastSeen())!;
    // Let the clock move on, so that a refresh cannot write the same millisecond again.
    await until("the clock to pass last-seen", () => Date.now(), (t) => t > before);
    const reply = await alice.request({
      action: "presence",
      time: now(),
      type: "status",
      user: { account_name: "alice", status: "online" },
    });
    assert.deepEqual(reply, { response: 200, alert: "OK" });
    const after = await until(`refresh ${round}`, lastSeen, (t) => t !== null && t > before);
    assert.ok(after! > atLogin!);
  }
  // A presence naming someone else is refused and refreshes nothing.
  const before = await lastSeen();
  const other = await alice.request({
    action: "presence",
    time: now(),
    user: { account_name: "bob" },
  });
  assert.equal(other.response, 400);
  assert.equal(srv.server.isOnline("alice"), true);
  assert.equal(await lastSeen(), before);
});
