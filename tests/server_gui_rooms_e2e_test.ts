/**
 * End to end (issue 13): the admin GUI's Rooms table in Debian's chromium, over a real JIM
 * server, a real SQLite file and real clients in a room over TCP.
 */
import assert from "node:assert/strict";
import { addUser, SqliteStorage } from "../server/mod.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { CHROMIUM, launchBrowser } from "./_browser.ts";
import { testWithTools } from "./_tools.ts";

async function member(port: number, name: string, room: string): Promise<RawConnection> {
  const conn = await connectRaw({ host: "127.0.0.1", port });
  assert.equal((await conn.login(name, "pw", { capabilities: ["ids", "rooms"] })).response, 200);
  assert.equal((await conn.request({ action: "join", time: now(), room })).response, 200);
  return conn;
}

/** The next room_event at `conn`, skipping other pushes. */
async function nextEvent(conn: RawConnection, event: string): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = await conn.next();
    if (frame.action === "room_event" && frame.event === event) return frame;
  }
}

testWithTools([CHROMIUM], {
  name: "admin GUI: the Rooms table follows the clients' rooms and deletes one, members told",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-gui-rooms-" });
    try {
      await using storage = SqliteStorage.open(`${dir}/jim.db`, { historyFlushMs: 20 });
      for (const name of ["alice", "bob", "carol"]) {
        await addUser(storage.users, name, "pw", { iterations: 4096 });
      }
      await using gui = await startAdminGui({
        storage,
        jim: { host: "127.0.0.1", port: 0 },
        guiPort: 0,
        iterations: 4096,
        warn: (m) => console.error(m),
      });
      await using browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
      const page = browser.page;
      page.setDefaultTimeout(10_000);
      const port = gui.controller.status().port;
      const table = page.getByRole("table", { name: "Rooms" });
      const row = (room: string) => table.locator(`tr[data-room="${room}"]`);

      await t.step("an empty server says how rooms come about", async () => {
        await page.goto(gui.url);
        await table.getByText("No rooms yet").waitFor();
      });
      await using alice = await member(port, "alice", "#General");
      await using bob = await member(port, "bob", "#general");
      await using _carol = await member(port, "carol", "#team");
      await alice.send({ action: "msg", time: now(), to: "#general", message: "hi" });
      while ((await alice.next()).response !== 200);

      await t.step("clients' joins and messages show up live", async () => {
        await row("#General").waitFor();
        await row("#team").waitFor();
        const cells = async (room: string) =>
          (await row(room).locator("td").allInnerTexts()).slice(0, 4).map((s) => s.trim());
        // Messages are stored after the reply; the table catches up with the next refetch.
        for (let i = 0; i < 100; i++) {
          if ((await cells("#General"))[3] === "1") break;
          await page.reload();
          await row("#General").waitFor();
        }
        assert.deepEqual(await cells("#General"), ["#General", "alice", "2", "1"]);
        assert.deepEqual(await cells("#team"), ["#team", "carol", "1", "0"]);
      });
      await t.step("Delete asks first, then deletes, and the members online are told", async () => {
        await page.getByRole("button", { name: "Delete #General" }).click();
        const dialog = page.getByRole("dialog", { name: "Delete room #General?" });
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await dialog.waitFor({ state: "hidden" });
        assert.ok(await storage.rooms.get("#General"));
        await page.getByRole("button", { name: "Delete #General" }).click();
        await dialog.getByRole("button", { name: "Delete" }).click();
        await row("#General").waitFor({ state: "detached" });
        for (const conn of [alice, bob]) {
          const event = await nextEvent(conn, "deleted");
          assert.equal(event.room, "#General");
          assert.equal(event.by, undefined);
        }
        assert.equal(await storage.rooms.get("#General"), undefined);
        await row("#team").waitFor();
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
