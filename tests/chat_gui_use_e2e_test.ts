/**
 * End to end, in Debian's chromium: the chat GUI as people use it (issue 15). A real JIM
 * server, a real chat GUI with its SQLite history, and peers that are real JIM sessions.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../client/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import {
  closeServiceLog,
  connect,
  connected,
  contact,
  focused,
  messageText,
  serviceLog,
  setVisibility,
  until,
  valueBecomes,
} from "./_chat_page.ts";
import { measureContrast } from "./_contrast.ts";

const USERS = ["erin", "frank", "gina", "hal", "ivan"].map((login) => ({
  login,
  password: `${login}-secret`,
}));

testWithTools([CHROMIUM], {
  name: "chat GUI in use: typing, focus, links, unread, notifications, limits, states, layout",
  async fn(t) {
    await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
    for (const peer of ["frank", "gina", "hal"]) await srv.storage.contacts.add("erin", peer);
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-use-e2e-" });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 300 });
      const peer = async (login: string) => {
        const session = await ChatSession.connect({
          port: srv.port,
          user: login,
          password: `${login}-secret`,
          dataDir: `${dataDir}/${login}`,
        });
        const got: string[] = [];
        session.addEventListener("message", (e) => got.push(e.detail.text));
        return { session, got };
      };
      const frank = await peer("frank");
      const gina = await peer("gina");
      const hal = await peer("hal");
      await using _f = frank.session;
      await using _g = gina.session;
      await using _h = hal.session;

      await using browser = await launchBrowser({
        viewport: { width: 1280, height: 800 },
        // The refusals provoked on purpose below (409 duplicate contact, 400 oneself), and
        // the live stream while it is held off.
        ignoreConsole: [
          /^Failed to load resource: the server responded with a status of (400|409)/,
          /^Failed to load resource: net::ERR_FAILED/,
        ],
      });
      const { context } = browser;
      await context.grantPermissions(["notifications"], { origin: gui.origin });
      // Records the notifications the page creates; the browser still shows them.
      await context.addInitScript(() => {
        const w = globalThis as unknown as {
          __notes: { title: string; body?: string }[];
          Notification: typeof Notification;
        };
        w.__notes = [];
        w.Notification = new Proxy(w.Notification, {
          construct(target, args: [string, NotificationOptions?]) {
            w.__notes.push({ title: args[0], body: args[1]?.body });
            return Reflect.construct(target, args);
          },
        });
      });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      page.on("dialog", (d) => assert.fail(`Unexpected dialog: ${d.message()}`));
      const input = page.locator("#message-input");
      const notes = () =>
        page.evaluate(() =>
          (globalThis as unknown as { __notes: { title: string; body?: string }[] }).__notes
        );

      await page.goto(gui.url);
      await page.locator(".live-status[data-status=open]").waitFor();

      await t.step("contrast is 4.5:1 or more in both themes, disconnected", async () => {
        for (const scheme of ["light", "dark"] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
          const low = (await measureContrast(page)).filter((s) => s.ratio < 4.5);
          assert.deepEqual(low, [], `${scheme}: ${JSON.stringify(low, null, 1)}`);
        }
        await page.emulateMedia({ colorScheme: "light" });
      });

      await t.step("after Connect the contacts get focus", async () => {
        await connect(page, "erin", "erin-secret", srv.host, srv.port);
        await connected(page, "erin");
        await contact(page, "frank").waitFor();
        await until("a contact has focus", async () => (await focused(page)).contact !== null);
        assert.equal((await focused(page)).contact, "frank");
        // The Connection panel folded into the header: only Disconnect is left of it.
        assert.equal(await page.getByRole("button", { name: "Connect", exact: true }).count(), 0);
        await page.locator("#connection").getByRole("button", { name: "Disconnect" }).waitFor();
      });

      await t.step("arrow keys move through three contacts both ways; Enter opens", async () => {
        const keys: [string, string][] = [
          ["ArrowDown", "gina"],
          ["ArrowDown", "hal"],
          ["ArrowDown", "hal"],
          ["ArrowUp", "gina"],
          ["ArrowUp", "frank"],
          ["ArrowUp", "frank"],
          ["End", "hal"],
          ["Home", "frank"],
          ["ArrowDown", "gina"],
        ];
        for (const [key, expected] of keys) {
          await page.keyboard.press(key);
          assert.equal((await focused(page)).contact, expected, `after ${key}`);
        }
        // Moving the focus opens nothing; Enter does, with the cursor in the box.
        assert.equal(await page.locator("button.contact[aria-pressed=true]").count(), 0);
        await page.keyboard.press("Enter");
        assert.equal(await contact(page, "gina").getAttribute("aria-pressed"), "true");
        await until("the box has focus", async () => (await focused(page)).id === "message-input");
        // One tab stop: Shift+Tab from the box reaches the list's opened entry, not all three.
        assert.equal(await page.locator("button.contact[tabindex='0']").count(), 1);
      });

      await t.step("a click opens a chat with the cursor in the box", async () => {
        await contact(page, "hal").click();
        await until("the box has focus", async () => (await focused(page)).id === "message-input");
        assert.equal(await contact(page, "hal").getAttribute("aria-pressed"), "true");
      });

      await t.step("a key typed while the message list has focus goes to the box", async () => {
        await page.locator(".message-list").focus();
        await page.keyboard.type("Hi");
        assert.equal(await input.inputValue(), "Hi");
        assert.equal((await focused(page)).id, "message-input");
        await input.fill("");
      });

      await t.step("Add contact opens the new contact with the cursor in the box", async () => {
        await page.getByLabel("Login of the contact to add").fill("ivan");
        await page.getByRole("button", { name: "Add", exact: true }).click();
        await contact(page, "ivan").waitFor();
        await until(
          "ivan open",
          async () => (await contact(page, "ivan").getAttribute("aria-pressed")) === "true",
        );
        await until("the box has focus", async () => (await focused(page)).id === "message-input");
      });

      await t.step("'Ivan' while ivan is a contact: refused, no ghost row", async () => {
        await page.getByLabel("Login of the contact to add").fill("Ivan");
        await page.getByRole("button", { name: "Add", exact: true }).click();
        await page.locator("#add-error").getByText("Client already in contacts: ivan").waitFor();
        const names = await page.locator("button[data-contact]").evaluateAll((els) =>
          els.map((e) => (e as HTMLElement).dataset.contact)
        );
        assert.deepEqual(names, ["frank", "gina", "hal", "ivan"]);
      });

      await t.step("adding oneself is refused with a clear message", async () => {
        await page.getByLabel("Login of the contact to add").fill("ERIN");
        await page.getByRole("button", { name: "Add", exact: true }).click();
        await page.locator("#add-error")
          .getByText("Cannot add yourself: you are logged in as erin").waitFor();
        assert.equal(await page.locator('button[data-contact="erin"]').count(), 0);
        await page.getByLabel("Login of the contact to add").fill("");
      });

      await t.step("30 messages typed at 10 ms per key arrive intact and in order", async () => {
        await contact(page, "frank").click();
        const texts = Array.from({ length: 30 }, (_, i) => `message ${i + 1} of thirty`);
        for (const text of texts) {
          // No waiting between messages: the next one is typed while the last is on its way.
          await input.pressSequentially(text, { delay: 10 });
          await input.press("Enter");
        }
        await until("frank has all 30", () => frank.got.length >= 30);
        assert.deepEqual(frank.got, texts);
        await until(
          "all 30 delivered on the page",
          async () => (await page.locator(".msg.status-delivered").count()) === 30,
        );
        assert.deepEqual(await page.locator(".msg .msg-text").allTextContents(), texts);
        assert.equal(await input.inputValue(), "");
      });

      await t.step("a link is clickable and a javascript: URL stays text", async () => {
        const text = "docs at https://example.com/path?q=1 and javascript:alert(document.domain)";
        await frank.session.send("erin", text);
        const msg = page.locator(".msg").filter({ hasText: "docs at" });
        await msg.waitFor();
        const link = msg.getByRole("link");
        assert.equal(await link.count(), 1);
        assert.equal(await link.getAttribute("href"), "https://example.com/path?q=1");
        assert.equal(await link.getAttribute("target"), "_blank");
        assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
        assert.equal(await msg.locator("a[href^='javascript' i]").count(), 0);
        assert.equal(await msg.locator(".msg-text").textContent(), text);
        await context.route(
          "https://example.com/**",
          (route) => route.fulfill({ contentType: "text/html", body: "<p>example</p>" }),
        );
        const [popup] = await Promise.all([context.waitForEvent("page"), link.click()]);
        await popup.waitForLoadState();
        assert.equal(popup.url(), "https://example.com/path?q=1");
        assert.equal(await popup.evaluate(() => globalThis.opener), null, "noopener");
        assert.equal(await popup.evaluate(() => document.referrer), "", "noreferrer");
        await popup.close();
        await context.unroute("https://example.com/**");
      });

      await t.step("the title and the favicon carry the unread count", async () => {
        for (const n of [1, 2, 3]) await gina.session.send("erin", `gina ${n}`);
        await until("title count", async () => (await page.title()) === "(3) erin — JIM Messenger");
        const icon = page.locator('link[rel="icon"]');
        assert.equal(await icon.getAttribute("data-unread"), "3");
        assert.match(decodeURIComponent((await icon.getAttribute("href")) ?? ""), /<circle/);
        await contact(page, "gina").click();
        await until("title clears", async () => (await page.title()) === "erin — JIM Messenger");
        assert.doesNotMatch(decodeURIComponent((await icon.getAttribute("href")) ?? ""), /<circle/);
      });

      await t.step("desktop notifications for a chat not in view, and they turn off", async () => {
        // The init script runs on a new document.
        await page.reload();
        await connected(page, "erin");
        await page.getByRole("button", { name: "Notifications off" }).click();
        await page.getByRole("button", { name: "Notifications on" }).waitFor();
        await contact(page, "gina").click();
        await gina.session.send("erin", "gina sees you reading");
        await messageText(page, "gina sees you reading").waitFor();
        await hal.session.send("erin", "hal, not in view");
        await contact(page, "hal").locator(".unread").waitFor();
        await until("one notification", async () => (await notes()).length === 1);
        assert.deepEqual(await notes(), [{ title: "hal", body: "hal, not in view" }]);
        // A hidden tab: even the open conversation is out of sight.
        const visibility = (state: "hidden" | "visible") => setVisibility(page, state);
        await visibility("hidden");
        await gina.session.send("erin", "while you are away");
        await until("two notifications", async () => (await notes()).length === 2);
        assert.deepEqual((await notes())[1], { title: "gina", body: "while you are away" });
        await contact(page, "gina").locator(".unread").getByText("1").waitFor();
        await visibility("visible");
        await contact(page, "gina").locator(".unread").waitFor({ state: "detached" });
        // The choice is kept across a reload.
        await page.reload();
        await connected(page, "erin");
        await page.getByRole("button", { name: "Notifications on" }).click();
        await page.getByRole("button", { name: "Notifications off" }).waitFor();
        await hal.session.send("erin", "hal again");
        await until(
          "hal's unread count",
          async () => (await contact(page, "hal").locator(".unread").textContent()) === "2",
        );
        assert.deepEqual(await notes(), []);
      });

      await t.step("the unread line shows where the user left off", async () => {
        await contact(page, "hal").click();
        const line = page.locator(".unread-line");
        await line.waitFor();
        const first = page.locator(".unread-line + .msg .msg-text");
        assert.equal(await first.textContent(), "hal, not in view");
        // Replying means the user has seen them.
        await input.fill("seen, hal");
        await input.press("Enter");
        await line.waitFor({ state: "detached" });
      });

      await t.step("'new messages' appears when scrolled up, and jumps to the latest", async () => {
        await contact(page, "frank").click();
        await messageText(page, "message 30 of thirty").waitFor();
        const list = page.locator(".message-list");
        await list.evaluate((el) => (el.scrollTop = 0));
        await frank.session.send("erin", "while you read up there");
        await frank.session.send("erin", "and another");
        const jump = page.locator("#jump-latest");
        await jump.getByText("2 new messages").waitFor();
        assert.equal(await list.evaluate((el) => el.scrollTop), 0, "the view stays put");
        await jump.click();
        await jump.waitFor({ state: "detached" });
        const gap = await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
        assert.ok(gap < 32, `at the bottom (gap ${gap})`);
      });

      await t.step("Load older pages back through the whole history", async () => {
        for (let i = 1; i <= 30; i++) await frank.session.send("erin", `older page filler ${i}`);
        await messageText(page, "older page filler 30").waitFor();
        await contact(page, "gina").click();
        await contact(page, "frank").click();
        await messageText(page, "older page filler 30").waitFor();
        const total = 30 + 1 + 2 + 30;
        assert.equal(await page.locator(".msg").count(), 50);
        await page.getByRole("button", { name: "Load older messages" }).click();
        await until("all of them", async () => (await page.locator(".msg").count()) === total);
        await page.getByText("Start of your history with frank").waitFor();
        assert.equal(await page.getByRole("button", { name: "Load older messages" }).count(), 0);
        assert.equal(
          await page.locator(".msg .msg-text").first().textContent(),
          "message 1 of thirty",
        );
      });

      await t.step("limits: a counter near them, Send off past them, in plain words", async () => {
        const sendButton = page.getByRole("button", { name: "Send", exact: true });
        await input.fill("x".repeat(3700));
        await page.locator("#input-counter").getByText("3,700 / 4,096 characters").waitFor();
        await page.getByText("Up to 4,096 characters and 15,872 bytes once encoded").waitFor();
        assert.equal(await sendButton.isEnabled(), true);
        await input.fill("x".repeat(4097));
        assert.equal(await sendButton.isDisabled(), true);
        await page.locator("#input-error")
          .getByText("Too long: 4,097 characters, the limit is 4,096").waitFor();
        await input.press("Enter");
        assert.equal((await input.inputValue()).length, 4097, "Enter keeps a text too long");
        // Fewer characters than the limit, more bytes: 3,990 emoji take 15,962.
        await input.fill("😀".repeat(3990));
        assert.equal(await sendButton.isDisabled(), true);
        await page.locator("#input-error")
          .getByText("Too long: 15,962 bytes once encoded, the limit is 15,872").waitFor();
        await input.fill("");
        await page.locator("#input-counter").waitFor({ state: "detached" });
      });

      await t.step("the header tells a lost GUI link apart from the chat server", async () => {
        await page.route("**/api/events**", (route) => route.abort());
        gui.chat.hub.disconnectAll();
        await page.locator("#gui-lost").getByText(/^GUI connection lost/).waitFor();
        await page.locator(".live-status").getByText("GUI connection lost").waitFor();
        // The chat server's state stays, marked as the last known.
        await page.locator('[data-param="phase"]').getByText("Connected").waitFor();
        await page.locator("#parameters.stale").waitFor();
        await page.unroute("**/api/events**");
        await page.locator("#gui-lost").waitFor({ state: "detached" });
        await page.locator(".live-status").getByText("GUI live").waitFor();
      });

      await t.step("while disconnected the box says so and Enter keeps the draft", async () => {
        await page.getByRole("button", { name: "Disconnect" }).click();
        await page.locator('[data-param="phase"]').getByText("Disconnected").waitFor();
        await input.fill("kept for later");
        await input.press("Enter");
        await page.locator("#input-error").getByText(/^Not connected/).waitFor();
        assert.equal(await input.inputValue(), "kept for later");
        assert.match((await input.getAttribute("placeholder")) ?? "", /^Not connected/);
        await connect(page, "erin", "erin-secret", srv.host, srv.port);
        await connected(page, "erin");
        assert.equal(await input.inputValue(), "kept for later");
        await input.press("Enter");
        await until("frank has it", () => frank.got.includes("kept for later"));
      });

      await t.step("Service info is a drawer that opens and closes", async () => {
        const log = await serviceLog(page);
        await log.getByText("Logged in as erin", { exact: false }).first().waitFor();
        // The drawer's effects (its focus, its Escape listener) run after it is painted; a
        // key pressed in the same instant would come before them, as no person's could.
        await page.waitForFunction(() =>
          document.getElementById("service-info")?.contains(document.activeElement) ?? false
        );
        await page.keyboard.press("Escape");
        await page.locator("#service-info").waitFor({ state: "hidden" });
        assert.equal((await focused(page)).id, "service-toggle");
      });

      await t.step("Escape closes Service info while the focus is in the message box", async () => {
        const log = await serviceLog(page);
        await log.waitFor();
        // Once the drawer's effects have run (it takes the focus), as in the step before.
        await page.waitForFunction(() =>
          document.getElementById("service-info")?.contains(document.activeElement) ?? false
        );
        // As when a login lands while the drawer is open: the message box takes the focus.
        await input.focus();
        await page.keyboard.press("Escape");
        await page.locator("#service-info").waitFor({ state: "hidden" });
      });

      await t.step("the Messages pane is 55% of 1280×800 and 45% of 800×600", async () => {
        for (const [width, height, share] of [[1280, 800, 0.55], [800, 600, 0.45]]) {
          await page.setViewportSize({ width: width!, height: height! });
          const m = await page.evaluate(() => ({
            pane: document.getElementById("messages")!.getBoundingClientRect().height,
            list: document.querySelector(".message-list")!.getBoundingClientRect().height,
            sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            height: innerHeight,
          }));
          console.log(
            `Messages pane at ${width}x${height}: ${(m.pane / m.height * 100).toFixed(1)}% ` +
              `(its list ${(m.list / m.height * 100).toFixed(1)}%)`,
          );
          assert.ok(m.pane / m.height >= share!, `${width}x${height}: ${m.pane}/${m.height}`);
          assert.equal(m.sideways, 0, `no sideways scroll at ${width} px`);
        }
      });

      await t.step("below 600 px, contacts and conversation are separate views", async () => {
        await page.setViewportSize({ width: 400, height: 720 });
        const sidebar = page.locator(".chat-sidebar");
        const main = page.locator(".chat-main");
        await page.getByRole("button", { name: "Contacts", exact: false }).first().waitFor();
        // Opened on a chat: the conversation alone, with a way back.
        await main.waitFor({ state: "visible" });
        assert.equal(await sidebar.isVisible(), false);
        await page.locator(".conv-head .back").click();
        await sidebar.waitFor({ state: "visible" });
        assert.equal(await main.isVisible(), false);
        await contact(page, "frank").click();
        await main.waitFor({ state: "visible" });
        assert.equal(await sidebar.isVisible(), false);
        const sideways = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.equal(sideways, 0, "no sideways scroll at 400 px");
        await page.setViewportSize({ width: 1280, height: 800 });
      });

      await t.step(
        "dark mode follows the system, the toggle overrides it and is kept",
        async () => {
          const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
          const background = () =>
            page.evaluate(() => getComputedStyle(document.body).backgroundColor);
          await page.emulateMedia({ colorScheme: "dark" });
          await until("dark", async () => (await theme()) === "dark");
          assert.equal(await background(), "rgb(21, 23, 26)");
          await page.getByLabel("Theme").selectOption("light");
          assert.equal(await theme(), "light");
          await page.reload();
          await connected(page, "erin");
          assert.equal(await theme(), "light", "the choice outlives a reload");
          await page.getByLabel("Theme").selectOption("dark");
          await page.emulateMedia({ colorScheme: "light" });
          assert.equal(await theme(), "dark", "an explicit dark ignores the system");
          await page.getByLabel("Theme").selectOption("system");
          await until("light again", async () => (await theme()) === "light");
        },
      );

      await t.step("contrast is 4.5:1 or more in both themes, in a conversation", async () => {
        await contact(page, "frank").click();
        await frank.session.send("erin", "see https://deno.com for more");
        await gina.session.send("erin", "unread, for the badge");
        await contact(page, "gina").locator(".unread").waitFor();
        await messageText(page, "see https://deno.com").waitFor();
        await page.locator(".message-list").evaluate((el) => (el.scrollTop = 0));
        await page.locator("#jump-latest").waitFor();
        await input.fill("x".repeat(3800));
        await serviceLog(page);
        for (const scheme of ["light", "dark"] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
          const samples = await measureContrast(page);
          const low = samples.filter((s) => s.ratio < 4.5);
          assert.deepEqual(low, [], `${scheme}: ${JSON.stringify(low, null, 1)}`);
          const lowest = samples.reduce((a, b) => (b.ratio < a.ratio ? b : a));
          console.log(
            `Lowest contrast, ${scheme}: ${lowest.ratio}:1 (${lowest.where} "${lowest.text}")`,
          );
        }
        await closeServiceLog(page);
        await input.fill("");
      });

      await t.step("no console errors", () => {
        assert.deepEqual(browser.consoleErrors, []);
      });
      await valueBecomes(input, "", "the box is empty at the end");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
