/**
 * What a ChatSession keeps of the user's secret: the SCRAM SaltedPassword only, never the
 * password, wiped on quit, on close and when it gives up. Checked against real servers; the
 * password's absence also in V8 heap snapshots of a process that logged in.
 */
import { saltPassword } from "../protocol/mod.ts";
import { JimServer, setPassword } from "../server/mod.ts";
import { startTestServer, TEST_ITERATIONS, type TestServer } from "../server/testing.ts";
import { assert, tempDir, waitFor } from "./_assert.ts";
import { heldSecrets } from "./_held_secrets.ts";
import { seedDisguise } from "./_fake_peer.ts";
import { ChatSession, type ChatSessionOptions } from "./chat_session.ts";

const USERS = [{ login: "alice", password: "alice-pw" }];
const FAST = { initialDelay: 10, maxDelay: 80 };

/** Opens a session and checks what it holds: the salted password of the server's salt. */
async function openChecked(srv: TestServer, options: Partial<ChatSessionOptions> = {}) {
  const session = new ChatSession({
    port: srv.port,
    user: "alice",
    password: "alice-pw",
    reconnect: FAST,
    ...options,
  });
  assert.equal(heldSecrets(session).password, true, "held until the login");
  await session.open();
  const held = heldSecrets(session);
  assert.equal(held.password, false, "the password is dropped once used");
  const { salt, iterations } = (await srv.storage.users.credentials("alice"))!.scram;
  assert.deepEqual(held.saltedPassword, await saltPassword("alice-pw", salt, iterations));
  return { session, salted: held.saltedPassword! };
}

function wiped(bytes: Uint8Array): boolean {
  return bytes.length === 32 && bytes.every((b) => b === 0);
}

Deno.test("ChatSession keeps only the SaltedPassword and wipes it on quit, close and giving up", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-secrets-test-");
  const dataDir = String(dir);

  for (const how of ["quit", "close"] as const) {
    await t.step(how, async () => {
      const { session, salted } = await openChecked(srv, { dataDir });
      await session[how]();
      assert.equal(heldSecrets(session).saltedPassword, undefined);
      assert.ok(wiped(salted), `not wiped: ${salted}`);
    });
  }

  await t.step("giving up: the password was changed", async () => {
    const { session, salted } = await openChecked(srv, { dataDir });
    await using _ = session;
    await srv.server.close();
    await setPassword(srv.storage.users, "alice", "new-pw", { iterations: TEST_ITERATIONS });
    await using _restarted = await JimServer.listen({ port: srv.port, storage: srv.storage });
    const stopped = Promise.withResolvers<void>();
    session.addEventListener("disconnected", (e) => {
      if (!e.detail.reconnecting) stopped.resolve();
    });
    await stopped.promise;
    assert.equal(heldSecrets(session).saltedPassword, undefined);
    assert.ok(wiped(salted), `not wiped: ${salted}`);
    await setPassword(srv.storage.users, "alice", "alice-pw", { iterations: TEST_ITERATIONS });
  });
});

Deno.test("ChatSession wipes the SaltedPassword when the server ends the account", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using dir = await tempDir("jim-secrets-test-");
  const { session, salted } = await openChecked(srv, { dataDir: String(dir) });
  await using _ = session;
  await srv.storage.users.remove("alice");
  await srv.server.endSessionsOfRemovedUsers();
  await waitFor(() => !session.connected && !session.reconnecting, "the session to end");
  assert.equal(heldSecrets(session).saltedPassword, undefined);
  assert.ok(wiped(salted), `not wiped: ${salted}`);
});

Deno.test("ChatSession keeps nothing when it will not reconnect: reconnect off, or a legacy login", async (t) => {
  await using srv = await startTestServer({
    users: [{ login: "alice", password: "alice-pw", legacy: true }],
    legacyAuth: true,
  });
  await using dir = await tempDir("jim-secrets-test-");
  await t.step("reconnect: false", async () => {
    await using session = await ChatSession.connect({
      port: srv.port,
      user: "alice",
      password: "alice-pw",
      dataDir: String(dir),
      reconnect: false,
    });
    assert.deepEqual(heldSecrets(session), { password: false, saltedPassword: undefined });
  });
  await t.step("HMAC-MD5", async () => {
    await using proxy = seedDisguise(srv);
    await using session = await ChatSession.connect({
      port: proxy.port,
      user: "alice",
      password: "alice-pw",
      allowLegacy: true,
      dataDir: String(dir),
    });
    assert.equal(session.login?.mechanism, "HMAC-MD5");
    assert.deepEqual(heldSecrets(session), { password: false, saltedPassword: undefined });
  });
});

Deno.test("ChatSession leaves no copy of the password on the heap once logged in", async () => {
  const password = `heap-probe-${crypto.randomUUID()}`;
  await using srv = await startTestServer({ users: [{ login: "alice", password }] });
  await using dir = await tempDir("jim-secrets-test-");
  const probe = new URL("./testdata/password_heap_probe.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", probe, String(srv.port), "alice", `${dir}/data`, String(dir)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(password));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const found = async (name: string) =>
    (await Deno.readTextFile(`${dir}/${name}.heapsnapshot`)).includes(password);
  // Control: while the session still holds it, the snapshot shows it.
  assert.equal(await found("held"), true, "the probe cannot see a password that is held");
  assert.equal(await found("open"), false, "the password is on the heap after the login");
  assert.equal(await found("quit"), false, "the password is on the heap after quit");
});
