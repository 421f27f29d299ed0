/** The tool helper: found where it lives, and a missing tool fails under CI or is skipped aloud. */
import assert from "node:assert/strict";
import { findTool, missingToolMessage, onPath, toolPath, underCi } from "./_tools.ts";
import { CHROMIUM } from "./_browser.ts";
import { NATS_SERVER, POSTGRESQL } from "./_services.ts";

const HELPER = new URL("./_tools.ts", import.meta.url).href;

Deno.test("findTool() looks on PATH like a shell, not in fixed places", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-tools-test-" });
  try {
    await Deno.writeTextFile(`${dir}/jim-fake-tool`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/jim-not-executable`, "", { mode: 0o644 });
    assert.equal(findTool("jim-fake-tool", `/nonexistent::${dir}/`), `${dir}/jim-fake-tool`);
    assert.equal(findTool("jim-not-executable", dir), undefined);
    assert.equal(findTool("jim-fake-tool", "/usr/bin"), undefined);
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

Deno.test("toolPath() gives the path, or an error naming the tool and its Debian package", () => {
  assert.match(toolPath(onPath("sh", "dash")), /\/sh$/);
  assert.throws(() => toolPath(onPath("jim-no-such-tool", "jim-tools")), {
    message: "Cannot run without jim-no-such-tool not found on PATH (apt-get install jim-tools)",
  });
  // The services' and the browser's tools say where they were looked for.
  assert.equal(
    missingToolMessage(CHROMIUM),
    "chromium not found at /usr/bin/chromium (apt-get install chromium)",
  );
  assert.match(
    missingToolMessage(NATS_SERVER),
    /^nats-server not found .*JIM_NATS_SERVER.*nats-server\)$/,
  );
  assert.match(missingToolMessage(POSTGRESQL), /^postgresql not found .*initdb.*postgresql\)$/);
});

Deno.test("testWithTools() and withTools() fail naming a missing tool under CI=true and skip aloud elsewhere", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-tools-test-" });
  try {
    const file = `${dir}/needs_tool_test.ts`;
    await Deno.writeTextFile(
      file,
      `import { onPath, testWithTools, withTools } from "${HELPER}";\n` +
        `const MISSING = onPath("jim-no-such-tool", "jim-tools");\n` +
        `const SH = onPath("sh", "dash");\n` +
        `testWithTools([MISSING], "needs a tool", async () => {});\n` +
        `testWithTools([SH], { name: "has a tool", fn(_t, { sh }) {\n` +
        `  if (!sh.endsWith("/sh")) throw new Error(sh);\n` +
        `} });\n` +
        `Deno.test("has steps", async (t) => {\n` +
        `  await t.step(withTools([MISSING], { name: "step needs a tool", fn() {} }));\n` +
        `});\n`,
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
    const missing = "jim-no-such-tool not found on PATH \\(apt-get install jim-tools\\)";
    await t.step(
      "CI=true: the test and the step fail, naming the tool and its package",
      async () => {
        const { code, output } = await run("true");
        assert.notEqual(code, 0, output);
        assert.match(output, new RegExp(`needs a tool => .*[^]*Cannot run this test: ${missing}`));
        assert.equal(output.match(new RegExp(`Cannot run this test: ${missing}`, "g"))?.length, 2);
        assert.match(output, /has a tool \.\.\. ok/);
        assert.match(output, /1 passed \| 2 failed \(1 step\)/);
      },
    );
    await t.step("CI unset: ignored, with a line saying which test and why", async () => {
      const { code, output } = await run("");
      assert.equal(code, 0, output);
      for (const name of ["needs a tool", "step needs a tool"]) {
        assert.match(
          output,
          new RegExp(`SKIPPING "${name}": ${missing}\\. Under CI=true this is a failure\\.`),
        );
      }
      assert.match(output, /2 passed \| 0 failed \| 1 ignored \(1 step\)/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
