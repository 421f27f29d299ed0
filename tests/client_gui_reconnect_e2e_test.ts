/**
 * End to end: the chat GUI in Debian's chromium comes back by itself when its JIM server
 * restarts (a new server on the same port with the same database), without the password.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../client/mod.ts";
import { JimServer } from "../server/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
];

testWithTools([CHROMIUM], {
  name: "chat GUI: after a server restart the page shows Reconnecting…, then Connected, and sends",
  async fn() {
    await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-e2e-reconnect-" });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 60_000 });
      await using bob = await ChatSession.connect({
        port: srv.port,
        user: "bob",
        password: "bob-pw",
        dataDir,
        reconnect: { initialDelay: 10, maxDelay: 100 },
      });
      const got: string[] = [];
      bob.addEventListener("message", (e) => got.push(e.detail.text));
      await using browser = await launchBrowser({ viewport: { width: 1024, height: 720 } });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      const phase = page.locator('[data-param="phase"]');

      await page.goto(gui.url);
      await page.getByLabel("User name", { exact: true }).fill("alice");
      await page.getByLabel("Password", { exact: true }).fill("alice-pw");
      await page.getByLabel("Server IP", { exact: true }).fill(srv.host);
      await page.getByLabel("Server port", { exact: true }).fill(String(srv.port));
      await page.getByRole("button", { name: "Connect", exact: true }).click();
      await phase.getByText("Connected", { exact: true }).waitFor();
      await page.getByLabel("Login of the contact to add").fill("bob");
      await page.getByRole("button", { name: "Add", exact: true }).click();
      await page.locator('button[data-contact="bob"]').click();

      await srv.server.close();
      // The session waits at least a quarter second before its first attempt (0.5 s with
      // jitter), long enough for the page to show it.
      await phase.getByText("Reconnecting…", { exact: true }).waitFor();
      // Nothing to fill in: the Connection panel stays folded into the header's Disconnect.
      assert.equal(await page.getByRole("button", { name: "Connect", exact: true }).count(), 0);
      await page.getByRole("button", { name: "Disconnect" }).waitFor();
      await using _restarted = await JimServer.listen({
        host: "127.0.0.1",
        port: srv.port,
        storage: srv.storage,
      });
      await phase.getByText("Connected", { exact: true }).waitFor();
      await page.locator("#service-toggle").click();
      await page.getByRole("log", { name: "Service info" }).getByText(/Reconnected$/).waitFor();
      await page.locator("#service-info .drawer-close").click();
      // Nothing was asked: no password field came back.
      assert.equal(await page.getByLabel("Password", { exact: true }).count(), 0);
      assert.equal(await page.locator('[data-param="user"]').textContent(), "alice");

      const deadline = Date.now() + 10_000;
      while (!bob.connected && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const input = page.locator("#message-input");
      await input.click();
      await input.pressSequentially("back after the restart");
      await input.press("Enter");
      await page.locator(".msg.status-delivered").filter({ hasText: "back after the restart" })
        .waitFor();
      while (!got.includes("back after the restart") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(got, ["back after the restart"]);
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
