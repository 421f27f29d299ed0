import assert from "node:assert/strict";
import { type BenchRow, formatTable, medianRow, ratios } from "./report.ts";

const pingPong = (server: BenchRow["server"], cpu: number, rate: number): BenchRow => ({
  workload: "ping-pong",
  server,
  detail: "20 pairs",
  rate,
  rateUnit: "msg/s",
  cpuMicrosPerMessage: cpu,
});

Deno.test("medianRow() takes the median of each figure", async (t) => {
  await t.step("odd and even counts", () => {
    const rows = [
      pingPong("relay", 30, 100),
      pingPong("relay", 10, 300),
      pingPong("relay", 20, 200),
    ];
    const row = medianRow(rows);
    assert.equal(row.cpuMicrosPerMessage, 20);
    assert.equal(row.rate, 200);
    assert.equal(row.detail, "20 pairs, median of 3");
    assert.equal(medianRow(rows.slice(0, 2)).cpuMicrosPerMessage, 20);
  });
  await t.step("one round is itself", () => {
    const row = pingPong("relay", 30, 100);
    assert.equal(medianRow([row]), row);
  });
  await t.step("no rounds", () => {
    assert.throws(() => medianRow([]), /at least one row/);
  });
});

Deno.test("ratios() divides jim-server's figures by the relay's of the same workload", () => {
  const rows: BenchRow[] = [
    pingPong("jim-server", 30, 30_000),
    pingPong("relay", 20, 40_000),
    { workload: "idle", server: "jim-server", detail: "", rssGrowthMiB: 60 },
    { workload: "idle", server: "relay", detail: "", rssGrowthMiB: 40 },
    // No relay row: no ratio.
    { workload: "flood", server: "jim-server", detail: "", cpuMicrosPerMessage: 5 },
  ];
  assert.deepEqual(ratios(rows).map((r) => [r.workload, r.measure, r.ratio]), [
    ["ping-pong", "CPU per message", 1.5],
    ["ping-pong", "msg/s", 0.75],
    ["idle", "RSS growth", 1.5],
  ]);
});

Deno.test("formatTable() prints a header, a rule and one aligned line per row", () => {
  const lines = formatTable([pingPong("jim-server", 25.55, 24_035.4)]);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^\| workload +\| server +\|/);
  assert.match(lines[1]!, /^\| -+ \| -+ \|/);
  assert.match(lines[2]!, /\| 24,035 msg\/s \|/);
  assert.match(lines[2]!, /\| 25\.6 +\|/);
  assert.ok(lines.every((line) => line.length === lines[0]!.length));
});
