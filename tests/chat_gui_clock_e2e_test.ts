/**
 * End to end, in Debian's chromium with playwright's fake clock: day separators, grouping
 * and HH:MM times with the page's clock two days ahead of a real SQLite history, and a
 * lockout countdown that follows the page's clock.
 */
import assert from "node:assert/strict";
import { History } from "../client/mod.ts";
import { startTestServer } from "../server/testing.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { clockTime, dayLabel } from "../ui/client/page/timeline.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";
import { connect, connected, contact, until } from "./_chat_page.ts";

const DAY = 24 * 3600_000;
const MIN = 60_000;
const USERS = [
  { login: "erin", password: "erin-secret" },
  { login: "frank", password: "frank-secret" },
];

function startOfDay(time: number): number {
  const d = new Date(time);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** The rows of the Messages panel: `day <label>`, `unread`, `head <from>` or `msg`. */
function rows(page: import("playwright-core").Page): Promise<string[]> {
  return page.locator(".message-list > .day-separator, .message-list > .msg").evaluateAll(
    (els) =>
      els.map((el) =>
        el.classList.contains("day-separator")
          ? `day ${el.textContent}`
          : el.querySelector(".msg-head")
          ? `head ${el.querySelector(".msg-who")?.textContent}`
          : "msg"
      ),
  );
}

testWithTools([CHROMIUM], {
  name: "chat GUI: day separators, grouping and HH:MM with the page's clock two days ahead",
  async fn(t) {
    await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
    await srv.storage.contacts.add("erin", "frank");
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-clock-e2e-" });
    try {
      // The page's "now" is two days ahead of this machine's.
      const pageNow = Date.now() + 2 * DAY;
      const threeDaysAgo = startOfDay(pageNow) - 3 * DAY + 12 * 3600_000;
      const yesterday = startOfDay(pageNow) - DAY + 9 * 3600_000;
      const today = Math.max(startOfDay(pageNow), pageNow - 20 * MIN);
      const times: [string, "in" | "out", number][] = [
        ["three days ago", "in", threeDaysAgo],
        ["a minute later", "in", threeDaysAgo + MIN],
        ["yesterday, first", "in", yesterday],
        ["two minutes on", "in", yesterday + 2 * MIN],
        ["four minutes on: the gap counts, not the group's start", "in", yesterday + 6 * MIN],
        ["after a pause", "in", yesterday + 16 * MIN],
        ["erin answers", "out", yesterday + 17 * MIN],
        ["frank again", "in", yesterday + 18 * MIN],
        ["today", "in", today],
      ];
      {
        using history = History.open({
          dataDir,
          account: "erin",
          host: srv.host,
          port: srv.port,
        });
        history.addContact("frank");
        for (const [text, direction, time] of times) {
          history.addMessage({ contact: "frank", direction, text, time, status: "delivered" });
        }
      }
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 60_000 });
      await using browser = await launchBrowser({ viewport: { width: 1024, height: 720 } });
      await browser.context.clock.install({ time: pageNow });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      await page.goto(gui.url);
      await connect(page, "erin", "erin-secret", srv.host, srv.port);
      await connected(page, "erin");
      await contact(page, "frank").click();
      await page.getByText("today", { exact: true }).waitFor();

      await t.step("Today, Yesterday and a date; groups break on gaps and senders", async () => {
        assert.deepEqual(await rows(page), [
          `day ${dayLabel(threeDaysAgo, pageNow)}`,
          "head frank -> erin:",
          "msg",
          "day Yesterday",
          "head frank -> erin:",
          "msg",
          "msg",
          "head frank -> erin:",
          "head erin -> frank:",
          "head frank -> erin:",
          "day Today",
          "head frank -> erin:",
        ]);
        assert.match(dayLabel(threeDaysAgo, pageNow), /^[A-Z][a-z]+day \d{1,2} [A-Z][a-z]+/);
      });

      await t.step("headings carry HH:MM; every message keeps its full time", async () => {
        const shown = await page.locator(".msg-head time").allTextContents();
        const heads = [0, 2, 5, 6, 7, 8].map((i) => clockTime(times[i]![2]));
        assert.deepEqual(shown, heads);
        for (const text of shown) assert.match(text, /^\d\d:\d\d$/);
        const titles = await page.locator(".msg time").evaluateAll((els) =>
          els.map((e) => e.getAttribute("title"))
        );
        assert.equal(titles.length, times.length);
        for (const title of titles) assert.match(title ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      });

      await t.step("a day later the labels move on by themselves", async () => {
        await browser.context.clock.fastForward("24:00:00");
        await page.locator(".day-separator").filter({ hasText: "Today" }).waitFor({
          state: "detached",
        });
        const labels = await page.locator(".day-separator").allTextContents();
        assert.deepEqual(labels, [
          dayLabel(threeDaysAgo, pageNow + DAY),
          dayLabel(yesterday, pageNow + DAY),
          "Yesterday",
        ]);
      });
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

testWithTools([CHROMIUM], {
  name: "chat GUI: a login lockout counts down on the page and holds Connect",
  async fn() {
    await using srv = await startTestServer({
      users: USERS,
      limits: { rateLimit: 0, maxFailedLogins: 2 },
    });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-lockout-e2e-" });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir, presencePollMs: 60_000 });
      await using browser = await launchBrowser({
        viewport: { width: 1024, height: 720 },
        // The wrong passwords (401) and the lockout (403) are provoked on purpose.
        ignoreConsole: [/^Failed to load resource: the server responded with a status of 40[13]/],
      });
      await browser.context.clock.install();
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      await page.goto(gui.url);
      const connectButton = page.getByRole("button", { name: "Connect", exact: true });
      for (let i = 0; i < 2; i++) {
        await connect(page, "erin", "wrong", srv.host, srv.port);
        await page.locator("#connection-error").getByText("Wrong password: Access denied")
          .waitFor();
      }
      await connect(page, "erin", "wrong", srv.host, srv.port);
      const timer = page.locator("#lockout");
      await timer.waitFor();
      const seconds = async () => {
        const m = /again in (?:(\d+):(\d\d)|(\d+) s)$/.exec((await timer.textContent()) ?? "");
        assert.ok(m, await timer.textContent() ?? "");
        return m[3] !== undefined ? Number(m[3]) : Number(m[1]) * 60 + Number(m[2]);
      };
      // From here the page's clock moves only when the test moves it.
      await browser.context.clock.pauseAt(Date.now() + 1000);
      const first = await seconds();
      // The server's window is five minutes.
      assert.ok(first > 240 && first <= 330, `${first} s`);
      assert.equal(await connectButton.isDisabled(), true);
      await browser.context.clock.fastForward("01:00");
      await until("a minute less", async () => (await seconds()) === first - 60);
      await browser.context.clock.fastForward("05:00");
      await timer.waitFor({ state: "detached" });
      assert.equal(await connectButton.isEnabled(), true);
      assert.equal(await page.locator("#connection-error").textContent(), "", "no stale wait");
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
