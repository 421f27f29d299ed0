import assert from "node:assert/strict";
import { deriveScramCredentials, ScramClient, ScramServerExchange } from "./scram.ts";
import { legacyDigest, legacyStoredHash, newToken, verifyLegacyDigest } from "./legacy.ts";
import { constantTimeEqual, fromBase64, fromHex, toBase64, toHex } from "./bytes.ts";
import { JimError } from "./errors.ts";

// RFC 7677, section 3: user "user", password "pencil".
const RFC = {
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst:
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

async function rfcCredentials() {
  return await deriveScramCredentials("pencil", {
    iterations: 4096,
    salt: fromBase64("W22ZaJ0SNY7soEsUEjb6gQ=="),
  });
}

Deno.test("ScramClient reproduces the RFC 7677 example", async () => {
  const client = new ScramClient("user", "pencil", { nonce: RFC.clientNonce });
  assert.equal(client.clientFirst(), RFC.clientFirst);
  assert.equal(await client.clientFinal(RFC.serverFirst), RFC.clientFinal);
  await client.verifyServerFinal(RFC.serverFinal);
});

Deno.test("ScramServerExchange reproduces the RFC 7677 example", async () => {
  const creds = await rfcCredentials();
  const server = new ScramServerExchange({ nonce: RFC.serverNonce });
  assert.deepEqual(ScramServerExchange.parseClientFirst(RFC.clientFirst), {
    user: "user",
    nonce: RFC.clientNonce,
  });
  assert.equal(server.serverFirst(RFC.clientFirst, creds), RFC.serverFirst);
  assert.equal(await server.serverFinal(RFC.clientFinal, creds), RFC.serverFinal);
});

Deno.test("ScramServerExchange denies a wrong password", async () => {
  const creds = await deriveScramCredentials("right", { iterations: 4096 });
  const client = new ScramClient("alice", "wrong");
  const server = new ScramServerExchange();
  const serverFirst = server.serverFirst(client.clientFirst(), creds);
  const final = await client.clientFinal(serverFirst);
  await assert.rejects(server.serverFinal(final, creds), (e: unknown) => {
    assert.ok(e instanceof JimError);
    assert.equal(e.code, 402);
    assert.equal(e.message, "Access denied");
    return true;
  });
});

Deno.test("ScramServerExchange rejects tampered client-final messages", async (t) => {
  const creds = await rfcCredentials();
  const fresh = () => {
    const server = new ScramServerExchange({ nonce: RFC.serverNonce });
    server.serverFirst(RFC.clientFirst, creds);
    return server;
  };
  const cases: [string, string, number][] = [
    ["a flipped proof", RFC.clientFinal.replace("p=dHz", "p=eHz"), 402],
    ["a short proof", RFC.clientFinal.replace(/p=.*/, "p=AAAA"), 402],
    ["another nonce", RFC.clientFinal.replace("hNlF$k0", "hNlF$k1"), 400],
    ["channel binding data", RFC.clientFinal.replace("c=biws", "c=eSws"), 400],
    ["no proof", "c=biws,r=x", 400],
    ["garbage", "hello", 400],
  ];
  for (const [name, message, code] of cases) {
    await t.step(name, async () => {
      await assert.rejects(fresh().serverFinal(message, creds), (e: unknown) => {
        assert.ok(e instanceof JimError);
        assert.equal(e.code, code);
        return true;
      });
    });
  }
  await t.step("a final message before the first", async () => {
    await assert.rejects(new ScramServerExchange().serverFinal(RFC.clientFinal, creds), JimError);
  });
});

Deno.test("ScramServerExchange.parseClientFirst() rejects what it does not support", async (t) => {
  for (
    const bad of [
      "p=tls-unique,,n=a,r=x",
      "n,a=admin,n=a,r=x",
      "n,,r=x",
      "n,,n=a",
      "x",
      "n,,n=a=b,r=x",
    ]
  ) {
    await t.step(
      bad,
      () => assert.throws(() => ScramServerExchange.parseClientFirst(bad), JimError),
    );
  }
  await t.step("escaped names come back unescaped", () => {
    assert.equal(ScramServerExchange.parseClientFirst("n,,n=a=2Cb=3Dc,r=x").user, "a,b=c");
  });
});

Deno.test("ScramClient refuses a hostile server", async (t) => {
  await t.step("a forged server signature", async () => {
    const client = new ScramClient("user", "pencil", { nonce: RFC.clientNonce });
    await client.clientFinal(RFC.serverFirst);
    await assert.rejects(
      client.verifyServerFinal("v=" + toBase64(new Uint8Array(32))),
      /Cannot verify server: signature mismatch/,
    );
    await assert.rejects(client.verifyServerFinal("v=%%%"), /signature mismatch/);
  });
  await t.step("a server error attribute", async () => {
    const client = new ScramClient("user", "pencil", { nonce: RFC.clientNonce });
    await client.clientFinal(RFC.serverFirst);
    await assert.rejects(client.verifyServerFinal("e=other-error"), /Authentication failed/);
  });
  const first = (r: string, s = "W22ZaJ0SNY7soEsUEjb6gQ==", i = "4096") => `r=${r},s=${s},i=${i}`;
  const cases: [string, string][] = [
    ["a nonce that does not extend ours", first("someoneelse")],
    ["a nonce equal to ours", first(RFC.clientNonce)],
    ["too few iterations", first(RFC.clientNonce + "x", undefined, "1")],
    ["absurd iterations", first(RFC.clientNonce + "x", undefined, "99999999999")],
    ["a salt that is not base64", first(RFC.clientNonce + "x", "***")],
    ["an extension it cannot honour", "m=ext," + first(RFC.clientNonce + "x")],
  ];
  for (const [name, message] of cases) {
    await t.step(name, async () => {
      const client = new ScramClient("user", "pencil", { nonce: RFC.clientNonce });
      await assert.rejects(client.clientFinal(message), JimError);
    });
  }
  await t.step("verify before the exchange", async () => {
    await assert.rejects(
      new ScramClient("a", "b").verifyServerFinal(RFC.serverFinal),
      /^Error: Cannot verify server: clientFinal\(\) has not run$/,
    );
  });
});

Deno.test("ScramClient can reuse a cached salted password", async () => {
  const creds = await deriveScramCredentials("pw", { iterations: 4096 });
  const first = new ScramClient("bob", "pw");
  const server1 = new ScramServerExchange();
  const final1 = await first.clientFinal(server1.serverFirst(first.clientFirst(), creds));
  await first.verifyServerFinal(await server1.serverFinal(final1, creds));
  const cache = first.saltedPassword;
  assert.ok(cache);
  // A wrong password with the right cache still logs in: the cache is the secret.
  const second = new ScramClient("bob", "not-used");
  const server2 = new ScramServerExchange();
  const final2 = await second.clientFinal(server2.serverFirst(second.clientFirst(), creds), {
    cache,
  });
  await second.verifyServerFinal(await server2.serverFinal(final2, creds));
});

Deno.test("deriveScramCredentials() stores nothing password-equivalent", async () => {
  const a = await deriveScramCredentials("same", { iterations: 4096 });
  const b = await deriveScramCredentials("same", { iterations: 4096 });
  assert.equal(a.salt.length, 16);
  assert.notDeepEqual(a.salt, b.salt);
  assert.notDeepEqual(a.storedKey, b.storedKey);
  assert.equal(a.storedKey.length, 32);
  assert.equal(a.serverKey.length, 32);
  assert.equal(a.iterations, 4096);
  // StoredKey alone is not a valid proof.
  const client = new ScramClient("x", "same");
  const server = new ScramServerExchange();
  const serverFirst = server.serverFirst(client.clientFirst(), a);
  const final = await client.clientFinal(serverFirst);
  const forged = final.replace(/p=.*/, "p=" + toBase64(a.storedKey));
  await assert.rejects(server.serverFinal(forged, a), /Access denied/);
});

Deno.test("the legacy digest matches the seed's vectors", async () => {
  const stored = await legacyStoredHash("secret");
  assert.equal(stored, "f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31");
  const digest = legacyDigest(stored, "00112233445566778899aabbccddeeff");
  assert.equal(digest, "bdfe4c7d0c0da4ab8bef3f2b7013c92b");
  assert.ok(verifyLegacyDigest(stored, "00112233445566778899aabbccddeeff", digest));
  assert.ok(verifyLegacyDigest(stored, "00112233445566778899aabbccddeeff", digest.toUpperCase()));
  assert.ok(!verifyLegacyDigest(stored, "00112233445566778899aabbccddeeff", "0".repeat(32)));
  assert.ok(!verifyLegacyDigest(stored, "00112233445566778899aabbccddeeff", "short"));
});

Deno.test("legacyDigest() is HMAC-MD5: the vectors of RFC 2202, section 2", () => {
  const hex = (text: string) => toHex(new TextEncoder().encode(text));
  assert.equal(
    legacyDigest(hex("Jefe"), hex("what do ya want for nothing?")),
    "750c783e6ab0b503eaa86e310a5db738",
  );
  assert.equal(legacyDigest("0b".repeat(16), hex("Hi There")), "9294727a3638bb1c13f48ef8158bfc9d");
  // A key longer than MD5's 64-byte block is hashed first.
  assert.equal(
    legacyDigest("aa".repeat(80), hex("Test Using Larger Than Block-Size Key - Hash Key First")),
    "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
  );
});

Deno.test("newToken() makes 16 random bytes of hex", () => {
  const a = newToken();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newToken());
});

Deno.test("constantTimeEqual() compares bytes and strings of any length", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
  assert.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1])));
  assert.ok(constantTimeEqual("", ""));
});

Deno.test("hex and base64 helpers round-trip and reject garbage", () => {
  const bytes = new Uint8Array([0, 1, 127, 128, 255]);
  assert.deepEqual(fromHex(toHex(bytes)), bytes);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.throws(() => fromHex("abc"), TypeError);
  assert.throws(() => fromHex("zz"), TypeError);
  assert.throws(() => fromBase64("***"), TypeError);
});
