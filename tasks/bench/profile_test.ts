import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CpuProfile,
  formatProfileTable,
  readNewestProfile,
  summarizeProfile,
} from "./profile.ts";

const frame = (functionName: string, url = "", lineNumber = -1) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

// 100 samples over 200 ms: 2 ms each; 20 of them idle, so 80 busy.
const PROFILE: CpuProfile = {
  startTime: 1_000_000,
  endTime: 1_200_000,
  nodes: [
    { id: 1, callFrame: frame("(root)"), hitCount: 0, children: [2, 3, 4, 5, 6, 7] },
    { id: 2, callFrame: frame("(idle)"), hitCount: 20 },
    // One function reached through two call paths: its hits add up.
    { id: 3, callFrame: frame("decode", "file:///repo/protocol/framing.ts", 9), hitCount: 30 },
    { id: 4, callFrame: frame("decode", "file:///repo/protocol/framing.ts", 9), hitCount: 10 },
    // Two anonymous functions in one file stay apart.
    { id: 5, callFrame: frame("", "file:///repo/server/_session.ts", 99), hitCount: 25 },
    { id: 6, callFrame: frame("", "file:///repo/server/_session.ts", 199), hitCount: 5 },
    { id: 7, callFrame: frame("(garbage collector)"), hitCount: 10 },
  ],
};

Deno.test("summarizeProfile() sums self time per function and ranks it", async (t) => {
  const summary = summarizeProfile(PROFILE, { root: "/repo" });
  await t.step("totals", () => {
    assert.equal(summary.totalMs, 200);
    assert.equal(summary.busySamples, 80);
  });
  await t.step("ranking, idle left out, call paths merged", () => {
    assert.deepEqual(summary.top.map((e) => [e.name, e.location, e.hits]), [
      ["decode", "protocol/framing.ts:10", 40],
      ["(anonymous)", "server/_session.ts:100", 25],
      ["(garbage collector)", "", 10],
      ["(anonymous)", "server/_session.ts:200", 5],
    ]);
  });
  await t.step("time and share of busy samples", () => {
    assert.equal(summary.top[0]!.ms, 80);
    assert.equal(summary.top[0]!.percent, 50);
  });
  await t.step("limit", () => {
    assert.equal(summarizeProfile(PROFILE, { limit: 2 }).top.length, 2);
  });
  await t.step("table", () => {
    const table = formatProfileTable(summary);
    assert.equal(table.length, 2 + 4);
    assert.equal(table[2], "| 50.0% | 80 | `decode` | protocol/framing.ts:10 |");
  });
});

Deno.test("summarizeProfile() reads a profile that deno run --cpu-prof wrote", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-profile-test-" });
  try {
    const script = join(dir, "hot.js");
    await Deno.writeTextFile(
      script,
      "function hotLoop() { let s = 0; for (let i = 0; i < 3e7; i++) s += i % 7; return s; }\n" +
        "console.log(hotLoop());\n",
    );
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--cpu-prof", `--cpu-prof-dir=${join(dir, "out")}`, script],
      stdout: "null",
      stderr: "inherit",
    }).output();
    assert.ok(success);
    const summary = summarizeProfile(await readNewestProfile(join(dir, "out")), { root: dir });
    assert.ok(summary.busySamples > 0);
    const hot = summary.top.find((entry) => entry.name === "hotLoop");
    assert.ok(hot, `hotLoop not among ${JSON.stringify(summary.top.map((e) => e.name))}`);
    assert.equal(hot.location, "hot.js:1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readNewestProfile() says so when a directory holds no profile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-profile-test-" });
  try {
    await assert.rejects(readNewestProfile(dir), /No \.cpuprofile in/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
