import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  AccessTokens,
  CONTENT_SECURITY_POLICY,
  hostGuard,
  isLoopbackHost,
  jsonBodyLimit,
  MAX_GUI_SESSIONS,
  newAccessToken,
  originGuard,
  securityHeaders,
  tokenAuth,
} from "./access.ts";

const BASE = "http://127.0.0.1:8080";

Deno.test("newAccessToken() returns 32 random bytes as base64url", () => {
  const a = newAccessToken();
  const b = newAccessToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
});

Deno.test("isLoopbackHost() accepts only loopback names", () => {
  for (const h of ["127.0.0.1", "localhost", "127.1.2.3", "::1", "[::1]"]) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ["0.0.0.0", "192.168.1.2", "example.com", "localhost.evil.com", ""]) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

Deno.test("hostGuard() lets only the GUI's own Host through", async (t) => {
  const app = new Hono();
  app.use(hostGuard({ port: () => 8080 }));
  app.get("/", (c) => c.text("ok"));
  const get = (host?: string) =>
    app.request(`${BASE}/`, { headers: host === undefined ? {} : { host } });

  await t.step("accepts 127.0.0.1 and localhost with the port", async () => {
    for (const host of ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"]) {
      assert.equal((await get(host)).status, 200, host);
    }
  });
  await t.step("rejects rebound names, other ports and garbage with 403", async () => {
    for (const host of ["evil.example:8080", "127.0.0.1:9090", "127.0.0.1", "", "a b", "x@y"]) {
      const res = await get(host);
      assert.equal(res.status, 403, host);
      assert.match((await res.json()).error, /Host/);
    }
  });
  await t.step("rejects a missing Host", async () => {
    assert.equal((await get()).status, 403);
  });
  await t.step("accepts extra hosts when told", async () => {
    const open = new Hono();
    open.use(hostGuard({ port: 8080, hosts: ["10.0.0.5"] }));
    open.get("/", (c) => c.text("ok"));
    const res = await open.request("/", { headers: { host: "10.0.0.5:8080" } });
    assert.equal(res.status, 200);
  });
});

Deno.test("originGuard() checks Origin on state-changing methods only", async (t) => {
  const app = new Hono();
  app.use(originGuard({ port: 8080 }));
  app.all("/api/x", (c) => c.text("ok"));
  const call = (method: string, origin?: string) =>
    app.request(`${BASE}/api/x`, { method, headers: origin ? { origin } : {} });

  await t.step("GET and HEAD pass without Origin", async () => {
    assert.equal((await call("GET")).status, 200);
    assert.equal((await call("HEAD")).status, 200);
  });
  await t.step("same origin passes", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      assert.equal((await call(method, "http://127.0.0.1:8080")).status, 200, method);
      assert.equal((await call(method, "http://localhost:8080")).status, 200, method);
    }
  });
  await t.step("foreign, missing or odd Origin is 403", async () => {
    for (
      const origin of [
        undefined,
        "http://evil.example",
        "http://127.0.0.1:9999",
        "https://127.0.0.1:8080",
        "null",
        "http://127.0.0.1:8080/path",
      ]
    ) {
      const res = await call("POST", origin);
      assert.equal(res.status, 403, String(origin));
    }
  });
});

Deno.test("tokenAuth() trades the token for a cookie", async (t) => {
  const token = newAccessToken();
  const app = new Hono();
  app.use(tokenAuth({ token, title: "Test GUI" }));
  app.get("/", (c) => c.text("shell"));
  app.get("/api/state", (c) => c.json({ ok: true }));
  app.get("/assets/x.css", (c) => c.text("css"));
  const host = { host: "127.0.0.1:8080" };
  let cookie = "";

  await t.step("a wrong token gets 401 and no cookie", async () => {
    const res = await app.request(`${BASE}/?token=wrong`, { headers: host });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.match(await res.text(), /access token is wrong/);
  });
  await t.step("the right token sets a strict HttpOnly cookie and redirects to /", async () => {
    const res = await app.request(`${BASE}/?token=${token}`, { headers: host });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/");
    const set = res.headers.get("set-cookie") ?? "";
    assert.match(set, /^jim_gui_8080=[A-Za-z0-9_-]+;/);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Path=\//);
    assert.ok(!set.includes(token), "the cookie must not echo the URL token");
    cookie = set.split(";")[0]!;
  });
  await t.step("the cookie opens the page and the API", async () => {
    const page = await app.request(`${BASE}/`, { headers: { ...host, cookie } });
    assert.equal(await page.text(), "shell");
    const api = await app.request(`${BASE}/api/state`, { headers: { ...host, cookie } });
    assert.deepEqual(await api.json(), { ok: true });
  });
  await t.step("without the cookie the API is 401 JSON and the page explains", async () => {
    const api = await app.request(`${BASE}/api/state`, { headers: host });
    assert.equal(api.status, 401);
    assert.match((await api.json()).error, /Unauthorized/);
    const page = await app.request(`${BASE}/`, { headers: host });
    assert.equal(page.status, 401);
    assert.match(await page.text(), /URL printed in the terminal/);
  });
  await t.step("a forged cookie or the token itself as cookie is refused", async () => {
    for (const value of ["x", token, cookie.split("=")[1] + "x"]) {
      const res = await app.request(`${BASE}/api/state`, {
        headers: { ...host, cookie: `jim_gui_8080=${value}` },
      });
      assert.equal(res.status, 401, value);
    }
  });
  await t.step("a session minted by another GUI instance is refused", async () => {
    const other = new Hono();
    other.use(tokenAuth({ token: newAccessToken() }));
    other.get("/api/state", (c) => c.json({ ok: true }));
    const res = await other.request("http://127.0.0.1:8081/api/state", {
      headers: { host: "127.0.0.1:8081", cookie: cookie.replace("8080", "8081") },
    });
    assert.equal(res.status, 401);
  });
  await t.step("assets are public", async () => {
    const res = await app.request(`${BASE}/assets/x.css`, { headers: host });
    assert.equal(res.status, 200);
  });
  await t.step("rejects a short token at setup", () => {
    assert.throws(() => tokenAuth({ token: "short" }), TypeError);
  });
});

