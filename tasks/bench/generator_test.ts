import assert from "node:assert/strict";
import { join } from "node:path";
import { legacyDigest } from "../../protocol/mod.ts";
import { benchCacheDir, compileLoadgen } from "./compile_loadgen.ts";
import { findGenerator, GeneratorRun } from "./generator.ts";
import type { Pinning } from "./pinning.ts";
import { startTarget, type TargetKind } from "./target.ts";
import { registerUsers } from "./users.ts";
import { CC, testWithTools, withTools } from "../../tests/_tools.ts";

const UNPINNED: Pinning = { server: [], generator: [], description: "unpinned" };

testWithTools([CC], {
  name: "loadgen.c computes MD5 and the legacy digest like protocol/",
  fn: async () => {
    const binary = await compileLoadgen(benchCacheDir());
    assert.ok(binary);
    const { success, stdout } = await new Deno.Command(binary, { args: ["--self-test"] }).output();
    const text = new TextDecoder().decode(stdout);
    assert.ok(success, text);
    // The C digest of the documented vector is the one protocol/legacy.ts computes.
    const stored = "f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31";
    const token = "00112233445566778899aabbccddeeff";
    assert.match(text, new RegExp(`legacy digest = ${legacyDigest(stored, token)}`));
  },
});

testWithTools([CC], "loadgen.c refuses bad arguments with a usage line", async () => {
  const binary = (await compileLoadgen(benchCacheDir()))!;
  const { code, stderr } = await new Deno.Command(binary, {
    args: ["--port", "1", "--mode", "dance", "--stored", "00", "--count", "2"],
    stderr: "piped",
  }).output();
  assert.equal(code, 1);
  assert.match(new TextDecoder().decode(stderr), /^loadgen: usage:/);
});

/** Runs until at least `atLeast` messages arrived, with no clock involved. */
async function measure(run: GeneratorRun, atLeast: number) {
  await run.go();
  await run.mark();
  while (await run.report() < atLeast) await new Promise((r) => setTimeout(r, 20));
  return await run.stop();
}

Deno.test("GeneratorRun logs in and drives jim-server and the relay", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-bench-test-" });
  try {
    const dbPath = join(dir, "bench.db");
    const users = await registerUsers(
      dbPath,
      ["p0", "p1", "p2", "p3", "i0", "i1", "i2"],
      "pw",
      4096,
    );
    for (const generator of ["c", "deno"] as const) {
      for (const kind of ["jim-server", "relay"] as TargetKind[]) {
        await t.step(withTools(generator === "c" ? [CC] : [], {
          name: `${generator} generator, ${kind}`,
          async fn(t) {
            const program = await findGenerator({ prefer: generator });
            await using server = await startTarget({
              kind,
              dbPath,
              pinning: UNPINNED,
              connectionLimit: 100,
            });
            const start = (mode: "pingpong" | "flood" | "idle", prefix: string, count: number) =>
              GeneratorRun.start(program, UNPINNED, {
                mode,
                port: server.port,
                prefix,
                count,
                stored: users.legacyStored,
                window: 4,
              });
            await t.step("ping-pong", async () => {
              await using run = start("pingpong", "p", 4);
              assert.equal((await run.ready()).logins, 4);
              const result = await measure(run, 20);
              assert.ok(result.messages >= 20);
              assert.equal(result.errors, 0);
              assert.ok(result.p50Ms >= 0 && result.p99Ms >= result.p50Ms);
            });
            await t.step("flood", async () => {
              await using run = start("flood", "p", 2);
              await run.ready();
              const result = await measure(run, 20);
              assert.ok(result.messages >= 20);
              assert.equal(result.errors, 0);
            });
            await t.step("idle", async () => {
              await using run = start("idle", "i", 3);
              assert.equal((await run.ready()).logins, 3);
              assert.equal((await run.stop()).messages, 0);
            });
          },
        }));
      }
    }
    await t.step("a wrong stored value fails the login with the server's answer", async () => {
      await using server = await startTarget({
        kind: "jim-server",
        dbPath,
        pinning: UNPINNED,
        connectionLimit: 100,
      });
      await using run = GeneratorRun.start(await findGenerator(), UNPINNED, {
        mode: "idle",
        port: server.port,
        prefix: "i",
        count: 1,
        stored: "00".repeat(32),
      });
      await assert.rejects(run.ready(), /exited with status 1 before "ready"/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
