/**
 * A client written the way the seed messenger's client is (Python: json.dumps per send,
 * one recv(1024) and json.loads per reply, HMAC-MD5 login) talks to a real jim-server and a
 * jim client on the other end.
 */
import assert from "node:assert/strict";
import { JimClient } from "../client/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { PYTHON3, testWithTools } from "./_tools.ts";

const SEED_CLIENT = new URL("./seed/seed_client.py", import.meta.url).pathname;
const SEED_INBOX = new URL("./seed/seed_inbox.py", import.meta.url).pathname;

interface Step {
  step: string;
  reply: Record<string, unknown>;
}

function runSeedClient(
  python: string,
  port: number,
  user: string,
  password: string,
  peer: string,
) {
  return new Deno.Command(python, {
    args: [SEED_CLIENT, String(port), user, password, peer],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The seed client's report lines, read as they come. */
class Steps {
  readonly seen: Step[] = [];
  readonly #done: Promise<void>;
  #wake: () => void = () => {};

  constructor(stdout: ReadableStream<Uint8Array>) {
    this.#done = (async () => {
      let pending = "";
      const utf8 = new TextDecoder();
      for await (const chunk of stdout) {
        pending += utf8.decode(chunk, { stream: true });
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          this.seen.push(JSON.parse(pending.slice(0, newline)) as Step);
          pending = pending.slice(newline + 1);
          this.#wake();
        }
      }
      this.#wake();
    })();
  }

  /** Resolves once the client has reported `step`; rejects if it ends first. */
  async waitFor(step: string): Promise<void> {
    for (;;) {
      if (this.seen.some((s) => s.step === step)) return;
      const woken = new Promise<void>((resolve) => (this.#wake = resolve));
      const ended = this.#done.then(() => "ended" as const);
      if (
        (await Promise.race([woken, ended])) === "ended" && !this.seen.some((s) => s.step === step)
      ) {
        throw new Error(`The seed client ended before "${step}": ${JSON.stringify(this.seen)}`);
      }
    }
  }

  async all(): Promise<Record<string, Record<string, unknown>>> {
    await this.#done;
    return Object.fromEntries(this.seen.map((s) => [s.step, s.reply]));
  }
}

testWithTools(
  [PYTHON3],
  "a seed-style client logs in with HMAC-MD5 and chats with a jim client",
  async (_t, { python3 }) => {
    await using srv = await startTestServer({
      legacyAuth: true,
      users: [
        { login: "Client5", password: "Password5", legacy: true },
        { login: "Client6", password: "Password6" },
      ],
    });
    await using jim = await JimClient.connect({ host: srv.host, port: srv.port });
    await jim.login("Client6", "Password6");
    const inbox = jim.messages();

    const seed = runSeedClient(python3, srv.port, "Client5", "Password5", "Client6");
    const steps = new Steps(seed.stdout);
    const received = await inbox.next();
    assert.equal(received.done, false);
    // The seed client forged `from`; the server set it to the sender's login.
    assert.equal(received.value?.from, "Client5");
    assert.equal(received.value?.text, "Привет from the seed");
    await steps.waitFor("msg");
    await jim.send("Client5", "Hi, seed 👋");

    const seen = await steps.all();
    const status = await seed.status;
    const stderr = await new Response(seed.stderr).text();
    assert.equal(status.code, 0, stderr);
    assert.equal(seen.presence?.response, 401);
    assert.match(String(seen.presence?.token), /^[0-9a-f]{32}$/);
    assert.equal(seen.authenticate?.response, 200);
    assert.equal(seen.add_contact?.response, 200);
    assert.equal(seen.msg?.response, 200);
    assert.deepEqual(
      { ...seen.incoming, time: undefined },
      {
        action: "msg",
        time: undefined,
        to: "Client5",
        from: "Client6",
        encoding: "utf-8",
        message: "Hi, seed 👋",
      },
    );
    assert.deepEqual(seen.del_contact, { response: 404, error: "No such client: nobody" });
    assert.deepEqual(await srv.storage.contacts.list("Client5"), ["Client6"]);
  },
);

testWithTools(
  [PYTHON3],
  "a seed-style client is refused with a reason where legacy login is off",
  async (t, { python3 }) => {
    for (
      const [name, legacyAuth, legacy, reason] of [
        ["server without --legacy-auth", false, true, /legacy HMAC-MD5 login is disabled/],
        ["user without a legacy hash", true, false, /no legacy password is stored/],
      ] as const
    ) {
      await t.step(name, async () => {
        await using srv = await startTestServer({
          legacyAuth,
          users: [
            { login: "Client5", password: "Password5", legacy },
            { login: "Client6", password: "Password6" },
          ],
        });
        const out = await runSeedClient(python3, srv.port, "Client5", "Password5", "Client6")
          .output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const seen = await new Steps(ReadableStream.from([out.stdout])).all();
        assert.equal(seen.presence?.response, 401);
        assert.equal(seen.authenticate?.response, 402);
        assert.match(String(seen.authenticate?.error), reason);
        // Still not logged in: the next request is refused.
        assert.deepEqual(seen.after_refusal, { response: 401, error: "Authentication required" });
      });
    }
  },
);

testWithTools(
  [PYTHON3],
  "a seed-style client gets the messages stored for it one recv() at a time, in order",
  async (_t, { python3 }) => {
    await using srv = await startTestServer({
      legacyAuth: true,
      users: [
        { login: "Client5", password: "Password5", legacy: true },
        { login: "Client6", password: "Password6" },
      ],
    });
    await using jim = await JimClient.connect({ host: srv.host, port: srv.port });
    await jim.login("Client6", "Password6");
    const texts = ["first while away", "второе", "third 👋", "fourth", "fifth"];
    for (const text of texts) assert.equal((await jim.send("Client5", text)).state, "stored");
    const out = await new Deno.Command(python3, {
      args: [SEED_INBOX, String(srv.port), "Client5", "Password5", String(texts.length)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const seen = await new Steps(ReadableStream.from([out.stdout])).all();
    assert.equal(seen.authenticate?.response, 200);
    // Exactly the seed's push: no id, no stored flag, nothing it does not know.
    assert.deepEqual(
      texts.map((_, i) => ({ ...seen[`stored_${i}`], time: undefined })),
      texts.map((message) => ({
        action: "msg",
        time: undefined,
        to: "Client5",
        from: "Client6",
        encoding: "utf-8",
        message,
      })),
    );
    assert.deepEqual(seen.quit, { response: 200, alert: "Bye" });
    assert.deepEqual(await srv.storage.messages.undelivered("Client5", { limit: 10 }), []);
  },
);
