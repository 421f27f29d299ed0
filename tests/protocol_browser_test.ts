/**
 * protocol/mod.ts as it is, bundled for the browser and run in chromium: it needs no `node:`
 * module, so the GUIs' browser code may import the whole package.
 *
 * @module
 */
import assert from "node:assert/strict";
import { launchBrowser, skipBrowserTests } from "./_browser.ts";

const ROOT = new URL("../", import.meta.url);

async function bundleProtocol(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "jim-protocol-bundle-" });
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      `import * as protocol from ${JSON.stringify(new URL("protocol/mod.ts", ROOT).href)};\n` +
        `(globalThis as Record<string, unknown>).jimProtocol = protocol;\n`,
    );
    const out = `${dir}/out.js`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--config",
        new URL("deno.json", ROOT).pathname,
        "--output",
        out,
        entry,
      ],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(result.success, new TextDecoder().decode(result.stderr));
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "protocol/mod.ts bundles for the browser and its auth maths run in chromium",
  ignore: skipBrowserTests(),
  async fn() {
    const bundle = await bundleProtocol();
    assert.doesNotMatch(bundle, /from\s*["']node:/, "the bundle imports no node: module");
    // Web Crypto needs a secure context: a loopback http origin is one.
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>protocol</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    await using browser = await launchBrowser();
    const { page } = browser;
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await page.addScriptTag({ content: bundle, type: "module" });
    await page.waitForFunction(() => "jimProtocol" in globalThis);
    const results = await page.evaluate(async () => {
      // deno-lint-ignore no-explicit-any
      const p = (globalThis as any).jimProtocol;
      const hex = (text: string) => p.toHex(new TextEncoder().encode(text));
      const stored = await p.legacyStoredHash("secret");
      const token = "00112233445566778899aabbccddeeff";
      const client = new p.ScramClient("user", "pencil", { nonce: "rOprNGfwEbeRWgbNEkqO" });
      client.clientFirst();
      return {
        hmacMd5: p.legacyDigest(hex("Jefe"), hex("what do ya want for nothing?")),
        stored,
        digest: p.legacyDigest(stored, token),
        verified: p.verifyLegacyDigest(stored, token, p.legacyDigest(stored, token)),
        equal: [p.constantTimeEqual("abc", "abc"), p.constantTimeEqual("abc", "abd")],
        key: p.loginKey("ＡLICE"),
        clientFinal: await client.clientFinal(
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ),
      };
    });
    assert.deepEqual(results, {
      hmacMd5: "750c783e6ab0b503eaa86e310a5db738",
      stored: "f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31",
      digest: "bdfe4c7d0c0da4ab8bef3f2b7013c92b",
      verified: true,
      equal: [true, false],
      key: "alice",
      clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    });
    assert.deepEqual(browser.consoleErrors, []);
  },
});
