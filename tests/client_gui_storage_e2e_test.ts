/**
 * End to end in Debian's chromium: after a login through the chat GUI's form, the password is
 * in none of the browser's stores (localStorage, sessionStorage, IndexedDB, cookies, Cache
 * Storage), while a draft the page keeps on purpose is found there, proving the search looks
 * where the page writes.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../server/testing.ts";
import { startChatGui } from "../ui/client/mod.ts";
import { launchBrowser, skipBrowserTests } from "./_browser.ts";

const PASSWORD = `gui-storage-${crypto.randomUUID()}`;
const DRAFT = `draft-${crypto.randomUUID()}`;

/** Everything the page's origin keeps, as text. */
const DUMP_STORAGE = async () => {
  const local = Object.entries(localStorage);
  const session = Object.entries(sessionStorage);
  const databases: unknown[] = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(info.name!);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    for (const name of db.objectStoreNames) {
      const rows = await new Promise<unknown[]>((resolve, reject) => {
        const all = db.transaction(name).objectStore(name).getAll();
        all.onsuccess = () => resolve(all.result);
        all.onerror = () => reject(all.error);
      });
      databases.push({ db: info.name, store: name, rows });
    }
    db.close();
  }
  const caches: unknown[] = [];
  for (const name of await globalThis.caches.keys()) {
    const cache = await globalThis.caches.open(name);
    for (const request of await cache.keys()) {
      caches.push(request.url, await (await cache.match(request))?.text());
    }
  }
  return JSON.stringify({ local, session, databases, caches, cookie: document.cookie });
};

Deno.test({
  name: "chat GUI: after a login the password is in no browser storage",
  ignore: skipBrowserTests(),
  async fn() {
    await using srv = await startTestServer({
      users: [{ login: "alice", password: PASSWORD }, { login: "bob", password: "bob-pw" }],
    });
    const dataDir = await Deno.makeTempDir({ prefix: "jim-chat-storage-" });
    try {
      await using gui = await startChatGui({ guiPort: 0, dataDir });
      await using browser = await launchBrowser();
      const { page, context } = browser;
      await page.goto(gui.url);
      await page.getByLabel("User name", { exact: true }).fill("alice");
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByLabel("Server IP", { exact: true }).fill(srv.host);
      await page.getByLabel("Server port", { exact: true }).fill(String(srv.port));
      await page.getByRole("button", { name: "Connect", exact: true }).click();
      await page.locator('[data-param="phase"]').getByText("Connected", { exact: true })
        .waitFor();
      await page.getByLabel("Login of the contact to add").fill("bob");
      await page.getByRole("button", { name: "Add", exact: true }).click();
      await page.locator('button[data-contact="bob"]').click();
      await page.locator("#message-input").fill(DRAFT);
      // The draft is stored as it is typed; wait for it so that the control below is fair.
      await page.waitForFunction((draft) => Object.values(localStorage).includes(draft), DRAFT);
      // A reload reads everything back from storage, as a later visit would.
      await page.reload();
      await page.locator('[data-param="phase"]').getByText("Connected", { exact: true })
        .waitFor();

      const stored = await page.evaluate(DUMP_STORAGE);
      assert.ok(
        stored.includes(DRAFT),
        `the search found no draft, so it proves nothing: ${stored}`,
      );
      assert.ok(!stored.includes(PASSWORD), `the password is in browser storage: ${stored}`);
      const cookies = await context.cookies();
      assert.ok(cookies.length > 0, "expected the GUI's session cookie");
      assert.ok(!JSON.stringify(cookies).includes(PASSWORD), JSON.stringify(cookies));
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
