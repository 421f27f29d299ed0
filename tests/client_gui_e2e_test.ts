/**
 * End to end: two chat GUIs in Debian's chromium, each holding a real JIM connection to a
 * real server, with their histories in real SQLite files.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { ChatSession } from "../client/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { type ChatGui, startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser, wantScreenshot } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import {
  closeServiceLog,
  connect,
  connected,
  contact,
  messageText,
  send,
  serviceLog,
  setVisibility,
  valueBecomes,
} from "./_chat_page.ts";

const SCREENSHOT = new URL("../docs/img/client-gui.png", import.meta.url);
const NARROW_SHOT = new URL("../docs/img/client-gui-narrow.png", import.meta.url);
const DARK_SHOT = new URL("../docs/img/client-gui-dark.png", import.meta.url);

const PASSWORDS: Record<string, string> = {
  Client5: "Password5",
  Client6: "Password6",
  Клиент7: "пароль7",
};

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

async function composeScreenshot(page: Page, left: Uint8Array, right: Uint8Array) {
  const b64 = (bytes: Uint8Array) => {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  };
  await page.setViewportSize({ width: 2 * 1024 + 12, height: 720 });
  await page.setContent(
    `<!doctype html><html><body style="margin:0;background:#8a8a8a;display:flex;gap:12px">` +
      `<img src="data:image/png;base64,${b64(left)}" width="1024" height="720">` +
      `<img src="data:image/png;base64,${b64(right)}" width="1024" height="720">` +
      `</body></html>`,
  );
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  await page.screenshot(wantScreenshot(SCREENSHOT) ? { path: SCREENSHOT.pathname } : {});
}

testWithTools([CHROMIUM], {
  name: "chat GUI: two users connect, add each other, chat, reload, restart, retry, delete",
  async fn(t) {
    // The seed's policy: a message to someone offline fails (and is retried), not stored.
    await using srv = await startTestServer({
      users: Object.entries(PASSWORDS).map(([login, password]) => ({ login, password })),
      limits: { rateLimit: 0 },
      offlineMessages: "reject",
    });
    const dirA = await Deno.makeTempDir({ prefix: "jim-chat-e2e-a-" });
    const dirB = await Deno.makeTempDir({ prefix: "jim-chat-e2e-b-" });
    const guis: ChatGui[] = [];
    const start = async (dataDir: string, guiPort = 0) => {
      const gui = await startChatGui({ guiPort, dataDir, presencePollMs: 300 });
      guis.push(gui);
      return gui;
    };
    try {
      let guiA = await start(dirA);
      const guiB = await start(dirB);
      await using browser = await launchBrowser({
        viewport: { width: 1024, height: 720 },
        // Chromium logs every non-2xx fetch; these are the refusals the test provokes on
        // purpose (wrong password 401, unreachable 502, unknown contact 404, duplicate 409).
        // The live stream of the page whose GUI is restarted fails to reconnect meanwhile.
        ignoreConsole: [
          /^Failed to load resource: the server responded with a status of (401|404|409|502)/,
          /^Failed to load resource: net::ERR_CONNECTION_REFUSED/,
        ],
      });
      const a = browser.page;
      const b = await browser.newPage();
      for (const p of [a, b]) p.setDefaultTimeout(10_000);

      await t.step("both open their token URLs", async () => {
        await a.goto(guiA.url);
        await b.goto(guiB.url);
        assert.equal(a.url(), `${guiA.origin}/`);
        await a.locator(".live-status[data-status=open]").waitFor();
        await b.locator(".live-status[data-status=open]").waitFor();
        assert.equal(await a.title(), "JIM Messenger");
      });

      await t.step("connection errors show in the page", async () => {
        // Chromium throttles animation frames in background tabs, which slows every click.
        await a.bringToFront();
        await connect(a, "Client5", "wrong", srv.host, srv.port);
        await a.locator("#connection-error").getByText("Wrong password: Access denied").waitFor();
        assert.equal(
          await a.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"),
          "true",
        );
        // An unknown login fails like a wrong password: the server does not say which.
        await connect(a, "Nobody", "x", srv.host, srv.port);
        await (await serviceLog(a)).getByText(/Wrong password/).nth(1).waitFor();
        await closeServiceLog(a);
        await connect(a, "Client5", "x", "127.0.0.1", freePort());
        await a.locator("#connection-error").getByText(/^Server unreachable: /).waitFor();
        await (await serviceLog(a)).getByText(/Cannot connect: Server/).waitFor();
        await closeServiceLog(a);
      });

      await t.step("both connect; the password field clears", async () => {
        await connect(a, "Client5", PASSWORDS.Client5!, srv.host, srv.port);
        await connected(a, "Client5");
        await a.locator('[data-param="port"]').getByText(String(srv.port)).waitFor();
        await connect(b, "Client6", PASSWORDS.Client6!, srv.host, srv.port);
        await connected(b, "Client6");
        await (await serviceLog(b)).getByText("Logged in as Client6", { exact: false }).waitFor();
        await closeServiceLog(b);
      });

      await t.step("add contact: inline errors, then each adds the other", async () => {
        await a.bringToFront();
        await a.getByLabel("Login of the contact to add").fill("Ghost");
        await a.getByRole("button", { name: "Add", exact: true }).click();
        await a.locator("#add-error").getByText("No such client: Ghost").waitFor();
        await a.getByLabel("Login of the contact to add").fill("Client6");
        await a.getByRole("button", { name: "Add", exact: true }).click();
        await contact(a, "Client6").waitFor();
        assert.equal(await a.locator("#add-error").textContent(), "");
        await valueBecomes(a.getByLabel("Login of the contact to add"), "", "login clears");
        await a.getByLabel("Login of the contact to add").fill("Client6");
        await a.getByRole("button", { name: "Add", exact: true }).click();
        await a.locator("#add-error").getByText("Client already in contacts: Client6").waitFor();
        // Editing the login clears the old error.
        await a.getByLabel("Login of the contact to add").fill("");
        assert.equal(await a.locator("#add-error").textContent(), "");
        await b.getByLabel("Login of the contact to add").fill("Client5");
        await b.keyboard.press("Enter");
        await contact(b, "Client5").waitFor();
        // The online dots follow the server's list.
        await contact(a, "Client6").locator(".dot.on").waitFor();
        await contact(b, "Client5").locator(".dot.on").waitFor();
      });

      const hello = "Привет! Как дела? 👋🏽";
      const reply = "Всё хорошо 🙂\nA second line, with <b>no</b> markup";
      await t.step("messages go both ways, live, in any script", async () => {
        await contact(a, "Client6").click();
        await send(a, hello);
        await messageText(a, hello).waitFor();
        await valueBecomes(a.locator("#message-input"), "", "input clears once sent");
        // Adding Client5 selected it on b, so the message shows there live.
        assert.equal(await contact(b, "Client5").getAttribute("aria-pressed"), "true");
        await messageText(b, hello).waitFor();
        // The server keeps read marks (issue 12): b marks the conversation read once its page
        // is visible, and the unread count clears.
        await setVisibility(b, "visible");
        await contact(b, "Client5").locator(".unread").waitFor({ state: "detached" });
        await send(b, reply);
        await messageText(a, "A second line").waitFor();
        const texts = await a.locator(".msg .msg-text").allTextContents();
        assert.deepEqual(texts, [hello, reply]);
        const heads = await a.locator(".msg .msg-who").allTextContents();
        assert.deepEqual(heads, ["Client5 -> Client6:", "Client6 -> Client5:"]);
        assert.equal(await a.locator(".msg-text b").count(), 0, "text is not parsed as HTML");
      });

      await t.step("screenshot of the two GUIs chatting", async () => {
        await send(a, "Отлично! Let's meet at 18:00 ☕");
        await messageText(b, "Let's meet").waitFor();
        await b.locator("#message-input").fill("Deal, see you 👍");
        const shotA = await a.screenshot();
        const shotB = await b.screenshot();
        const canvas = await browser.newPage();
        await composeScreenshot(canvas, shotA, shotB);
        await canvas.close();
        await b.locator("#message-input").fill("");
        // The same conversation in a narrow window, and in the dark theme.
        await a.bringToFront();
        await a.setViewportSize({ width: 400, height: 720 });
        await a.locator("#message-input").fill("On my way 🚲");
        await a.screenshot(wantScreenshot(NARROW_SHOT) ? { path: NARROW_SHOT.pathname } : {});
        await a.setViewportSize({ width: 1024, height: 640 });
        await a.emulateMedia({ colorScheme: "dark" });
        await a.locator("#message-input").fill("Dark suits the evening 🌙");
        await a.screenshot(wantScreenshot(DARK_SHOT) ? { path: DARK_SHOT.pathname } : {});
        await a.emulateMedia({ colorScheme: "light" });
        await a.setViewportSize({ width: 1024, height: 720 });
        await a.locator("#message-input").fill("");
      });

      await t.step("history is there again after a page reload", async () => {
        await a.reload();
        await connected(a, "Client5");
        await messageText(a, hello).waitFor();
        await messageText(a, "A second line").waitFor();
      });

      await t.step("history is there again after a GUI restart", async () => {
        // Same port, as `jim-client gui` restarts on 8081: the page's origin (and its
        // remembered selection and drafts) stays; the access token is new.
        const port = guiA.port;
        await guiA.close();
        guiA = await start(dirA, port);
        await a.goto(guiA.url);
        await a.locator('[data-param="phase"]').getByText("Disconnected").waitFor();
        // Offline, the last account's history shows already.
        await contact(a, "Client6").waitFor();
        await messageText(a, hello).waitFor();
        // The form is prefilled with the last user, host and port; only the password is asked.
        assert.equal(await a.getByLabel("User name", { exact: true }).inputValue(), "Client5");
        assert.equal(
          await a.getByLabel("Server port", { exact: true }).inputValue(),
          String(srv.port),
        );
        assert.equal(await a.getByLabel("Password", { exact: true }).inputValue(), "");
        await a.getByLabel("Password", { exact: true }).fill(PASSWORDS.Client5!);
        await a.getByLabel("Password", { exact: true }).press("Enter");
        await connected(a, "Client5");
        await messageText(a, "A second line").waitFor();
      });

      let failedText = "";
      await t.step("a message to a disconnected peer fails and is retried", async () => {
        await a.bringToFront();
        await b.getByRole("button", { name: "Disconnect" }).click();
        await b.locator('[data-param="phase"]').getByText("Disconnected").waitFor();
        await contact(a, "Client6").click();
        failedText = "Are you there? Ты тут?";
        await send(a, failedText);
        const failed = a.locator(".msg.status-failed").filter({ hasText: failedText });
        await failed.getByText(/client not online/i).waitFor();
        await a.locator("#input-error").getByText(/client not online/i).waitFor();
        await (await serviceLog(a))
          .getByText("Message to Client6 not sent: Client not online: Client6").waitFor();
        await closeServiceLog(a);
        await valueBecomes(a.locator("#message-input"), "", "input clears once stored");
        await connect(b, "Client6", PASSWORDS.Client6!, srv.host, srv.port);
        await connected(b, "Client6");
        await failed.getByRole("button", { name: "Retry" }).click();
        // Client6 may have the conversation in view already: read comes right after delivered.
        await a.locator(".msg.status-delivered, .msg.status-read").filter({ hasText: failedText })
          .first().waitFor();
        await contact(b, "Client5").click();
        await messageText(b, failedText).waitFor();
      });

      await t.step("nothing typed is lost: an unsent draft survives a reload", async () => {
        await a.locator("#message-input").fill("draft, не отправлено");
        await a.reload();
        await connected(a, "Client5");
        assert.equal(await a.locator("#message-input").inputValue(), "draft, не отправлено");
        await a.locator("#message-input").fill("");
      });

      await t.step("a message from a stranger adds a contact", async () => {
        await a.bringToFront();
        await using stranger = await ChatSession.connect({
          host: srv.host,
          port: srv.port,
          user: "Клиент7",
          password: PASSWORDS.Клиент7!,
          dataDir: `${dirB}/stranger`,
        });
        const sent = await stranger.send("Client5", "Здравствуйте, мы не знакомы 🤝");
        assert.equal(sent.status, "delivered");
        await contact(a, "Клиент7").locator(".unread").getByText("1").waitFor();
        await contact(a, "Клиент7").click();
        await messageText(a, "мы не знакомы 🤝").waitFor();
        await a.locator(".msg .msg-who").filter({ hasText: "Клиент7 -> Client5:" }).waitFor();
      });

      await t.step("delete contact asks first, then removes it", async () => {
        await a.bringToFront();
        await contact(a, "Клиент7").click();
        await a.getByRole("button", { name: "Delete selected contact" }).click();
        const dialog = a.getByRole("dialog", { name: "Delete contact?" });
        await dialog.waitFor();
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await dialog.waitFor({ state: "hidden" });
        assert.equal(await contact(a, "Клиент7").count(), 1);
        await a.getByRole("button", { name: "Delete selected contact" }).click();
        await dialog.getByRole("button", { name: "Delete" }).click();
        await contact(a, "Клиент7").waitFor({ state: "detached" });
        await contact(a, "Client6").waitFor();
      });

      await t.step("tidy at 1024 px: nothing overflows sideways", async () => {
        const overflow = await a.evaluate(() => ({
          page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          panels: [...document.querySelectorAll("fieldset.panel")].filter((el) =>
            el.scrollWidth > el.clientWidth + 1
          ).map((el) => el.id),
        }));
        assert.deepEqual(overflow, { page: 0, panels: [] });
      });

      await t.step("no console errors", () => {
        assert.deepEqual(browser.consoleErrors, []);
      });
    } finally {
      for (const gui of guis) await gui.close();
      await Deno.remove(dirA, { recursive: true });
      await Deno.remove(dirB, { recursive: true });
    }
  },
});
