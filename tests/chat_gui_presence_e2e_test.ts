/**
 * End to end in Debian's chromium against the real server (bin/jim-server.ts in a child
 * process with its own SQLite file): the server grants `presence`, so the chat GUI does not
 * poll, and a contact's dot flips within 1 s of the contact logging in or out, without a
 * reload. (tests/chat_gui_conversations_e2e_test.ts checks the same against the scripted
 * server until the real one grants every capability of issue 12.)
 */
import assert from "node:assert/strict";
import { ChatSession } from "../client/mod.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import { connect, connected, contact, until } from "./_chat_page.ts";
import { startRealServer } from "./_conversation_backend.ts";

const USERS = ["erin", "gina"].map((login) => ({ login, password: `${login}-secret` }));

type Flip = { on: boolean; at: number };

testWithTools([CHROMIUM], {
  name: "chat GUI on the real server: a presence dot flips within 1 s, pushed, not polled",
  async fn() {
    await using srv = await startRealServer(USERS);
    await srv.addContact("erin", "gina");
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-presence-e2e-" });
    try {
      // Polling once a minute: a dot that flips sooner was pushed.
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 60_000 });
      await using browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      await page.goto(gui.url);
      await page.locator(".live-status[data-status=open]").waitFor();
      await connect(page, "erin", "erin-secret", srv.host, srv.port);
      await connected(page, "erin");
      const state = await page.evaluate(async () => (await fetch("/api/state")).json());
      assert.equal(state.server?.presence, true, "the server grants presence: no polling");
      const dot = contact(page, "gina").locator(".dot");
      assert.equal(await dot.getAttribute("class"), "dot", "gina is offline");
      await page.evaluate(() => {
        const w = globalThis as unknown as { __flips: Flip[]; __sameLoad: number };
        w.__flips = [];
        w.__sameLoad = 1;
        const el = document.querySelector('button[data-contact="gina"] .dot')!;
        new MutationObserver(() => {
          w.__flips.push({ on: el.classList.contains("on"), at: Date.now() });
        }).observe(el, { attributes: true, attributeFilter: ["class"] });
      });
      const flips = () =>
        page.evaluate(() => (globalThis as unknown as { __flips: Flip[] }).__flips);

      const before = Date.now();
      const gina = await ChatSession.connect({
        port: srv.port,
        user: "gina",
        password: "gina-secret",
        dataDir: `${dataDir}/gina`,
        reconnect: false,
      });
      try {
        // The browser's and this process's clocks are the same machine's.
        await until("the dot on", async () => (await flips()).some((f) => f.on));
        const on = (await flips()).find((f) => f.on)!;
        assert.ok(on.at - before < 1000, `online after ${on.at - before} ms`);
      } finally {
        await gina.quit();
      }
      const leaving = Date.now();
      await until("the dot off", async () => (await flips()).some((f) => !f.on));
      const off = (await flips()).find((f) => !f.on)!;
      assert.ok(off.at - leaving < 1000, `offline after ${off.at - leaving} ms`);
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { __sameLoad?: number }).__sameLoad),
        1,
        "the page was not reloaded",
      );
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
