/**
 * The admin GUI's Hono app: the shared skeleton plus the `/api/*` routes of issue 5.
 *
 * @module
 */
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  type AccessTokens,
  createGuiApp,
  type LiveHub,
  type PortSource,
  readJsonObject,
} from "../mod.ts";
import type { AdminController } from "./controller.ts";
import type { AdminState, ServiceReply } from "./_types.ts";
import type { EmbeddedAsset } from "../dist/assets.gen.ts";

/** Options for {@linkcode createAdminApp}. */
export interface AdminAppOptions {
  token: string | AccessTokens;
  controller: AdminController;
  hub: LiveHub<unknown>;
  /** The GUI's port, for the Host and Origin checks. */
  port?: PortSource;
  /** Extra hostnames besides loopback (an explicit non-loopback `--gui-host`). */
  hosts?: readonly string[];
  /** Embedded assets; defaults to the generated bundle. */
  assets?: Readonly<Record<string, EmbeddedAsset>>;
}

/**
 * Builds the admin app. Routes:
 * `GET /api/state`, `POST /api/server/start {host, port}`, `POST /api/server/stop`,
 * `GET /api/clients`, `POST /api/clients {login, password, legacy}`,
 * `DELETE /api/clients/:login`, `POST /api/clients/:login/password {password}`,
 * `GET /api/rooms`, `DELETE /api/rooms/:name` (issue 13; the name URL-encoded, `#` included),
 * `GET /api/service[?after=ID]`, `POST /api/service/settings {showBodies}`,
 * `POST /api/service/clear`, `GET /api/service/export` (JSON lines),
 * `GET /api/events` (Server-Sent Events).
 *
 * @example
 * ```ts
 * const app = createAdminApp({ token, controller, hub, port: 8080 });
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, app.fetch);
 * ```
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { controller, hub } = options;
  const app = createGuiApp({
    token: options.token,
    title: "JIM server",
    script: "admin.js",
    port: options.port,
    hosts: options.hosts,
    assets: options.assets,
  });

  app.get("/api/state", async (c) => {
    const state: AdminState = {
      server: controller.status(),
      clients: await controller.clients(),
    };
    return c.json(state);
  });
  app.post("/api/server/start", async (c) => {
    const body = await readJsonObject(c);
    return c.json(await controller.start({ host: body.host, port: body.port }));
  });
  app.post("/api/server/stop", async (c) => c.json(await controller.stop()));
  app.get("/api/clients", async (c) => c.json(await controller.clients()));
  app.post("/api/clients", async (c) => {
    const row = await controller.addClient(await readJsonObject(c));
    return c.json(row, 201);
  });
  app.delete("/api/clients/:login", async (c) => {
    await controller.removeClient(c.req.param("login"));
    return c.json({ ok: true });
  });
  app.post("/api/clients/:login/password", async (c) => {
    await controller.resetPassword(c.req.param("login"), await readJsonObject(c));
    return c.json({ ok: true });
  });
  // Rooms (issue 13).
  app.get("/api/rooms", async (c) => c.json(await controller.rooms()));
  app.delete("/api/rooms/:name", async (c) => {
    await controller.deleteRoom(c.req.param("name"));
    return c.json({ ok: true });
  });
  app.get("/api/service", (c) => {
    const after = c.req.query("after");
    const from = after !== undefined && /^\d{1,15}$/.test(after) ? Number(after) : 0;
    if (after !== undefined && from === 0 && after !== "0") {
      throw new HTTPException(400, { message: "Invalid after: must be an entry id" });
    }
    const log = controller.serviceLog;
    const reply: ServiceReply = {
      entries: log.entries(from),
      showBodies: log.showBodies,
      limit: log.limit,
    };
    return c.json(reply);
  });
  app.post("/api/service/settings", async (c) => {
    const { showBodies } = await readJsonObject(c);
    if (typeof showBodies !== "boolean") {
      throw new HTTPException(400, { message: "Invalid field: showBodies must be true or false" });
    }
    controller.setShowBodies(showBodies);
    return c.json({ showBodies });
  });
  app.post("/api/service/clear", (c) => {
    controller.clearServiceLog();
    return c.json({ ok: true });
  });
  app.get("/api/service/export", (c) => {
    // What the page would show: texts only while they are turned on.
    const lines = controller.serviceLog.entries().map((e) => JSON.stringify(e) + "\n");
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    c.header("Content-Type", "application/x-ndjson; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="jim-service-info-${stamp}.jsonl"`);
    return c.body(lines.join(""));
  });
  app.get("/api/events", (c) => hub.stream(c));
  return app;
}
