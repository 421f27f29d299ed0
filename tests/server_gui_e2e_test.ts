/**
 * End to end: the admin GUI in Debian's chromium, a real JIM server, a real SQLite file and a
 * real JIM client logging in over TCP.
 */
import assert from "node:assert/strict";
import { JimClient } from "../client/mod.ts";
import { SqliteStorage } from "../server/mod.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { launchBrowser, skipBrowserTests, wantScreenshot } from "./_browser.ts";

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

const SCREENSHOT = new URL("../docs/img/server-gui.png", import.meta.url);

Deno.test({
  name: "admin GUI: token, stop/start on another port, add, live login, remove",
  ignore: skipBrowserTests(),
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-gui-e2e-" });
    await using storage = SqliteStorage.open(`${dir}/jim.db`, { historyFlushMs: 20 });
    await using gui = await startAdminGui({
      storage,
      jim: { host: "127.0.0.1", port: 0 },
      guiPort: 0,
      iterations: 4096,
      warn: (m) => console.error(m),
    });
    await using browser = await launchBrowser({
      viewport: { width: 1280, height: 800 },
      // Chromium logs every non-2xx fetch; the duplicate login below is refused with 409 on
      // purpose. Any other console error still fails the test.
      ignoreConsole: [/^Failed to load resource: the server responded with a status of 409/],
    });
    const page = browser.page;
    const status = page.locator("#server-status");
    const log = page.getByRole("log", { name: "Service info" });
    const row = (login: string) => page.locator(`tr[data-login="${login}"]`);

    await t.step("opens the URL with its token, which then leaves the address bar", async () => {
      await page.goto(gui.url);
      assert.equal(page.url(), `${gui.origin}/`);
      await status.getByText("Started").waitFor();
      assert.equal(await page.title(), "JIM server");
    });

    await t.step("stops the server and starts it on another port", async () => {
      const oldPort = gui.controller.status().port;
      await page.getByRole("button", { name: "Stop server" }).click();
      await status.getByText("Stopped").waitFor();
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: oldPort }));
      const port = freePort();
      await page.getByLabel("Port", { exact: true }).fill(String(port));
      await page.getByRole("button", { name: "Start server" }).click();
      await status.getByText("Started").waitFor();
      assert.equal(gui.controller.status().port, port);
      await log.getByText(`Listening on 127.0.0.1:${port}`).waitFor();
    });

    await t.step("shows inline errors and adds clients", async () => {
      const login = page.getByLabel("Login", { exact: true });
      const password = page.getByLabel("Password", { exact: true });
      const add = page.getByRole("button", { name: "Add client" });
      await add.click();
      await page.locator("#new-login-error").getByText("Login is required").waitFor();
      await page.locator("#new-password-error").getByText("Password is required").waitFor();
      await login.fill("bad name!");
      await password.fill("x");
      await add.click();
      await page.locator("#new-login-error").getByText("contains a space character").waitFor();
      await login.fill("a".repeat(26));
      await add.click();
      await page.locator("#new-login-error").getByText("exceeds 25 characters").waitFor();

      for (const [name, pw] of [["Client6", "Password6"], ["Client5", "Password5"]]) {
        await login.fill(name!);
        await password.fill(pw!);
        await add.click();
        await row(name!).waitFor();
        assert.equal(await login.inputValue(), "", "fields clear on success");
        assert.equal(await password.inputValue(), "");
      }
      await login.fill("client5");
      await password.fill("other");
      await add.click();
      await page.locator("#new-login-error").getByText("Login is taken: client5").waitFor();
      assert.deepEqual(await storage.users.loginsAfter(undefined, 100), ["Client5", "Client6"]);
      const order = await page.locator("tbody tr").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-login"))
      );
      assert.deepEqual(order, ["Client5", "Client6"], "newest first");
      await login.fill("");
      await password.fill("");
    });

    await t.step("a real client logs in: row and Service info update live", async () => {
      const port = gui.controller.status().port;
      await using client = await JimClient.connect({ host: "127.0.0.1", port });
      await client.login("Client5", "Password5");
      await row("Client5").getByText("Online").waitFor();
      await row("Client5").getByText("127.0.0.1").waitFor();
      await log.getByText("Logged in: Client5").first().waitFor();
      await log.getByText('"action": "authenticate"').first().waitFor();
      const text = await log.innerText();
      assert.ok(!text.includes("Password5"), "the password never reaches Service info");
      assert.match(text, /\[redacted\]/);
      await client.contacts();
      await log.getByText('"action": "get_contacts"').first().waitFor();
      // A second user and a message, so Service info shows routing like the seed's screen.
      await using peer = await JimClient.connect({ host: "127.0.0.1", port });
      await peer.login("Client6", "Password6");
      await row("Client6").getByText("Online").waitFor();
      await client.addContact("Client6");
      await client.send("Client6", "Hey! Why money? We are friends, by the way!");
      await log.getByText('"message": "Hey! Why money? We are friends, by the way!"').first()
        .waitFor();
      await log.getByText(/Sent to Client6/).first().waitFor();
      // Last time fills in once the server has written its login history.
      await row("Client5").locator("td").nth(1).filter({ hasNotText: "never" }).waitFor();
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const shot = await page.screenshot(
        wantScreenshot(SCREENSHOT) ? { path: SCREENSHOT.pathname } : {},
      );
      assert.ok(shot.length > 10_000, "the page renders");
      await client.close();
      await peer.close();
      await row("Client5").getByText("Offline").waitFor();
      await row("Client6").getByText("Offline").waitFor();
      await log.getByText(/Disconnected: Client5/).first().waitFor();
    });

    await t.step("each GUI action is logged once, by the server", async () => {
      assert.equal(await log.getByText("Client added: Client5").count(), 1);
      assert.equal(await log.getByText("Client added: Client6").count(), 1);
    });

    await t.step("resets a password after confirmation; the new one logs in", async () => {
      await page.getByRole("button", { name: "Reset password of Client5" }).click();
      const dialog = page.getByRole("dialog", { name: "Reset the password of Client5?" });
      await dialog.waitFor();
      await dialog.getByRole("button", { name: "Set password" }).click();
      await dialog.getByText("Password is required").waitFor();
      await dialog.getByLabel("New password").fill("NewPassword5");
      await dialog.getByRole("button", { name: "Set password" }).click();
      await dialog.waitFor({ state: "hidden" });
      await log.getByText("Password reset: Client5").waitFor();
      const port = gui.controller.status().port;
      await using client = await JimClient.connect({ host: "127.0.0.1", port });
      await client.login("Client5", "NewPassword5");
      await client.close();
    });

    await t.step("Service info stops following when scrolled up", async () => {
      const box = page.locator(".log-lines");
      await box.evaluate((el) => (el.scrollTop = 0));
      await page.locator('.log-lines[data-follow="no"]').waitFor();
      await gui.controller.addClient({ login: "Client7", password: "Password7" });
      await log.getByText("Client added: Client7").waitFor();
      assert.equal(await box.evaluate((el) => el.scrollTop), 0, "stays where the user is");
      await page.getByRole("button", { name: "Jump to latest" }).click();
      await page.locator('.log-lines[data-follow="yes"]').waitFor();
      const gap = await box.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
      assert.ok(gap < 8, `at the bottom again (gap ${gap})`);
    });

    await t.step("the page reconnects after a drop and catches up", async () => {
      // Hold reconnections off while events happen, so the page must catch up afterwards.
      await page.route("**/api/events**", (route) => route.abort());
      gui.live.disconnectAll();
      await page.locator('.live-status[data-status="reconnecting"]').waitFor();
      await gui.controller.addClient({ login: "Client8", password: "Password8" });
      await page.unroute("**/api/events**");
      await page.locator('.live-status[data-status="open"]').waitFor();
      await row("Client8").waitFor();
      await log.getByText("Client added: Client8").waitFor();
      assert.equal(await log.getByText("Client added: Client8").count(), 1);
      assert.equal(await log.getByText("Client added: Client5").count(), 1, "no replays");
    });

    await t.step("removes a client after confirmation", async () => {
      await page.getByRole("button", { name: "Remove Client6" }).click();
      const dialog = page.getByRole("dialog", { name: "Remove client Client6?" });
      await dialog.waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "hidden" });
      assert.ok(await storage.users.get("Client6"), "cancel keeps the client");
      await page.getByRole("button", { name: "Remove Client6" }).click();
      await dialog.getByRole("button", { name: "Remove" }).click();
      await row("Client6").waitFor({ state: "detached" });
      assert.equal(await storage.users.get("Client6"), undefined);
    });

    await t.step("the filter box and Clear work on Service info", async () => {
      const filter = page.getByLabel("Filter Service info");
      await filter.fill("Client removed");
      const entries = log.locator(".log-entry");
      await entries.first().waitFor();
      const heads = await entries.allInnerTexts();
      assert.ok(heads.every((h) => h.includes("Client removed")), heads.join("|"));
      await filter.fill("");
      await page.getByRole("button", { name: "Clear" }).click();
      assert.equal(await entries.count(), 0);
    });

    await t.step("Service info keeps the last 2,000 entries", async () => {
      const count = page.locator(".log-count");
      let sent = 0;
      // Batches below the per-stream queue size, so nothing is dropped on the way.
      while (sent < 2050) {
        for (let i = 0; i < 200 && sent < 2050; i++) {
          sent++;
          gui.live.publish("log", { time: Date.now(), type: "gui", message: `Bulk ${sent}` });
        }
        await count.getByText(`${Math.min(sent, 2000)} entries`).waitFor();
      }
      const first = await log.locator(".log-entry").first().innerText();
      assert.match(first, /Bulk 51$/);
      assert.match(await log.locator(".log-entry").last().innerText(), /Bulk 2050$/);
    });

    assert.deepEqual(browser.consoleErrors, []);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  },
});
