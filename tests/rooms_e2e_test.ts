/**
 * Issue 13 end to end: three users in one room across the chat GUI (real chromium), the
 * console client (the real jim-client program over pipes) and the library, against the real
 * server (bin/jim-server.ts in a child process with its own SQLite file). A non-member can
 * neither post nor read the history, a member who was offline catches up, after leave nothing more arrives, an invite-only room refuses the
 * uninvited, the owner's actions go through the GUI's confirmations, and a seed-dialect
 * session of a member never sees room traffic.
 *
 * Skipped, with the reason printed, while the real server does not announce `rooms`.
 */
import assert from "node:assert/strict";
import { ChatSession, type IncomingMessage, JimClient } from "../client/mod.ts";
import { ClientProcess } from "../client/_spawn.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import { connect, connected, contact, messageText, send, until } from "./_chat_page.ts";
import { realServerSpeaksRooms, startBackend } from "./_conversation_backend.ts";

const REAL = await realServerSpeaksRooms("SKIPPING tests/rooms_e2e_test.ts");
const USERS = ["alice", "bob", "carol", "dave"].map((login) => ({
  login,
  password: `${login}-pw`,
}));

testWithTools([CHROMIUM], {
  name: "issue 13 e2e: three users in a room across the GUI, the console and the library",
  ignore: !REAL,
  async fn(t) {
    await using srv = await startBackend(USERS);
    const dataDir = await Deno.makeTempDir({ prefix: "jim-rooms-e2e-" });
    const consoleEnv = (user: string) => ({
      JIM_DATA_DIR: `${dataDir}/console-${user}`,
      JIM_PORT: String(srv.port),
      JIM_PASSWORD: `${user}-pw`,
    });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir: `${dataDir}/gui` });
      await using browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
      const page = browser.page;
      page.setDefaultTimeout(15_000);
      await page.goto(gui.url);
      await page.locator(".live-status[data-status=open]").waitFor();
      await connect(page, "alice", "alice-pw", srv.host, srv.port);
      await connected(page, "alice");

      let bob = new ClientProcess(["-u", "bob"], consoleEnv("bob"));
      await bob.waitFor("* Type /help for commands");
      await using carol = await ChatSession.connect({
        port: srv.port,
        user: "carol",
        password: "carol-pw",
        dataDir: `${dataDir}/carol`,
        reconnect: false,
      });
      const carolGot: string[] = [];
      carol.addEventListener("message", (e) => carolGot.push(e.detail.text));

      // A seed-dialect session of bob's: it must never hear of the room.
      await using seed = await JimClient.connect({ port: srv.port, capabilities: [] });
      await seed.login("bob", "bob-pw");
      const seedGot: IncomingMessage[] = [];
      seed.addEventListener("message", (e) => seedGot.push(e.detail));
      const seedErrors: string[] = [];
      seed.addEventListener("error", (e) => seedErrors.push(e.detail.error.message));

      await t.step("alice creates #plan in the GUI; bob and carol join", async () => {
        await page.locator("#room-name").fill("#plan");
        await page.locator("#join-room").click();
        await contact(page, "#plan").waitFor();
        await page.locator("#room-note").getByText("Created #plan: you own it").waitFor();
        await bob.line("/join #plan");
        await bob.waitFor("* Joined #plan: /chat #plan to talk there");
        await carol.join("#plan");
        const members = page.locator("#members li[data-member]");
        await until("three members", async () => (await members.count()) === 3);
        for (const who of ["alice", "bob", "carol"]) {
          await page.locator(`#members li[data-member="${who}"] .dot.on`).waitFor();
        }
        await page.locator('#members li[data-member="alice"] .owner-mark').waitFor();
      });

      await t.step("each one's message reaches the other two", async () => {
        await bob.line("/msg #plan hello from the console");
        await messageText(page, "hello from the console").waitFor();
        await page.locator(".msg-who").getByText("bob -> #plan:").waitFor();
        await until("carol has bob's", () => carolGot.includes("hello from the console"));

        await contact(page, "#plan").click();
        await send(page, "hello from the GUI");
        await bob.waitFor(/\[\d\d:\d\d:\d\d\] #plan alice: hello from the GUI\n/);
        await until("carol has alice's", () => carolGot.includes("hello from the GUI"));

        await carol.send("#plan", "hello from the library");
        await messageText(page, "hello from the library").waitFor();
        await bob.waitFor(/\] #plan carol: hello from the library\n/);
        await page.locator(".msg-who").getByText("alice -> #plan:").waitFor();
      });

      await t.step("a non-member can neither post nor read the history", async () => {
        await using dave = await ChatSession.connect({
          port: srv.port,
          user: "dave",
          password: "dave-pw",
          dataDir: `${dataDir}/dave`,
          reconnect: false,
        });
        const post = await dave.send("#plan", "let me in");
        assert.deepEqual([post.status, post.error], ["failed", "Not a member of #plan"]);
        const read = await dave.client.history({ with: "#plan" }).then(
          () => "read",
          (e: Error) => e.message,
        );
        assert.equal(read, "Not a member of #plan");
        await dave.quit();
        await until("nothing of dave's in the room", async () => {
          const page = await gui.chat.messages("#plan");
          return !page.messages.some((m) => m.text === "let me in");
        });
      });

      await t.step("an offline member catches up at the next login", async () => {
        await bob.line("/quit");
        assert.equal(await bob.exit(), 0);
        await bob[Symbol.asyncDispose]();
        for (const n of [1, 2, 3]) await send(page, `while bob was away ${n}`);
        await messageText(page, "while bob was away 3").waitFor();
        bob = new ClientProcess(["-u", "bob"], consoleEnv("bob"));
        await bob.waitFor("* Type /help for commands");
        await bob.waitFor("* Rooms synced: 3 message(s) from the server");
        await bob.line("/rooms");
        // Unread: alice's and carol's from before (the console read nothing), and the three.
        await bob.waitFor(/#plan \(owner alice, 3 members\) 5 unread/);
        await bob.line("/history #plan");
        await bob.waitFor(
          /#plan alice: while bob was away 1\n.*\n.*#plan alice: while bob was away 3\n/,
        );
      });

      await t.step("after leave nothing more arrives", async () => {
        await carol.leave("#plan");
        await page.locator("#room-note").getByText("carol left #plan").waitFor();
        await send(page, "carol has gone");
        await bob.waitFor("#plan alice: carol has gone");
        // Anything still routed to carol would come before this direct message.
        await bob.line("/msg carol are you still in?");
        await until("carol has the direct one", () => carolGot.includes("are you still in?"));
        assert.ok(!carolGot.includes("carol has gone"), carolGot.join(" | "));
        const members = page.locator("#members li[data-member]");
        await until("two members", async () => (await members.count()) === 2);
      });

      await t.step(
        "an invite-only room refuses the uninvited; invite, remove, delete",
        async () => {
          await page.locator("#room-name").fill("#inner");
          await page.locator("#room-invite-only").check();
          await page.locator("#join-room").click();
          await page.locator("#room-note").getByText("Created #inner: you own it (invite-only)")
            .waitFor();
          const refused = await carol.join("#inner").then(() => "joined", (e: Error) => e.message);
          assert.equal(refused, "Room is invite-only: #inner");
          await bob.line("/join #inner");
          await bob.waitFor("! Room is invite-only: #inner");

          await page.locator("#invite-login").fill("bob");
          await page.locator("#invite-button").click();
          await bob.waitFor("* You were invited to #inner by alice: /join #inner");
          await bob.line("/join #inner");
          await page.locator('#members li[data-member="bob"]').waitFor();

          await page.getByRole("button", { name: "Remove bob from #inner" }).click();
          const dialog = page.getByRole("dialog", { name: "Remove member?" });
          await dialog.getByRole("button", { name: "Remove" }).click();
          await bob.waitFor("* You were removed from #inner by alice");
          await page.locator('#members li[data-member="bob"]').waitFor({ state: "detached" });

          await page.locator("#delete-room").click();
          await page.getByRole("dialog", { name: "Delete room?" })
            .getByRole("button", { name: "Delete room" }).click();
          await contact(page, "#inner").waitFor({ state: "detached" });
        },
      );

      await t.step("a seed-dialect session of a member never sees room traffic", async () => {
        await carol.send("bob", "direct, to every session of bob");
        await until("the seed session has the direct one", () => seedGot.length > 0);
        assert.deepEqual(seedGot.map((m) => m.text), ["direct, to every session of bob"]);
        assert.deepEqual(seedErrors, [], "no room frame was even offered");
      });

      await bob.line("/quit");
      assert.equal(await bob.exit(), 0);
      await bob[Symbol.asyncDispose]();
      await seed.quit();
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
