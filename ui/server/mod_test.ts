import assert from "node:assert/strict";
import { SqliteStorage } from "../../server/mod.ts";
import { startAdminGui } from "./mod.ts";
import type { AdminState } from "./_types.ts";

async function getCookie(url: string): Promise<string> {
  const res = await fetch(url, { redirect: "manual" });
  await res.body?.cancel();
  assert.equal(res.status, 303);
  return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}

/** Sends one GET over a raw socket and returns the status line and headers. */
async function rawGet(port: number, path: string, headers: Record<string, string>) {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  await conn.write(new TextEncoder().encode(`${lines.join("\r\n")}\r\nconnection: close\r\n\r\n`));
  let text = "";
  const buf = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("startAdminGui() serves the GUI on 127.0.0.1 and runs the JIM server", async (t) => {
  await using storage = SqliteStorage.open(":memory:");
  const warnings: string[] = [];
  await using gui = await startAdminGui({
    storage,
    jim: { host: "127.0.0.1", port: 0 },
    guiPort: 0,
    iterations: 4096,
    warn: (m) => warnings.push(m),
  });

  await t.step("prints a URL with a fresh token on loopback, without warnings", () => {
    assert.match(gui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(gui.url, `${gui.origin}/?token=${gui.token}`);
    assert.deepEqual(warnings, []);
  });
  await t.step("the token buys a cookie that opens the API over real HTTP", async () => {
    const cookie = await getCookie(gui.url);
    const res = await fetch(`${gui.origin}/api/state`, { headers: { cookie } });
    const state = await res.json() as AdminState;
    assert.equal(state.server.running, true);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: state.server.port });
    conn.close();
  });
  await t.step("without the cookie the page explains where the URL is", async () => {
    const res = await fetch(`${gui.origin}/`);
    assert.equal(res.status, 401);
    assert.match(await res.text(), /URL printed in the terminal/);
  });
  await t.step("a rebinding Host is refused over real HTTP", async () => {
    // fetch() always sends the URL's host, so speak HTTP/1.1 over a socket like a browser
    // whose DNS was rebound would.
    const cookie = await getCookie(gui.freshUrl());
    const head = await rawGet(gui.port, "/api/state", { host: "evil.example:80", cookie });
    assert.match(head, /^HTTP\/1\.1 403/);
    const ok = await rawGet(gui.port, "/api/state", { host: `localhost:${gui.port}`, cookie });
    assert.match(ok, /^HTTP\/1\.1 200/, "localhost with the GUI's port is its own name");
  });
  await t.step("the page loads the embedded bundle under the CSP", async () => {
    const cookie = await getCookie(gui.freshUrl());
    const page = await fetch(`${gui.origin}/`, { headers: { cookie } });
    const html = await page.text();
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const src = /src="(\/assets\/admin\.js\?v=[0-9a-f]+)"/.exec(html)?.[1];
    assert.ok(src, "the shell names the admin bundle");
    const js = await fetch(`${gui.origin}${src}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.ok((await js.text()).length > 1000);
  });
});

Deno.test("startAdminGui() stays up when the JIM port is taken and says why", async () => {
  await using storage = SqliteStorage.open(":memory:");
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const warnings: string[] = [];
  await using gui = await startAdminGui({
    storage,
    jim: { host: "127.0.0.1", port },
    guiPort: 0,
    warn: (m) => warnings.push(m),
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /port in use/);
  const status = gui.controller.status();
  assert.equal(status.running, false);
  assert.equal(status.error, `Cannot start server: port in use (127.0.0.1:${port})`);
});

Deno.test("startAdminGui() warns loudly when the GUI is not on loopback", async () => {
  await using storage = SqliteStorage.open(":memory:");
  const warnings: string[] = [];
  await using gui = await startAdminGui({
    storage,
    jim: { host: "127.0.0.1", port: 0 },
    startJim: false,
    guiHost: "0.0.0.0",
    guiPort: 0,
    warn: (m) => warnings.push(m),
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^WARNING: the admin GUI listens on 0\.0\.0\.0/);
  // Still reached through loopback here; the token and Host checks stay on.
  const res = await fetch(`${gui.origin}/api/state`);
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("startAdminGui() stops with its signal", async () => {
  await using storage = SqliteStorage.open(":memory:");
  const abort = new AbortController();
  const gui = await startAdminGui({
    storage,
    jim: { host: "127.0.0.1", port: 0 },
    guiPort: 0,
    signal: abort.signal,
    warn: () => {},
  });
  const jimPort = gui.controller.status().port;
  abort.abort();
  await gui.finished;
  await gui.close();
  await assert.rejects(fetch(gui.origin));
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: jimPort }));
});
