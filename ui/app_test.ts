import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { JimError } from "../protocol/mod.ts";
import { newAccessToken } from "./access.ts";
import { createGuiApp, httpStatusForJimCode, readJsonObject } from "./app.ts";

const ORIGIN = "http://127.0.0.1:8080";
const HOST = { host: "127.0.0.1:8080" };

function setup() {
  const token = newAccessToken();
  const app = createGuiApp({
    token,
    title: "Test GUI",
    script: "test.js",
    port: 8080,
    bodyLimit: 64,
    assets: {
      "test.js": { type: "text/javascript; charset=utf-8", body: "console.log(1)", hash: "abc" },
      "styles.css": { type: "text/css; charset=utf-8", body: "body{}", hash: "def" },
    },
  });
  app.get("/api/jim/:code", (c) => {
    throw new JimError(Number(c.req.param("code")), "Detail for the user: x");
  });
  app.get("/api/http", () => {
    throw new HTTPException(418, { message: "Teapot" });
  });
  app.get("/api/boom", () => {
    throw new Error("secret internal path /etc/jim.db");
  });
  app.post("/api/echo", async (c) => c.json(await readJsonObject(c)));
  async function login(): Promise<string> {
    const res = await app.request(`${ORIGIN}/?token=${token}`, { headers: HOST });
    assert.equal(res.status, 303);
    return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  }
  return { app, login };
}

Deno.test("createGuiApp() serves the page shell after the token exchange", async () => {
  const { app, login } = setup();
  const cookie = await login();
  const res = await app.request(`${ORIGIN}/`, { headers: { ...HOST, cookie } });
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<script type="module" src="\/assets\/test\.js\?v=abc"><\/script>/);
  assert.match(html, /href="\/assets\/styles\.css\?v=def"/);
  assert.ok(!/<script>/.test(html), "no inline script");
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
});

Deno.test("createGuiApp() escapes a hostile title on the gate page and in the shell", async (t) => {
  const title = `</title><script>alert("x")</script><img src=x onerror=alert(1)> & "q"`;
  for (const [label, assets] of [["with its bundle", undefined], ["bundle missing", {}]] as const) {
    await t.step(label, async () => {
      const token = newAccessToken();
      const app = createGuiApp({
        token,
        title,
        script: "test.js",
        port: 8080,
        assets: assets ??
          { "test.js": { type: "text/javascript; charset=utf-8", body: "1", hash: "a" } },
      });
      const gate = await app.request(`${ORIGIN}/`, { headers: HOST });
      assert.equal(gate.status, 401);
      const login = await app.request(`${ORIGIN}/?token=${token}`, { headers: HOST });
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
      const shell = await app.request(`${ORIGIN}/`, { headers: { ...HOST, cookie } });
      assert.equal(shell.status, 200);
      for (const html of [await gate.text(), await shell.text()]) {
        assert.ok(!html.includes("<script>"), html);
        assert.ok(!html.includes("<img"), html);
        assert.match(html, /<title>&lt;\/title>&lt;script>alert\(&quot;x&quot;\)&lt;\/script>/);
        assert.match(html, /&amp; &quot;q&quot;<\/title>/);
      }
    });
  }
});

