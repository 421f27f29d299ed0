/** The tool helper: found on PATH, and a missing tool fails under CI or is skipped aloud. */
import assert from "node:assert/strict";
import { checkTools, findTool, underCi } from "./_tools.ts";

const HELPER = new URL("./_tools.ts", import.meta.url).href;

Deno.test("findTool() looks on PATH like a shell, not in fixed places", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-tools-test-" });
  try {
    await Deno.writeTextFile(`${dir}/jim-fake-tool`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/jim-not-executable`, "", { mode: 0o644 });
    assert.equal(findTool("jim-fake-tool", `/nonexistent::${dir}/`), `${dir}/jim-fake-tool`);
    assert.equal(findTool("jim-not-executable", dir), undefined);
    assert.equal(findTool("jim-fake-tool", "/usr/bin"), undefined);
    assert.deepEqual(checkTools(["sh", "jim-no-such-tool"]).missing, ["jim-no-such-tool"]);
    assert.match(checkTools(["sh"]).paths.sh!, /\/sh$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("underCi() reads CI=true, and not empty, 0 or false", () => {
  const env = (value: string | undefined) => (name: string) => name === "CI" ? value : undefined;
  assert.equal(underCi(env("true")), true);
  assert.equal(underCi(env("1")), true);
  for (const value of [undefined, "", "0", "false", "FALSE"]) {
    assert.equal(underCi(env(value)), false, String(value));
  }
});

Deno.test("testWithTools() fails naming a missing tool under CI=true and skips aloud elsewhere", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-tools-test-" });
  try {
    const file = `${dir}/needs_tool_test.ts`;
    await Deno.writeTextFile(
      file,
      `import { testWithTools } from "${HELPER}";\n` +
        `testWithTools(["jim-no-such-tool"], "needs a tool", async () => {});\n`,
    );
    const run = async (ci: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "--no-check", "--allow-env", "--allow-read", file],
        env: { CI: ci, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder();
      return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
    };
    await t.step("CI=true: the test fails and names the tool", async () => {
      const { code, output } = await run("true");
      assert.notEqual(code, 0, output);
      assert.match(output, /Tool not found on PATH: jim-no-such-tool/);
      assert.match(output, /0 passed.*1 failed/);
    });
    await t.step("CI unset: ignored, with a line saying what and why", async () => {
      const { code, output } = await run("");
      assert.equal(code, 0, output);
      assert.match(
        output,
        /SKIPPING "needs a tool": Tool not found on PATH: jim-no-such-tool\. Under CI=true/,
      );
      assert.match(output, /0 passed.*0 failed.*1 ignored/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
