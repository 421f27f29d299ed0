/**
 * End to end in Debian's chromium: the chat GUI's Rooms section (issue 13). A real chat GUI
 * with its SQLite history and peers that are real JIM sessions, against the real server
 * (skipped with the reason printed while it does not announce `rooms`). Joining by keyboard
 * alone, the unread badge of a room that is not open and its clearing, messages headed
 * `bob -> #room:`, the member list's online dots following who logs in and out, a refused join
 * shown under the form, leave behind a confirmation that Escape cancels, and text contrast of
 * 4.5:1 or more in both themes.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../client/mod.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { measureContrast } from "./_contrast.ts";
import { testWithTools } from "./_tools.ts";
import { connect, connected, contact, messageText, send, until } from "./_chat_page.ts";
import { type Backend, realServerSpeaksRooms, startBackend } from "./_conversation_backend.ts";

const REAL = await realServerSpeaksRooms("SKIPPING tests/chat_gui_rooms_e2e_test.ts");
const USERS = ["ivy", "jack", "kim"].map((login) => ({ login, password: `${login}-secret` }));

function peer(srv: Backend, user: string, dataDir: string): Promise<ChatSession> {
  return ChatSession.connect({
    port: srv.port,
    user,
    password: `${user}-secret`,
    dataDir,
    reconnect: false,
  });
}

testWithTools([CHROMIUM], {
  name: "chat GUI Rooms section: keyboard join, unread badge, headings, member dots, leave",
  ignore: !REAL,
  async fn(t) {
    await using srv = await startBackend(USERS);
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-rooms-e2e-" });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir });
      await using browser = await launchBrowser({
        viewport: { width: 1280, height: 900 },
        // The refused join's answer, which the page shows under the form.
        ignoreConsole: [/status of 403 \(Forbidden\)/],
      });
      const page = browser.page;
      page.setDefaultTimeout(15_000);
      await page.goto(gui.url);
      await page.locator(".live-status[data-status=open]").waitFor();
      await connect(page, "ivy", "ivy-secret", srv.host, srv.port);
      await connected(page, "ivy");
      await using jack = await peer(srv, "jack", `${dataDir}/jack`);

      await t.step("join by keyboard: the name without # is taken as a room", async () => {
        await page.locator("#room-name").focus();
        await page.keyboard.type("lobby");
        await page.keyboard.press("Enter");
        await contact(page, "#lobby").waitFor();
        // The list may show the room (its event) a moment before the join's answer lands.
        await until(
          "the field clears",
          async () => await page.locator("#room-name").inputValue() === "",
        );
        // The room opens with the cursor in the message box.
        await until(
          "focus in the box",
          () => page.evaluate(() => document.activeElement?.id === "message-input"),
        );
        await page.locator(".conv-title").getByText("#lobby").waitFor();
      });

      await t.step("a refused join shows under the form and clears on edit", async () => {
        await jack.join("#closed", { inviteOnly: true });
        await page.locator("#room-name").fill("#closed");
        await page.locator("#join-room").click();
        const error = page.locator("#room-error");
        await error.getByText("Room is invite-only: #closed").waitFor();
        assert.equal(await page.locator("#room-name").getAttribute("aria-invalid"), "true");
        await page.locator("#room-name").fill("#closed2");
        await until("the error gone", async () => (await error.textContent()) === "");
        await page.locator("#room-name").fill("");
      });

      await t.step("a room not in view counts unread; opening it clears the badge", async () => {
        await jack.join("#lobby");
        await jack.join("#side");
        await jack.invite("#closed", "ivy");
        await page.locator("#room-note").getByText("You were invited to #closed by jack")
          .waitFor();
        await page.locator("#room-name").fill("#side");
        await page.locator("#join-room").click();
        await contact(page, "#side").waitFor();
        await contact(page, "#lobby").click();
        await jack.send("#side", "over here");
        await jack.send("#side", "and here");
        await contact(page, "#side").locator(".unread").getByText("2").waitFor();
        await contact(page, "#side").click();
        await messageText(page, "and here").waitFor();
        await page.locator(".msg-who").getByText("jack -> #side:").waitFor();
        await contact(page, "#side").locator(".unread").waitFor({ state: "detached" });
        await send(page, "hi jack");
        const mine = page.locator(".msg.msg-out").filter({ hasText: "hi jack" });
        await mine.locator(".msg-who").getByText("ivy -> #side:").waitFor();
        await mine.and(page.locator(".status-delivered")).waitFor();
        assert.equal(await mine.locator(".msg-status").getAttribute("title"), "Posted to #side");
      });

      await t.step("arrow keys move through the rooms list", async () => {
        await contact(page, "#lobby").focus();
        await page.keyboard.press("ArrowDown");
        await until(
          "the next room focused",
          () =>
            page.evaluate(() =>
              (document.activeElement as HTMLElement | null)?.dataset.contact === "#side"
            ),
        );
        await page.keyboard.press("Enter");
        await page.locator(".conv-title").getByText("#side").waitFor();
      });

      await t.step("the member list's dots follow who is online", async () => {
        const kimDot = page.locator('#members li[data-member="kim"] .dot');
        {
          await using kim = await peer(srv, "kim", `${dataDir}/kim`);
          await kim.join("#side");
          await page.locator('#members li[data-member="kim"] .dot.on').waitFor();
          await kim.quit();
        }
        // The list is asked again when the room opens (and on its events, and every 15 s).
        await contact(page, "#lobby").click();
        await contact(page, "#side").click();
        await until("kim offline", async () => (await kimDot.getAttribute("class")) === "dot");
        assert.equal(
          await page.locator('#members li[data-member="jack"] .owner-mark').count(),
          1,
          "jack created #side",
        );
        // Not the owner: no owner actions.
        assert.equal(await page.locator("#delete-room").count(), 0);
        assert.equal(await page.getByRole("button", { name: /^Remove / }).count(), 0);
      });

      await t.step("contrast is 4.5:1 or more in both themes with rooms shown", async () => {
        await contact(page, "#lobby").click();
        await jack.send("#side", "unread, for the badge");
        await contact(page, "#side").locator(".unread").waitFor();
        for (const scheme of ["light", "dark"] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
          const low = (await measureContrast(page)).filter((s) => s.ratio < 4.5);
          assert.deepEqual(low, [], `${scheme}: ${JSON.stringify(low, null, 1)}`);
        }
        await page.emulateMedia({ colorScheme: "light" });
      });

      await t.step("leave asks first; Escape keeps the room, Leave leaves it", async () => {
        await contact(page, "#side").click();
        await page.locator("#leave-room").click();
        const dialog = page.getByRole("dialog", { name: "Leave room?" });
        await dialog.waitFor();
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "hidden" });
        assert.equal(await contact(page, "#side").count(), 1);
        await page.locator("#leave-room").click();
        await dialog.getByRole("button", { name: "Leave" }).click();
        await contact(page, "#side").waitFor({ state: "detached" });
        await page.locator("#room-note").getByText("Left #side").waitFor();
        await jack.send("#side", "after ivy left");
        // Jack's direct message comes after anything the room would still send to ivy.
        await jack.send("ivy", "direct after leave");
        await contact(page, "jack").waitFor();
        const row = await gui.chat.messages("#side");
        assert.ok(!row.messages.some((m) => m.text === "after ivy left"));
      });
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
