import assert from "node:assert/strict";
import {
  clockTicksPerSecond,
  cpuMicrosPerMessage,
  cpuPercent,
  parseLoadAverage,
  parseStat,
  parseStatusRssKiB,
  type ProcSample,
  sampleProcess,
} from "./proc.ts";

// A real line's shape: pid, (comm), state, then fields 4 to 52; utime 1234, stime 567.
const STAT_TAIL = "S 1 100 100 0 -1 4194304 5000 0 0 0 1234 567 0 0 20 0 9 0 12345 1000000 " +
  "16000 18446744073709551615 1 1 0 0 0 0 0 16781312 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

Deno.test("parseStat() reads utime and stime after the command name", async (t) => {
  await t.step("a plain name", () => {
    assert.deepEqual(parseStat(`100 (deno) ${STAT_TAIL}`), { utimeTicks: 1234, stimeTicks: 567 });
  });
  await t.step("a name with spaces and parentheses", () => {
    assert.deepEqual(parseStat(`100 (a ) b (c)) ${STAT_TAIL}`), {
      utimeTicks: 1234,
      stimeTicks: 567,
    });
  });
  await t.step("text that is not a stat line", () => {
    assert.throws(() => parseStat("no parentheses here"), /Cannot parse \/proc stat/);
    assert.throws(() => parseStat("1 (x) S 1 2"), /Cannot parse \/proc stat/);
  });
});

Deno.test("parseStatusRssKiB() reads VmRSS and refuses a status without it", () => {
  const status = "Name:\tdeno\nVmHWM:\t  90000 kB\nVmRSS:\t   65536 kB\nThreads:\t9\n";
  assert.deepEqual(parseStatusRssKiB(status), 65536);
  assert.throws(() => parseStatusRssKiB("Name:\tdeno\nState:\tZ (zombie)\n"), /no VmRSS/);
});

Deno.test("cpuPercent() and cpuMicrosPerMessage() divide tick deltas", () => {
  const before: ProcSample = { cpuTicks: 1000, rssKiB: 0, at: 10_000 };
  const after: ProcSample = { cpuTicks: 1400, rssKiB: 0, at: 15_000 };
  assert.deepEqual(cpuPercent(before, after, 100), 80);
  // 4 CPU seconds over 200,000 messages.
  assert.deepEqual(cpuMicrosPerMessage(before, after, 200_000, 100), 20);
  assert.deepEqual(cpuMicrosPerMessage(before, after, 0, 100), NaN);
});

Deno.test("sampleProcess() reads this process from /proc", async () => {
  const ticks = await clockTicksPerSecond();
  const sample = sampleProcess(Deno.pid);
  // A running Deno has resident memory and has used some CPU since it started.
  assert.ok(sample.rssKiB > 0);
  assert.ok(sample.cpuTicks >= 0);
  assert.ok(Number.isInteger(ticks) && ticks > 0);
});

Deno.test("parseLoadAverage() reads the 1-minute figure", () => {
  assert.equal(parseLoadAverage("2.09 1.47 0.85 3/120 4242\n"), 2.09);
  assert.throws(() => parseLoadAverage(""), /Cannot parse \/proc\/loadavg/);
});
