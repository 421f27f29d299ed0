import assert from "node:assert/strict";
import { categorize, HIDDEN, ServiceLog } from "./service_log.ts";
import type { LogEvent, ServiceEntry } from "./_types.ts";

const conn = { id: 1, ip: "127.0.0.1", port: 5000, user: "alice" };
const msg = (text: string): LogEvent => ({
  time: 1,
  type: "request",
  conn,
  payload: { action: "msg", to: "bob", from: "alice", message: text },
});

Deno.test("categorize() sorts events into the page's filters", () => {
  const cases: [LogEvent, string][] = [
    [{ time: 1, type: "connect", conn }, "connections"],
    [{ time: 1, type: "disconnect", conn }, "connections"],
    [{ time: 1, type: "start" }, "connections"],
    [{ time: 1, type: "login", conn }, "logins"],
    [{ time: 1, type: "request", conn, payload: { action: "authenticate" } }, "logins"],
    [msg("hi"), "messages"],
    [{ time: 1, type: "push", conn, payload: { action: "msg", message: "x" } }, "messages"],
    [{ time: 1, type: "error", conn, message: "Failed login as bob" }, "errors"],
    [{ time: 1, type: "response", conn, payload: { response: 410, error: "x" } }, "errors"],
    [{ time: 1, type: "response", conn, payload: { response: 200 } }, "other"],
    [{ time: 1, type: "response", conn, payload: { response: 401, data: "x" } }, "logins"],
    [{ time: 1, type: "request", conn, payload: { action: "get_contacts" } }, "other"],
    [{ time: 1, type: "gui", message: "Client added: x" }, "other"],
    [{ time: 1, type: "request", conn, payload: "not an object" }, "other"],
  ];
  for (const [event, category] of cases) {
    assert.equal(categorize(event), category, JSON.stringify(event));
  }
});

Deno.test("ServiceLog hides message texts unless turned on; the size always shows", () => {
  const seen: ServiceEntry[] = [];
  const log = new ServiceLog({ onEntry: (e) => seen.push(e) });
  const added = log.add(msg("Привет 👋"));
  assert.deepEqual(added.size, { chars: 8, bytes: 17 });
  assert.equal((added.payload as { message: string }).message, HIDDEN);
  assert.equal((added.payload as { to: string }).to, "bob", "metadata stays");
  assert.equal(JSON.stringify(seen).includes("Привет"), false, "not on the live stream");
  assert.equal(JSON.stringify(log.entries()).includes("Привет"), false);
  log.showBodies = true;
  assert.equal((log.entries()[0]!.payload as { message: string }).message, "Привет 👋");
  const later = log.add(msg("second"));
  assert.equal((later.payload as { message: string }).message, "second");
  log.showBodies = false;
  assert.equal(JSON.stringify(log.entries()).includes("second"), false, "hidden again");
});

Deno.test("ServiceLog keeps the newest entries within its count and size", async (t) => {
  await t.step("by count, ids going on", () => {
    const log = new ServiceLog({ limit: 3 });
    for (let i = 1; i <= 5; i++) log.add({ time: i, type: "gui", message: `n${i}` });
    assert.deepEqual(log.entries().map((e) => [e.id, e.message]), [[3, "n3"], [4, "n4"], [
      5,
      "n5",
    ]]);
    assert.deepEqual(log.entries(4).map((e) => e.id), [5]);
    log.clear();
    assert.equal(log.size, 0);
    assert.equal(log.add({ time: 6, type: "gui" }).id, 6);
  });
  await t.step("by size: big payloads shorten the log, never below one entry", () => {
    const log = new ServiceLog({ limit: 100, maxBytes: 4096 });
    for (let i = 0; i < 10; i++) log.add(msg("x".repeat(1500)));
    assert.ok(log.size >= 1 && log.size <= 3, String(log.size));
    const huge = new ServiceLog({ maxBytes: 1024 });
    huge.add(msg("y".repeat(5000)));
    assert.equal(huge.size, 1);
  });
  await t.step("10,000 by default, and the order holds after many evictions", () => {
    const log = new ServiceLog();
    for (let i = 1; i <= 12_345; i++) log.add({ time: i, type: "gui", message: `n${i}` });
    const kept = log.entries();
    assert.equal(kept.length, 10_000);
    assert.equal(kept[0]!.message, "n2346");
    assert.equal(kept[9_999]!.message, "n12345");
  });
});