Deno.test("tokenAuth() accepts each access token once", async (t) => {
  const tokens = new AccessTokens();
  const app = new Hono();
  app.use(tokenAuth({ token: tokens, title: "Test GUI" }));
  app.get("/", (c) => c.text("shell"));
  const host = { host: "127.0.0.1:8080" };
  const open = (token: string, cookie?: string) =>
    app.request(`${BASE}/?token=${token}`, { headers: cookie ? { ...host, cookie } : host });
  const first = tokens.current!;
  let cookie = "";

  await t.step("the first use buys a cookie", async () => {
    const res = await open(first);
    assert.equal(res.status, 303);
    cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
    assert.match(cookie, /^jim_gui_8080=/);
  });
  await t.step("a second use of the same URL is refused, with no cookie", async () => {
    const res = await open(first);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.match(await res.text(), /already used: each URL works once/);
  });
  await t.step("the browser that used it is just sent on to the page", async () => {
    const res = await open(first, cookie);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("set-cookie"), null);
  });
  await t.step("a fresh token works once, with its own session", async () => {
    const fresh = tokens.issue();
    assert.notEqual(fresh, first);
    const res = await open(fresh);
    assert.equal(res.status, 303);
    const second = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
    assert.notEqual(second, cookie);
    for (const c of [cookie, second]) {
      const page = await app.request(`${BASE}/`, { headers: { ...host, cookie: c } });
      assert.equal(await page.text(), "shell");
    }
    assert.equal((await open(fresh)).status, 401);
  });
  await t.step("issuing a token kills the unused one", async () => {
    const unused = tokens.issue();
    const newer = tokens.issue();
    assert.equal((await open(unused)).status, 401);
    assert.equal((await open(newer)).status, 303);
  });
  await t.step(`only the last ${MAX_GUI_SESSIONS} sessions are kept`, async () => {
    for (let i = 0; i < MAX_GUI_SESSIONS; i++) {
      assert.equal((await open(tokens.issue())).status, 303);
    }
    const page = await app.request(`${BASE}/`, { headers: { ...host, cookie } });
    assert.equal(page.status, 401, "the oldest session was dropped");
  });
});

Deno.test("securityHeaders() sets CSP and friends on every response", async () => {
  const app = new Hono();
  app.use(securityHeaders());
  app.get("/", (c) => c.html("<p>x</p>"));
  app.get("/fails", () => {
    throw new Error("boom");
  });
  app.onError((_error, c) => c.text("failed", 500));
  for (const path of ["/", "/missing", "/fails"]) {
    const res = await app.request(path);
    await res.body?.cancel();
    assert.equal(
      res.headers.get("content-security-policy"),
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; " +
        "object-src 'none'",
      path,
    );
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(res.headers.get("cross-origin-resource-policy"), "same-origin");
    assert.equal(res.headers.get("strict-transport-security"), null, "plain HTTP on loopback");
  }
  assert.ok(
    !Object.values(CONTENT_SECURITY_POLICY).flat().some((s) => s.includes("unsafe")),
    "no unsafe-inline or unsafe-eval",
  );
});

Deno.test("jsonBodyLimit() answers 413 JSON past the limit", async (t) => {
  const app = new Hono();
  app.use(jsonBodyLimit(100));
  app.post("/", async (c) => c.json({ size: (await c.req.text()).length }));

  await t.step("with Content-Length", async () => {
    const ok = await app.request("/", { method: "POST", body: "x".repeat(100) });
    assert.deepEqual(await ok.json(), { size: 100 });
    const big = await app.request("/", { method: "POST", body: "x".repeat(101) });
    assert.equal(big.status, 413);
    assert.match((await big.json()).error, /too large/);
  });
  await t.step("streamed without Content-Length", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(50));
        controller.close();
      },
    });
    const res = await app.request("/", { method: "POST", body });
    assert.equal(res.status, 413);
    await res.body?.cancel();
  });
});
