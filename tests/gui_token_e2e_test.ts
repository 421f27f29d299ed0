/**
 * End to end: both GUIs' access URLs work once in chromium (issue 10, defect 9), and a fresh
 * URL from the running GUI works.
 */
import assert from "node:assert/strict";
import { SqliteStorage } from "../server/mod.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";

testWithTools([CHROMIUM], {
  name: "GUIs in chromium: the token URL works once, a fresh URL works, the old one stays dead",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-gui-token-" });
    try {
      await using storage = SqliteStorage.open(`${dir}/jim.db`);
      await using admin = await startAdminGui({
        storage,
        jim: { host: "127.0.0.1", port: 0 },
        guiPort: 0,
        warn: (m) => console.error(m),
      });
      await using chat = await startChatGui({ guiPort: 0, dataDir: `${dir}/chat` });
      const guis = [
        { name: "admin GUI", gui: admin, ready: "#server-status" },
        { name: "chat GUI", gui: chat, ready: "#conn-user" },
      ];
      for (const { name, gui, ready } of guis) {
        await t.step(name, async () => {
          // Each launch is a fresh profile: a second person, or the same URL from history.
          await using first = await launchBrowser();
          await first.page.goto(gui.url);
          assert.equal(first.page.url(), `${gui.origin}/`);
          await first.page.locator(ready).first().waitFor();

          await using second = await launchBrowser({
            ignoreConsole: [/^Failed to load resource: the server responded with a status of 401/],
          });
          const refused = await second.page.goto(gui.url);
          assert.equal(refused?.status(), 401);
          await second.page.getByRole("alert").getByText(/already used: each URL works once/)
            .waitFor();

          const fresh = gui.freshUrl();
          await second.page.goto(fresh);
          assert.equal(second.page.url(), `${gui.origin}/`);
          await second.page.locator(ready).first().waitFor();

          // The first browser keeps its session; the used URLs stay dead for everyone else.
          await first.page.reload();
          await first.page.locator(ready).first().waitFor();
          await using third = await launchBrowser({
            ignoreConsole: [/^Failed to load resource: the server responded with a status of 401/],
          });
          for (const url of [gui.url, fresh]) {
            assert.equal((await third.page.goto(url))?.status(), 401, url);
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