Deno.test("createGuiApp() serves embedded assets with their types", async (t) => {
  const { app } = setup();
  await t.step("known asset", async () => {
    const res = await app.request(`${ORIGIN}/assets/test.js?v=abc`, { headers: HOST });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(res.headers.get("cache-control") ?? "", /immutable/);
    assert.equal(await res.text(), "console.log(1)");
  });
  await t.step("unknown asset is 404", async () => {
    const res = await app.request(`${ORIGIN}/assets/nope.js`, { headers: HOST });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });
  await t.step("assets still need the right Host", async () => {
    const res = await app.request(`${ORIGIN}/assets/test.js`, { headers: { host: "evil:8080" } });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
});

Deno.test("createGuiApp() never serves Object.prototype's names as assets", async (t) => {
  const names = [
    "constructor",
    "toString",
    "hasOwnProperty",
    "__proto__",
    "valueOf",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "__defineGetter__",
    "__lookupGetter__",
  ];
  const apps = {
    "test assets": setup().app,
    "the embedded bundle": createGuiApp({
      token: newAccessToken(),
      title: "T",
      script: "admin.js",
      port: 8080,
    }),
  };
  for (const [label, app] of Object.entries(apps)) {
    for (const name of names) {
      await t.step(`${label}: /assets/${name} is 404`, async () => {
        const res = await app.request(`${ORIGIN}/assets/${name}`, { headers: HOST });
        assert.equal(res.status, 404);
        assert.equal(await res.text(), "Not found");
      });
    }
  }
  await t.step("the page shell does not take a prototype name for its bundle", async () => {
    const app = createGuiApp({
      token: newAccessToken(),
      title: "T",
      script: "constructor",
      port: 8080,
    });
    const token = newAccessToken();
    const gated = createGuiApp({ token, title: "T", script: "toString", port: 8080, assets: {} });
    for (const a of [app, gated]) {
      const res = await a.request(`${ORIGIN}/`, { headers: HOST });
      await res.body?.cancel();
    }
    const login = await gated.request(`${ORIGIN}/?token=${token}`, { headers: HOST });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
    const html = await (await gated.request(`${ORIGIN}/`, { headers: { ...HOST, cookie } })).text();
    assert.match(html, /The browser bundle toString is missing/);
  });
});

Deno.test("createGuiApp() shows a note when its bundle is missing", async () => {
  const token = newAccessToken();
  const app = createGuiApp({ token, title: "T", script: "none.js", port: 8080, assets: {} });
  const login = await app.request(`${ORIGIN}/?token=${token}`, { headers: HOST });
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  const res = await app.request(`${ORIGIN}/`, { headers: { ...HOST, cookie } });
  assert.match(await res.text(), /bundle none\.js is missing/);
});

Deno.test("httpStatusForJimCode() maps domain codes to HTTP", () => {
  const cases: [number, number][] = [
    [400, 400],
    [401, 401],
    [402, 401],
    [403, 403],
    [404, 404],
    [409, 409],
    [410, 500],
    [500, 500],
    [503, 500],
  ];
  for (const [code, status] of cases) assert.equal(httpStatusForJimCode(code), status, `${code}`);
});

Deno.test("createGuiApp() onError maps errors without leaking internals", async (t) => {
  const { app, login } = setup();
  const cookie = await login();
  const get = (path: string) => app.request(`${ORIGIN}${path}`, { headers: { ...HOST, cookie } });

  await t.step("JimError keeps its message and maps its code", async () => {
    for (const [code, status] of [[400, 400], [402, 401], [404, 404], [409, 409]]) {
      const res = await get(`/api/jim/${code}`);
      assert.equal(res.status, status);
      assert.deepEqual(await res.json(), { error: "Detail for the user: x", code });
    }
  });
  await t.step("a JimError 500 is generic", async () => {
    const original = console.error;
    console.error = () => {};
    try {
      const res = await get("/api/jim/500");
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { error: "Internal server error" });
    } finally {
      console.error = original;
    }
  });
  await t.step("HTTPException passes through", async () => {
    const res = await get("/api/http");
    assert.equal(res.status, 418);
    assert.deepEqual(await res.json(), { error: "Teapot" });
  });
  await t.step("unknown errors are a generic 500", async () => {
    const original = console.error;
    const logged: unknown[] = [];
    console.error = (...args: unknown[]) => logged.push(args);
    try {
      const res = await get("/api/boom");
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.ok(!text.includes("secret"), text);
      assert.deepEqual(JSON.parse(text), { error: "Internal server error" });
      assert.equal(logged.length, 1, "the real error is logged on the GUI's side");
    } finally {
      console.error = original;
    }
  });
  await t.step("unknown API route is 404 JSON", async () => {
    const res = await get("/api/nope");
    assert.equal(res.status, 404);
    assert.match((await res.json()).error, /Not found/);
  });
});

Deno.test("readJsonObject() accepts only JSON objects", async (t) => {
  const { app, login } = setup();
  const cookie = await login();
  const post = (body: string, type = "application/json") =>
    app.request(`${ORIGIN}/api/echo`, {
      method: "POST",
      body,
      headers: { ...HOST, cookie, origin: ORIGIN, "content-type": type },
    });

  await t.step("an object round-trips", async () => {
    const res = await post('{"a":1}');
    assert.deepEqual(await res.json(), { a: 1 });
    assert.equal(res.headers.get("cache-control"), "no-store");
  });
  await t.step("bad JSON is 400", async () => {
    for (const body of ["{", "[1]", "null", "3", ""]) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).error, /Invalid JSON body/);
    }
  });
  await t.step("other content types are 415", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      const res = await post('{"a":1}', type);
      assert.equal(res.status, 415, type);
      await res.body?.cancel();
    }
  });
  await t.step("a body past the limit is 413", async () => {
    const res = await post(JSON.stringify({ a: "x".repeat(100) }));
    assert.equal(res.status, 413);
    assert.match((await res.json()).error, /too large/);
  });
  await t.step("a POST from another origin is 403 before anything else", async () => {
    const res = await app.request(`${ORIGIN}/api/echo`, {
      method: "POST",
      body: "{}",
      headers: {
        ...HOST,
        cookie,
        origin: "http://evil.example",
        "content-type": "application/json",
      },
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
});
