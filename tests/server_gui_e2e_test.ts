/**
 * End to end: the admin GUI in Debian's chromium, a real JIM server, a real SQLite file and
 * real JIM clients logging in over TCP.
 */
import assert from "node:assert/strict";
import { JimClient } from "../client/mod.ts";
import { SqliteStorage } from "../server/mod.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { CHROMIUM, launchBrowser, wantScreenshot } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import { until } from "./_chat_page.ts";
import { measureContrast } from "./_contrast.ts";

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

const SCREENSHOT = new URL("../docs/img/server-gui.png", import.meta.url);
const SECRET = "Hey! Why money? We are friends, by the way!";

testWithTools([CHROMIUM], {
  name: "admin GUI: token, stop/start, clients, live logins, and Service info at scale",
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
      // purpose, and the live stream fails while it is held off. Any other error fails.
      ignoreConsole: [
        /^Failed to load resource: the server responded with a status of 409/,
        /^Failed to load resource: net::ERR_FAILED/,
      ],
    });
    const page = browser.page;
    page.setDefaultTimeout(10_000);
    const status = page.locator("#server-status");
    const log = page.getByRole("log", { name: "Service info" });
    const rows = log.locator(".log-row");
    const details = page.locator(".log-details pre");
    const count = page.locator(".log-count");
    const filter = page.getByLabel("Filter Service info");
    const row = (login: string) => page.locator(`tr[data-login="${login}"]`);
    const jimPort = () => gui.controller.status().port;
    const kept = () => gui.controller.serviceLog.size.toLocaleString("en-US");
    /** Waits until the JSON of the selected entry contains `text`. */
    const detailsShow = (text: string) =>
      until(`details with ${text}`, async () => (await details.innerText()).includes(text));

    await t.step("opens the URL with its token, which then leaves the address bar", async () => {
      await page.goto(gui.url);
      assert.equal(page.url(), `${gui.origin}/`);
      await status.getByText("Started").waitFor();
      assert.equal(await page.title(), "JIM server");
      // Running, the Parameters panel is folded into the header.
      assert.equal(await page.getByLabel("Port", { exact: true }).count(), 0);
      await page.locator("#parameters-bar").getByText(`127.0.0.1:${jimPort()}`).waitFor();
    });

    await t.step("stops the server and starts it on another port", async () => {
      const oldPort = jimPort();
      await page.getByRole("button", { name: "Stop server" }).click();
      await status.getByText("Stopped").waitFor();
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: oldPort }));
      const port = freePort();
      await page.getByLabel("Port", { exact: true }).fill(String(port));
      await page.getByRole("button", { name: "Start server" }).click();
      await status.getByText("Started").waitFor();
      assert.equal(jimPort(), port);
      await log.getByText(`Listening on 127.0.0.1:${port}`).waitFor();
      await page.getByLabel("Port", { exact: true }).waitFor({ state: "detached" });
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
      const order = await page.getByRole("table", { name: "Clients" }).locator("tbody tr")
        .evaluateAll((trs) => trs.map((r) => r.getAttribute("data-login")));
      assert.deepEqual(order, ["Client5", "Client6"], "newest first");
      await login.fill("");
      await password.fill("");
    });

    await using client = await JimClient.connect({ host: "127.0.0.1", port: jimPort() });
    await using peer = await JimClient.connect({ host: "127.0.0.1", port: jimPort() });

    await t.step("a real client logs in: the row and Service info update live", async () => {
      await client.login("Client5", "Password5");
      await row("Client5").getByText("Online").waitFor();
      await row("Client5").getByText("127.0.0.1").waitFor();
      await log.getByText("Logged in: Client5").first().waitFor();
      // One line per event; its JSON on demand.
      const auth = rows.filter({ hasText: "authenticate Client5" }).last();
      await auth.click();
      await detailsShow('"action": "authenticate"');
      const text = await page.locator("body").innerText();
      assert.ok(!text.includes("Password5"), "the password never reaches Service info");
      assert.match(await details.innerText(), /\[redacted\]/);
      await client.contacts();
      await log.getByText(/get_contacts$/).first().waitFor();
    });

    await t.step("a message shows who, to whom and its size, not its text", async () => {
      await peer.login("Client6", "Password6");
      await row("Client6").getByText("Online").waitFor();
      await client.addContact("Client6");
      await client.send("Client6", SECRET);
      const line = `msg Client5 → Client6 (${SECRET.length} characters, ${SECRET.length} bytes)`;
      await log.getByText(`Request from Client5 127.0.0.1:`).filter({ hasText: line }).waitFor();
      await log.getByText(/Sent to Client6/).filter({ hasText: line }).waitFor();
      await rows.filter({ hasText: line }).first().click();
      await detailsShow('"message": "[hidden]"');
      assert.ok(!(await page.locator("body").innerText()).includes(SECRET), "text hidden");
      // Last time fills in once the server has written its login history.
      await row("Client5").locator("td").nth(1).filter({ hasNotText: "never" }).waitFor();
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const shot = await page.screenshot(
        wantScreenshot(SCREENSHOT) ? { path: SCREENSHOT.pathname } : {},
      );
      assert.ok(shot.length > 10_000, "the page renders");
    });

    await t.step("export is JSON lines of what is kept, texts hidden", async () => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: "Export" }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^jim-service-info-.*\.jsonl$/);
      const text = await Deno.readTextFile(await download.path());
      const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, gui.controller.serviceLog.size);
      assert.ok(!text.includes(SECRET));
      assert.ok(lines.some((e) => e.category === "messages" && e.size?.chars === SECRET.length));
    });

    await t.step("message texts show only once the admin turns them on", async () => {
      await page.getByLabel("Show message texts").check();
      await log.getByText(`"${SECRET}"`).first().waitFor();
      await detailsShow(`"message": "${SECRET}"`);
      await page.getByLabel("Show message texts").uncheck();
      await until(
        "texts hidden again",
        async () => !(await page.locator("body").innerText()).includes(SECRET),
      );
    });

    await t.step("filters by kind beside the text filter", async () => {
      const kinds = page.getByRole("group", { name: "Kinds of entries shown" });
      for (const kind of ["Connections", "Logins", "Errors", "Other"]) {
        await kinds.getByLabel(kind, { exact: false }).uncheck();
      }
      await until("only messages", async () => {
        const lines = await rows.allInnerTexts();
        return lines.length > 0 && lines.every((l) => / msg Client5 → Client6 /.test(l));
      });
      await filter.fill("Sent to");
      await until("only the push", async () => {
        const lines = await rows.allInnerTexts();
        return lines.length === 1 && / Sent to Client6 /.test(lines[0]!);
      });
      await count.getByText(`1 of ${kept()} entries`).waitFor();
      await filter.fill("");
      for (const kind of ["Connections", "Logins", "Errors", "Other"]) {
        await kinds.getByLabel(kind, { exact: false }).check();
      }
      await count.getByText(`${kept()} entries`, { exact: true }).waitFor();
    });

    await t.step("pause holds the list still; resume shows what came meanwhile", async () => {
      await page.getByRole("button", { name: "Pause" }).click();
      gui.controller.serviceLog.add({ time: Date.now(), type: "gui", message: "While paused" });
      await page.getByRole("button", { name: "Resume (1 new)" }).waitFor();
      assert.equal(await log.getByText("While paused").count(), 0);
      await page.getByRole("button", { name: "Resume (1 new)" }).click();
      await log.getByText("While paused").waitFor();
    });

    await t.step("Stop server asks first while clients are online", async () => {
      await page.getByRole("button", { name: "Stop server" }).click();
      const dialog = page.getByRole("dialog", { name: "Stop the server?" });
      await dialog.getByText("2 clients are online: Client5, Client6").waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "hidden" });
      assert.equal(gui.controller.status().running, true, "cancel keeps it running");
      await page.getByRole("button", { name: "Stop server" }).click();
      await dialog.getByRole("button", { name: "Stop and disconnect them" }).click();
      await status.getByText("Stopped").waitFor();
      await client.closed;
      await page.getByRole("button", { name: "Start server" }).click();
      await status.getByText("Started").waitFor();
    });

    await t.step("each GUI action is logged once, by the server", async () => {
      await filter.fill("Client added");
      await count.getByText(`2 of ${kept()} entries`).waitFor();
      assert.equal(await log.getByText("Client added: Client5").count(), 1);
      assert.equal(await log.getByText("Client added: Client6").count(), 1);
      await filter.fill("");
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
      await using again = await JimClient.connect({ host: "127.0.0.1", port: jimPort() });
      await again.login("Client5", "NewPassword5");
      await again.close();
    });

    await t.step("Service info stops following when scrolled up", async () => {
      const box = page.locator(".vlist");
      await box.evaluate((el) => (el.scrollTop = 0));
      await page.locator('.vlist[data-follow="no"]').waitFor();
      await gui.controller.addClient({ login: "Client7", password: "Password7" });
      await count.getByText(`${kept()} entries`, { exact: true }).waitFor();
      assert.equal(await box.evaluate((el) => el.scrollTop), 0, "stays where the user is");
      await page.getByRole("button", { name: "Jump to latest" }).click();
      await page.locator('.vlist[data-follow="yes"]').waitFor();
      await log.getByText("Client added: Client7").waitFor();
    });

    await t.step("the page reconnects after a drop and catches up, without replays", async () => {
      await page.route("**/api/events**", (route) => route.abort());
      gui.live.disconnectAll();
      await page.locator('.live-status[data-status="reconnecting"]').waitFor();
      await gui.controller.addClient({ login: "Client8", password: "Password8" });
      await page.unroute("**/api/events**");
      await page.locator('.live-status[data-status="open"]').waitFor();
      await row("Client8").waitFor();
      await log.getByText("Client added: Client8").waitFor();
      await count.getByText(`${kept()} entries`, { exact: true }).waitFor();
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

    await t.step("contrast is 4.5:1 or more in both themes", async () => {
      await rows.last().click();
      for (const scheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
        const samples = await measureContrast(page);
        const low = samples.filter((s) => s.ratio < 4.5);
        assert.deepEqual(low, [], `${scheme}: ${JSON.stringify(low, null, 1)}`);
        const lowest = samples.reduce((a, b) => (b.ratio < a.ratio ? b : a));
        console.log(`Lowest contrast, ${scheme}: ${lowest.ratio}:1 (${lowest.where})`);
      }
      await page.emulateMedia({ colorScheme: "light" });
      await page.getByRole("button", { name: "Close" }).click();
    });

    await t.step("no sideways scroll at 800 px; below 600 px two views", async () => {
      const sideways = () =>
        page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
      await page.setViewportSize({ width: 800, height: 600 });
      assert.equal(await sideways(), 0);
      await page.setViewportSize({ width: 400, height: 720 });
      assert.equal(await sideways(), 0);
      const tabs = page.getByRole("navigation", { name: "Views" });
      await page.locator("#clients").waitFor({ state: "visible" });
      assert.equal(await page.locator("#service-info").isVisible(), false);
      await tabs.getByRole("button", { name: "Service info" }).click();
      await page.locator("#service-info").waitFor({ state: "visible" });
      assert.equal(await page.locator("#clients").isVisible(), false);
      await tabs.getByRole("button", { name: "Clients" }).click();
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await t.step("the Clear button empties Service info", async () => {
      await page.getByRole("button", { name: "Clear" }).click();
      await count.getByText("0 entries", { exact: true }).waitFor();
      assert.equal(await rows.count(), 0);
      assert.equal(gui.controller.serviceLog.size, 0);
    });

    await t.step("10,000 entries: the list draws only what is in view", async () => {
      // A burst far beyond the live stream's queue: the page reloads what it missed.
      for (let i = 1; i <= 10_050; i++) {
        gui.controller.serviceLog.add({ time: Date.now(), type: "gui", message: `Bulk ${i}` });
      }
      await count.getByText("10,000 entries", { exact: true }).waitFor({ timeout: 30_000 });
      await log.getByText(/Bulk 10050$/).waitFor();
      const box = page.locator(".vlist");
      const drawn = async () => await page.locator(".vlist-row").count();
      assert.ok((await drawn()) < 100, `rows in the DOM: ${await drawn()}`);
      for (const [index, text] of [[0, "Bulk 51"], [5000, "Bulk 5051"], [9999, "Bulk 10050"]]) {
        await box.evaluate((el, i) => (el.scrollTop = (i as number) * 22), index);
        await log.getByText(new RegExp(`${text}$`)).waitFor();
        assert.ok((await drawn()) < 100);
      }
      const started = performance.now();
      for (let step = 0; step < 20; step++) {
        await box.evaluate((el, s) => (el.scrollTop = (s as number) * 11_000), step);
        await page.evaluate(() => new Promise(requestAnimationFrame));
      }
      console.log(
        `Scrolled 10,000 entries in 20 jumps: ${
          (performance.now() - started).toFixed(0)
        } ms, ${await drawn()} rows in the DOM`,
      );
    });

    await t.step("a reload brings back the same entries", async () => {
      await page.locator(".vlist").evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.locator('.vlist[data-follow="yes"]').waitFor();
      const before = {
        count: await count.textContent(),
        last: await rows.last().innerText(),
      };
      await page.reload();
      await count.getByText("10,000 entries", { exact: true }).waitFor();
      assert.deepEqual(
        { count: await count.textContent(), last: await rows.last().innerText() },
        before,
      );
      await page.locator(".vlist").evaluate((el) => (el.scrollTop = 0));
      await log.getByText(/Bulk 51$/).waitFor();
    });

    assert.deepEqual(browser.consoleErrors, []);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  },
});
