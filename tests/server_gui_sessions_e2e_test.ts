/**
 * End to end in Debian's chromium: the admin GUI lists each session of a user with its
 * address and since when, and ends one of them; a real JIM server, real SQLite file, real
 * JIM connections over TCP.
 */
import assert from "node:assert/strict";
import { addUser, LocalHub, SqliteStorage } from "../server/mod.ts";
import { connectRaw, now } from "../server/testing.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";

testWithTools([CHROMIUM], {
  name: "admin GUI: a user's sessions with address and since, and ending one",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jim-gui-sessions-e2e-" });
    try {
      await using storage = SqliteStorage.open(`${dir}/jim.db`, { historyFlushMs: 20 });
      await addUser(storage.users, "alice", "alice-pw", { iterations: 4096 });
      await using hub = new LocalHub({ maxSessionsPerAccount: 2 });
      await using gui = await startAdminGui({
        storage,
        jim: { host: "127.0.0.1", port: 0, hub },
        guiPort: 0,
        iterations: 4096,
        warn: (m) => console.error(m),
      });
      const target = { host: "127.0.0.1", port: gui.controller.status().port };
      await using phone = await connectRaw(target);
      await using laptop = await connectRaw(target);
      assert.equal((await phone.login("alice", "alice-pw")).response, 200);
      assert.equal(
        (await laptop.login("alice", "alice-pw", { capabilities: ["presence"] })).response,
        200,
      );
      const portOf = (c: typeof phone) => ((c.conn as Deno.Conn).localAddr as Deno.NetAddr).port;

      await using browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      await page.goto(gui.url);
      const sessions = page.getByRole("list", { name: "Sessions of alice" }).locator("li");
      await sessions.nth(1).waitFor();
      assert.equal(await sessions.count(), 2);
      const texts = await sessions.allInnerTexts();
      assert.ok(texts.some((t) => t.includes(`127.0.0.1:${portOf(phone)}`)), texts.join(" | "));
      assert.ok(texts.some((t) => t.includes(`127.0.0.1:${portOf(laptop)}`)), texts.join(" | "));
      assert.ok(texts.every((t) => /since \S/.test(t) && !t.includes("since —")), texts.join());

      const phoneRow = sessions.filter({ hasText: `127.0.0.1:${portOf(phone)}` });
      await phoneRow.getByRole("button", { name: /^End session / }).click();
      await page.getByRole("button", { name: "End session", exact: true }).click();
      assert.deepEqual(await phone.closedByServer(), [
        { response: 403, error: "Session ended by the administrator" },
      ]);
      await page.waitForFunction(() =>
        document.querySelectorAll('ul[aria-label="Sessions of alice"] li').length === 1
      );
      assert.match(await sessions.first().innerText(), new RegExp(`:${portOf(laptop)}\\b`));
      assert.equal(
        (await laptop.request({ action: "get_users", time: now() })).response,
        202,
        "the other session goes on",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
