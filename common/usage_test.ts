import assert from "node:assert/strict";
import {
  envValue,
  invalidValue,
  parseBoolean,
  parseNumber,
  parsePort,
  UsageError,
} from "./usage.ts";

Deno.test("parsePort() takes decimal ports from min to 65535 and names the source", async (t) => {
  await t.step("good", () => {
    assert.equal(parsePort("0", "--gui-port"), 0);
    assert.equal(parsePort(" 8080 ", "--gui-port"), 8080);
    assert.equal(parsePort("65535", "JIM_PORT", { min: 1 }), 65535);
  });
  await t.step("bad", () => {
    for (const raw of ["", "x", "-1", "65536", "1e3", "0x10", "80.0", "123456", "+80"]) {
      assert.throws(() => parsePort(raw, "--port"), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(
          error.message,
          `Invalid --port: expected a port from 0 to 65535, got ${JSON.stringify(raw)}`,
        );
        return true;
      }, raw);
    }
    assert.throws(() => parsePort("0", "JIM_PORT", { min: 1 }), /Invalid JIM_PORT: .* 1 to 65535/);
  });
});

Deno.test("parseBoolean() takes 1/0, true/false, yes/no, on/off in any case", () => {
  for (const raw of ["1", "true", "YES", " on "]) assert.equal(parseBoolean(raw, "JIM_TLS"), true);
  for (const raw of ["0", "False", "no", "OFF"]) assert.equal(parseBoolean(raw, "JIM_TLS"), false);
  assert.throws(
    () => parseBoolean("maybe", "JIM_TLS"),
    new UsageError('Invalid JIM_TLS: expected 1/0, true/false, yes/no or on/off, got "maybe"'),
  );
});

Deno.test("parseNumber() takes finite decimals within bounds", async (t) => {
  await t.step("good", () => {
    assert.equal(parseNumber("2.5", "--rate-limit"), 2.5);
    assert.equal(parseNumber(" 0 ", "--rate-limit"), 0);
    assert.equal(parseNumber("1e3", "--max-backlog", { integer: true }), 1000);
    assert.equal(parseNumber("4096", "--iterations", { integer: true, min: 4096, max: 1e7 }), 4096);
  });
  await t.step("bad", () => {
    const cases: [string, Parameters<typeof parseNumber>[2], RegExp][] = [
      ["seven", {}, /Invalid --x: expected a number of 0 or more, got "seven"/],
      ["-1", {}, /a number of 0 or more/],
      ["Infinity", {}, /a number/],
      ["0x10", {}, /a number/],
      ["", {}, /a number/],
      ["1.5", { integer: true }, /a whole number of 0 or more/],
      ["10", { integer: true, min: 1, max: 5 }, /a whole number from 1 to 5, got "10"/],
    ];
    for (const [raw, options, message] of cases) {
      assert.throws(() => parseNumber(raw, "--x", options), message, raw);
    }
  });
});

Deno.test("envValue() counts an empty or blank variable as not set", () => {
  assert.equal(envValue({ A: "x" }, "A"), "x");
  assert.equal(envValue({ A: "" }, "A"), undefined);
  assert.equal(envValue({ A: "  " }, "A"), undefined);
  assert.equal(envValue({}, "A"), undefined);
  assert.equal(invalidValue("--db", "", "a path").message, 'Invalid --db: expected a path, got ""');
});
