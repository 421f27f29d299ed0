/**
 * End to end in Debian's chromium: the chat GUI and issue 12. A real chat GUI with its SQLite
 * history, peers that are real JIM sessions, and the real chat server (bin/jim-server.ts with
 * its SQLite file; the presence step runs once it announces `presence`). Marks turn from
 * stored to delivered to read, a presence dot flips within 1 s of the push without a reload
 * or a poll, search finds an old message and opens the conversation at it, a message sent
 * from another device shows as one's own, and read marks go out only while the conversation
 * is in view in a visible tab.
 */
import assert from "node:assert/strict";
import { ChatSession } from "../client/mod.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import {
  connect,
  connected,
  contact,
  messageText,
  send,
  setVisibility,
  until,
} from "./_chat_page.ts";
import { type Backend, realServerSupports, startBackend } from "./_conversation_backend.ts";

const PRESENCE = await realServerSupports(
  "presence",
  "tests/chat_gui_conversations_e2e_test.ts presence dot step",
);
const USERS = ["erin", "frank", "gina", "hal"].map((login) => ({
  login,
  password: `${login}-secret`,
}));

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
  name: "chat GUI and conversations: marks, presence push, search, carbons, read marks",
  async fn(t) {
    await using srv = await startBackend(USERS, [
      ["erin", "frank"],
      ["erin", "gina"],
      ["erin", "hal"],
    ]);
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-conv-e2e-" });
    try {
      // An old conversation, had on another device: the GUI's history starts empty and gets
      // it from the server.
      {
        await using device = await peer(srv, "erin", `${dataDir}/device`);
        await using hal = await peer(srv, "hal", `${dataDir}/hal0`);
        for (let i = 1; i <= 90; i++) {
          await hal.send("erin", i === 3 ? "the pineapple plan, message 3" : `hal says ${i}`);
        }
        await until(
          "the device has them",
          () => device.history.messages("hal", { limit: 200 }).length === 90,
        );
        await device.markRead("hal");
        await device.quit();
        await hal.quit();
      }

      // Polling every minute: a dot that flips sooner was pushed.
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 60_000 });
      await using browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      await page.goto(gui.url);
      await page.locator(".live-status[data-status=open]").waitFor();
      await connect(page, "erin", "erin-secret", srv.host, srv.port);
      await connected(page, "erin");
      await page.evaluate(() => ((globalThis as unknown as { __sameLoad: number }).__sameLoad = 1));

      let frank: ChatSession | undefined;
      await t.step(
        "a message to someone offline is stored ✓, then delivered ✓✓, then read",
        async () => {
          await contact(page, "frank").click();
          await send(page, "are you there, frank?");
          const row = page.locator(".msg").filter({ hasText: "are you there, frank?" });
          await row.and(page.locator(".status-stored")).waitFor();
          assert.match(await row.locator(".msg-status").textContent() ?? "", /✓\s*stored/);
          assert.equal(await page.locator(".msg.status-failed").count(), 0, "stored is no failure");
          assert.equal(await row.getByRole("button", { name: "Retry" }).count(), 0);
          frank = await peer(srv, "frank", `${dataDir}/frank`);
          await row.and(page.locator(".status-delivered")).waitFor();
          assert.match(await row.locator(".msg-status").textContent() ?? "", /✓✓\s*delivered/);
          await frank.markRead("erin");
          await row.and(page.locator(".status-read")).waitFor();
          assert.match(await row.locator(".msg-status").innerText(), /✓✓ read/);
        },
      );
      await using _frank = frank!;

      await t.step({
        name: "a presence dot flips within 1 s of the push, without a reload or a poll",
        ignore: !PRESENCE,
        fn: async () => {
          const dot = contact(page, "gina").locator(".dot");
          assert.equal(await dot.getAttribute("class"), "dot");
          // The page notes when the dot changes; the push is sent while gina logs in.
          await page.evaluate(() => {
            const w = globalThis as unknown as { __flips: { on: boolean; at: number }[] };
            w.__flips = [];
            const el = document.querySelector('button[data-contact="gina"] .dot')!;
            new MutationObserver(() => {
              w.__flips.push({ on: el.classList.contains("on"), at: Date.now() });
            }).observe(el, { attributes: true, attributeFilter: ["class"] });
          });
          const flips = () =>
            page.evaluate(() =>
              (globalThis as unknown as { __flips: { on: boolean; at: number }[] }).__flips
            );
          const before = Date.now();
          const gina = await peer(srv, "gina", `${dataDir}/gina`);
          await until("the dot on", async () => (await flips()).some((f) => f.on));
          const on = (await flips()).find((f) => f.on)!;
          assert.ok(on.at - before < 1000, `online after ${on.at - before} ms`);
          const leaving = Date.now();
          await gina.quit();
          await until("the dot off", async () => (await flips()).some((f) => !f.on));
          const off = (await flips()).find((f) => !f.on)!;
          assert.ok(off.at - leaving < 1000, `offline after ${off.at - leaving} ms`);
          assert.equal(
            await page.evaluate(() =>
              (globalThis as unknown as { __sameLoad?: number }).__sameLoad
            ),
            1,
            "the page was not reloaded",
          );
        },
      });

      await t.step("search finds an old message and opens the conversation at it", async () => {
        await page.locator("#search-input").fill("PINEAP");
        const hit = page.locator("button.hit").filter({ hasText: "the pineapple plan" });
        await hit.waitFor();
        assert.equal(await page.locator("button.hit").count(), 1);
        await hit.click();
        const focused = page.locator('.msg[data-focused="true"]');
        await focused.filter({ hasText: "the pineapple plan, message 3" }).waitFor();
        await until("the hit in view", async () => {
          const list = await page.locator(".message-list").boundingBox();
          const box = await focused.boundingBox();
          return list !== null && box !== null && box.y >= list.y &&
            box.y + box.height <= list.y + list.height;
        });
        // The window starts just before the hit: the newest come with Load newer.
        assert.equal(await messageText(page, "hal says 90").count(), 0);
        await page.locator("#load-newer").click();
        await messageText(page, "hal says 90").waitFor();
        await page.locator("#load-newer").waitFor({ state: "detached" });
        await page.locator("#search-input").press("Escape");
        await page.locator("button.hit").first().waitFor({ state: "detached" });
      });

      await t.step("a message sent from another device shows as one's own", async () => {
        await contact(page, "frank").click();
        await using phone = await peer(srv, "erin", `${dataDir}/phone`);
        await phone.send("frank", "typed on my phone");
        const row = page.locator(".msg.msg-out").filter({ hasText: "typed on my phone" });
        await row.waitFor();
        // One's own: on the right, with a delivery mark (the carbon itself carries no state).
        assert.match(await row.locator(".msg-status").textContent() ?? "", /✓/);
        assert.equal(
          await page.locator(".msg.msg-in").filter({ hasText: "typed on my phone" }).count(),
          0,
        );
      });

      await t.step(
        "read marks go out while the conversation is in view and the tab visible",
        async () => {
          const f = frank!;
          const lastFromErin = () =>
            f.history.messages("erin").filter((m) => m.direction === "out").at(-1);
          await f.send("erin", "read me now");
          await messageText(page, "read me now").waitFor();
          await until("frank sees it read", () => lastFromErin()?.status === "read");
          const visibility = (state: "hidden" | "visible") => setVisibility(page, state);
          await visibility("hidden");
          await f.send("erin", "while the tab is hidden");
          await messageText(page, "while the tab is hidden").waitFor();
          await contact(page, "frank").locator(".unread").getByText("1").waitFor();
          assert.equal(lastFromErin()?.status, "delivered", "not read while hidden");
          await visibility("visible");
          await until("read once visible", () => lastFromErin()?.status === "read");
          await contact(page, "frank").locator(".unread").waitFor({ state: "detached" });
        },
      );
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
