/**
 * End to end: the admin GUI's "Add client" in chromium refuses look-alike names (issue 10,
 * defect 8) with the reason inline, against a real SQLite file.
 */
import assert from "node:assert/strict";
import { addUser, SqliteStorage } from "../server/mod.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";

testWithTools([CHROMIUM], {
  name: "admin GUI: Add client refuses look-alike and invisible names and keeps single scripts",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-gui-names-" });
    try {
      await using storage = SqliteStorage.open(`${dir}/jim.db`);
      for (const name of ["alice", "bob", "pop"]) {
        await addUser(storage.users, name, "pw", { iterations: 4096 });
      }
      await using gui = await startAdminGui({
        storage,
        jim: { host: "127.0.0.1", port: 0 },
        guiPort: 0,
        iterations: 4096,
        warn: (m) => console.error(m),
      });
      await using browser = await launchBrowser({
        // Chromium logs each refused POST; the refusals below are the point of the test.
        ignoreConsole: [/^Failed to load resource: the server responded with a status of 409/],
      });
      const page = browser.page;
      await page.goto(gui.url);
      const login = page.getByLabel("Login", { exact: true });
      const password = page.getByLabel("Password", { exact: true });
      const add = page.getByRole("button", { name: "Add client" });
      const error = page.locator("#new-login-error");

      const refused: [string, string, string][] = [
        ["Cyrillic а", "\u0430lice", "Invalid login: mixes Latin and Cyrillic"],
        ["Cyrillic і", "al\u0456ce", "Invalid login: mixes Latin and Cyrillic"],
        ["Greek ο", "b\u03bfb", "Invalid login: mixes Latin and Greek"],
        ["fullwidth ａ", "\uff41lice", "Login is taken: \uff41lice"],
        ["U+034F", "alice\u034f", "Invalid login: contains an invisible character U+034F"],
        ["U+FE0F", "alice\ufe0f", "Invalid login: contains an invisible character U+FE0F"],
        ["U+3164", "alice\u3164", "Invalid login: contains an invisible character U+3164"],
        ["only U+3164", "\u3164", "Invalid login: contains an invisible character U+3164"],
        ["all-Cyrillic рор", "\u0440\u043e\u0440", "Invalid login: looks like existing user pop"],
        ["dotless ı", "al\u0131ce", "Invalid login: looks like existing user alice"],
        [
          "RFC 8265: henryⅣ",
          "henry\u2163",
          'Invalid login: may hold only letters, digits, "_", "-" and ".", not "Ⅳ" (U+2163)',
        ],
      ];
      for (const [label, name, message] of refused) {
        await t.step(label, async () => {
          await login.fill(name);
          await password.fill("secret");
          await add.click();
          await error.getByText(message, { exact: true }).waitFor();
        });
      }
      await t.step("nothing was added", async () => {
        assert.deepEqual(await storage.users.loginsAfter(undefined, 100), ["alice", "bob", "pop"]);
      });
      for (const name of ["Дмитрий", "李雷", "fußball"]) {
        await t.step(`${name} is added`, async () => {
          await login.fill(name);
          await password.fill("secret");
          await add.click();
          await page.locator(`tr[data-login="${name}"]`).waitFor();
        });
      }
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
