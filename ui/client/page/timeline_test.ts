import assert from "node:assert/strict";
import { buildTimeline, clockTime, dayLabel, fullTime, type TimelineItem } from "./timeline.ts";

const at = (y: number, m: number, d: number, h = 12, min = 0) =>
  new Date(y, m - 1, d, h, min).getTime();
const NOW = at(2026, 11, 25, 15, 30);

Deno.test("dayLabel() says Today, Yesterday, then the date, with the year only when it differs", () => {
  assert.equal(dayLabel(at(2026, 11, 25, 0, 0), NOW), "Today");
  assert.equal(dayLabel(at(2026, 11, 25, 23, 59), NOW), "Today");
  assert.equal(dayLabel(at(2026, 11, 24, 23, 59), NOW), "Yesterday");
  assert.equal(dayLabel(at(2026, 11, 24, 0, 0), NOW), "Yesterday");
  assert.equal(dayLabel(at(2026, 11, 23), NOW), "Monday 23 November");
  assert.equal(dayLabel(at(2025, 3, 20), NOW), "Thursday 20 March 2025");
  // Across a month and a year boundary.
  assert.equal(dayLabel(at(2026, 12, 31), at(2027, 1, 1, 0, 5)), "Yesterday");
  assert.equal(dayLabel(at(2026, 12, 30), at(2027, 1, 1, 0, 5)), "Wednesday 30 December 2026");
});

Deno.test("clockTime() and fullTime() are local HH:MM and YYYY-MM-DD HH:MM:SS", () => {
  const t = new Date(2026, 0, 5, 7, 3, 9).getTime();
  assert.equal(clockTime(t), "07:03");
  assert.equal(fullTime(t), "2026-01-05 07:03:09");
});

Deno.test("buildTimeline() separates days, groups a sender's burst, and marks unread", async (t) => {
  const m = (key: string, from: string, time: number): TimelineItem => ({ key, from, time });
  const items = [
    m("1", "bob", at(2026, 11, 23, 10, 0)),
    m("2", "bob", at(2026, 11, 24, 9, 0)),
    m("3", "bob", at(2026, 11, 24, 9, 2)),
    m("4", "bob", at(2026, 11, 24, 9, 6)),
    m("5", "bob", at(2026, 11, 24, 9, 12)),
    m("6", "alice", at(2026, 11, 24, 9, 13)),
    m("7", "bob", at(2026, 11, 24, 23, 59)),
    m("8", "bob", at(2026, 11, 25, 0, 1)),
    m("9", "bob", at(2026, 11, 25, 0, 2)),
  ];
  const rows = buildTimeline(items, { now: NOW, unreadFrom: "9" });
  const shape = rows.map((r) =>
    r.kind === "day"
      ? `day ${r.label}`
      : r.kind === "unread"
      ? "unread"
      : `${r.key}${r.head ? "*" : ""}`
  );
  await t.step("the expected rows", () => {
    assert.deepEqual(shape, [
      "day Monday 23 November",
      "1*",
      "day Yesterday",
      "2*",
      "3", // two minutes later
      "4", // four minutes after 3: gaps count, not the start of the group
      "5*", // six minutes later
      "6*", // another sender
      "7*",
      "day Today",
      "8*", // a new day starts a group, though two minutes passed
      "unread",
      "9*", // the unread line starts one too
    ]);
  });
  await t.step("keys are unique", () => {
    assert.equal(new Set(rows.map((r) => r.key)).size, rows.length);
  });
  await t.step("an empty list has no rows; an unknown unread key no line", () => {
    assert.deepEqual(buildTimeline([], { now: NOW }), []);
    const none = buildTimeline(items, { now: NOW, unreadFrom: "nope" });
    assert.equal(none.some((r) => r.kind === "unread"), false);
  });
  await t.step("the group gap is configurable", () => {
    const wide = buildTimeline(items, { now: NOW, groupMs: 10 * 60_000 });
    const five = wide.find((r) => r.key === "5");
    assert.equal(five?.kind === "message" && five.head, false);
  });
});
