/**
 * The Hono skeleton both GUIs share: access control, security headers, the embedded browser
 * bundle and stylesheet, the page shell and one error handler that maps domain errors to HTTP.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { JimError } from "../protocol/mod.ts";
import {
  type AccessTokens,
  hostGuard,
  jsonBodyLimit,
  originGuard,
  type PortSource,
  securityHeaders,
  tokenAuth,
} from "./access.ts";
import { ASSETS, type EmbeddedAsset } from "./dist/assets.gen.ts";
import { shellPage } from "./_pages.tsx";

/** Options for {@linkcode createGuiApp}. */
export interface GuiAppOptions {
  /** The GUI's one-time access tokens, or the first token printed in its URL. */
  token: string | AccessTokens;
  /** Page title, also shown on the gate page. */
  title: string;
  /** The browser bundle this GUI loads, a key of the embedded assets, e.g. "admin.js". */
  script: string;
  /** The GUI's port, for the Host and Origin checks. */
  port?: PortSource;
  /** Extra hostnames to accept besides localhost and 127.0.0.1. */
  hosts?: readonly string[];
  /** Largest JSON body in bytes (16 KiB by default). */
  bodyLimit?: number;
  /** Embedded assets; tests may pass their own. Defaults to the generated bundle. */
  assets?: Readonly<Record<string, EmbeddedAsset>>;
}

/** Maps a JIM error code to the HTTP status the GUI answers with. */
export function httpStatusForJimCode(code: number): 400 | 401 | 403 | 404 | 409 | 413 | 500 {
  switch (code) {
    case 400:
      return 400;
    case 401:
    case 402:
      return 401;
    case 403:
      return 403;
    case 404:
      return 404;
    case 409:
      return 409;
    case 413:
      return 413;
    default:
      return 500;
  }
}

/**
 * The one error handler of a GUI app: HTTPException passes through, JimError maps by its
 * code, anything else is a 500 with a generic message so internals never reach the page.
 */
export function guiErrorHandler(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    return c.json({ error: err.message || "Request failed" }, err.status);
  }
  if (err instanceof JimError) {
    const status = httpStatusForJimCode(err.code);
    if (status !== 500) {
      // Errors aimed at one form input (e.g. AdminError) name it, for inline display.
      const field = (err as { field?: unknown }).field;
      const body = typeof field === "string"
        ? { error: err.message, code: err.code, field }
        : { error: err.message, code: err.code };
      return c.json(body, status);
    }
  }
  console.error("GUI request failed:", err);
  return c.json({ error: "Internal server error" }, 500);
}

/**
 * The embedded asset called `name`, or undefined. Own properties only: a plain lookup would
 * find "constructor", "toString" or "__proto__" on Object.prototype and serve them.
 *
 * @example
 * ```ts
 * import { ASSETS } from "./dist/assets.gen.ts";
 * findAsset(ASSETS, "constructor"); // undefined
 * ```
 */
export function findAsset(
  assets: Readonly<Record<string, EmbeddedAsset>>,
  name: string,
): EmbeddedAsset | undefined {
  return Object.hasOwn(assets, name) ? assets[name] : undefined;
}

/**
 * Reads a JSON object body. Requires `Content-Type: application/json` (a cross-site form
 * cannot send it without a preflight) and answers 415 or 400 otherwise.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.post("/api/echo", async (c) => c.json(await readJsonObject(c)));
 * ```
 */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HTTPException(415, { message: "Unsupported media type: send application/json" });
  }
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw new HTTPException(400, { message: "Invalid JSON body" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HTTPException(400, { message: "Invalid JSON body: expected an object" });
  }
  return value as Record<string, unknown>;
}

/**
 * Creates a GUI app with the shared middleware, asset routes and page shell. Add API routes
 * under `/api/` to the returned app.
 *
 * @example
 * ```ts
 * import { newAccessToken } from "./access.ts";
 * const app = createGuiApp({ token: newAccessToken(), title: "JIM server", script: "admin.js" });
 * app.get("/api/ping", (c) => c.json({ ok: true }));
 * ```
 */
export function createGuiApp(options: GuiAppOptions): Hono {
  const assets = options.assets ?? ASSETS;
  const app = new Hono();
  app.use(securityHeaders());
  app.use(hostGuard({ port: options.port, hosts: options.hosts }));
  app.use(originGuard({ port: options.port, hosts: options.hosts }));
  app.use(tokenAuth({ token: options.token, title: options.title }));
  app.use("/api/*", jsonBodyLimit(options.bodyLimit));
  app.use("/api/*", async function noStore(c, next) {
    await next();
    c.res.headers.set("Cache-Control", "no-store");
  });

  app.get("/assets/:name", (c) => {
    const asset = findAsset(assets, c.req.param("name"));
    if (!asset) return c.text("Not found", 404);
    c.header("Content-Type", asset.type);
    // Versioned URLs (?v=hash) may be cached; the shell always names the current hash.
    c.header(
      "Cache-Control",
      c.req.query("v") ? "public, max-age=31536000, immutable" : "no-cache",
    );
    return c.body(asset.body);
  });
  app.get("/", (c) => {
    c.header("Cache-Control", "no-store");
    return c.html(shellPage(options.title, options.script, {
      styleHash: findAsset(assets, "styles.css")?.hash,
      scriptHash: findAsset(assets, options.script)?.hash,
    }));
  });
  app.notFound((c) => c.json({ error: `Not found: ${c.req.method} ${c.req.path}` }, 404));
  app.onError(guiErrorHandler);
  return app;
}
