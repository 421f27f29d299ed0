import assert from "node:assert/strict";
import { BASE_RESERVE, connectionCap, MAX_REJECTING, readOpenFileLimit } from "./_fd_limit.ts";

Deno.test("readOpenFileLimit() reads the soft limit from /proc/self/limits", async (t) => {
  const sample = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             63364                63364                processes ",
    "Max open files            1024                 524288               files     ",
  ].join("\n");
  await t.step("the soft limit of a sample", () => {
    assert.equal(readOpenFileLimit(sample), 1024);
  });
  await t.step("unlimited or absent is undefined", () => {
    assert.equal(readOpenFileLimit("Max open files  unlimited  unlimited  files"), undefined);
    assert.equal(readOpenFileLimit("nothing here"), undefined);
  });
  await t.step({
    name: "this process's own, on Linux",
    ignore: Deno.build.os !== "linux",
    fn() {
      const limit = readOpenFileLimit();
      assert.ok(limit !== undefined && limit > 0);
    },
  });
});

Deno.test("connectionCap() keeps a reserve below the descriptor limit", async (t) => {
  await t.step("a cap that fits is kept", () => {
    assert.deepEqual(connectionCap(100, 65536), {
      maxConnections: 100,
      rejectSlots: MAX_REJECTING,
      openFileLimit: 65536,
    });
  });
  await t.step("a cap that does not fit is lowered", () => {
    const cap = connectionCap(20_000, 1024);
    assert.equal(cap.rejectSlots, 64);
    assert.equal(cap.maxConnections, 1024 - BASE_RESERVE - 64);
  });
  await t.step("an unknown limit changes nothing", () => {
    assert.deepEqual(connectionCap(20_000, undefined), {
      maxConnections: 20_000,
      rejectSlots: MAX_REJECTING,
    });
  });
  await t.step("a limit with no room left is refused", () => {
    assert.throws(() => connectionCap(10, 60), /open-file limit of 60 leaves no descriptors/);
  });
});
