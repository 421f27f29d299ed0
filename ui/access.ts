/**
 * Access control for the local GUIs: Host and Origin checks, the access token traded for a
 * cookie, security headers and a JSON body size limit. Each factory returns a named Hono
 * middleware so stack traces and `app.routes` stay readable.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { constantTimeEqual } from "../protocol/mod.ts";
import { gatePage } from "./_pages.tsx";

export { gatePage };

/** The hostnames a local GUI answers to unless told otherwise. */
export const LOOPBACK_HOSTNAMES: readonly string[] = ["127.0.0.1", "localhost"];

/** Default largest JSON request body, in bytes. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;

/**
 * The GUI's own port. A function lets the app be created before `Deno.serve` has picked a
 * port (port 0 in tests); `undefined` accepts any port.
 */
export type PortSource = number | (() => number | undefined) | undefined;

/** Options shared by {@linkcode hostGuard} and {@linkcode originGuard}. */
export interface LocalOriginOptions {
  /** The port the GUI listens on. */
  port?: PortSource;
  /** Extra hostnames to accept, e.g. the explicit `--gui-host` when it is not loopback. */
  hosts?: readonly string[];
}

/**
 * Returns a random access token: 32 bytes from `crypto.getRandomValues`, base64url encoded.
 *
 * @example
 * ```ts
 * const token = newAccessToken();
 * console.log(`http://127.0.0.1:8080/?token=${token}`);
 * ```
 */
export function newAccessToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Tells whether a hostname is a loopback address that only this machine can reach.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("0.0.0.0"); // false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function resolvePort(port: PortSource): number | undefined {
  return typeof port === "function" ? port() : port;
}

function allowedNames(hosts: readonly string[] | undefined): Set<string> {
  return new Set([...LOOPBACK_HOSTNAMES, ...(hosts ?? [])].map((h) => h.toLowerCase()));
}

/** Splits a Host header value into hostname and port; `null` when it is malformed. */
function parseHostHeader(value: string): { hostname: string; port: number | undefined } | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m || m[1] === undefined) return null;
  return { hostname: m[1].toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

function forbidden(c: Context, message: string): Response {
  return c.json({ error: message }, 403);
}

/**
 * Rejects requests whose Host header is not the GUI's own (localhost or 127.0.0.1 with its
 * port) with 403. A page on an attacker's domain that rebinds its DNS name to 127.0.0.1 still
 * sends its own name as Host, so this stops DNS rebinding.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.use(hostGuard({ port: 8080 }));
 * ```
 */
export function hostGuard(options: LocalOriginOptions = {}): MiddlewareHandler {
  const names = allowedNames(options.hosts);
  return async function hostGuard(c, next) {
    const parsed = parseHostHeader(c.req.header("host") ?? "");
    const port = resolvePort(options.port);
    const ok = parsed !== null && names.has(parsed.hostname) &&
      (port === undefined || (parsed.port ?? 80) === port);
    if (!ok) return forbidden(c, "Forbidden: unexpected Host header");
    await next();
  };
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * Rejects state-changing requests (POST, PUT, PATCH, DELETE) whose Origin header is not the
 * GUI's own origin with 403, so other sites cannot drive the GUI from a victim's browser.
 * Browsers always send Origin on such requests, so a missing Origin is rejected too.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.use(originGuard({ port: 8080 }));
 * ```
 */
export function originGuard(options: LocalOriginOptions = {}): MiddlewareHandler {
  const names = allowedNames(options.hosts);
  return async function originGuard(c, next) {
    if (!STATE_CHANGING.has(c.req.method.toUpperCase())) return await next();
    const origin = c.req.header("origin");
    let ok = false;
    if (origin) {
      try {
        const url = new URL(origin);
        const port = resolvePort(options.port);
        ok = url.protocol === "http:" && url.origin === origin &&
          names.has(url.hostname.toLowerCase()) &&
          (port === undefined || Number(url.port || "80") === port);
      } catch {
        ok = false;
      }
    }
    if (!ok) return forbidden(c, "Forbidden: cross-origin request");
    await next();
  };
}

/** Most browser sessions one GUI keeps at once; the oldest is dropped past this. */
export const MAX_GUI_SESSIONS = 16;

/**
 * The GUI's one-time access tokens and the sessions they bought. At most one token is
 * outstanding: {@linkcode AccessTokens.issue} replaces an unused one, and
 * {@linkcode AccessTokens.redeem} kills the token it accepts. Each redemption makes its own
 * session value for the cookie, so the URL token never travels back in a header.
 *
 * @example
 * ```ts
 * const tokens = new AccessTokens();
 * const first = tokens.current!;
 * tokens.redeem(first); // a session value
 * tokens.redeem(first); // undefined: used up
 * const fresh = tokens.issue(); // for the next browser
 * ```
 */
export class AccessTokens {
  #current: string | undefined;
  readonly #sessions: string[] = [];

  /** Starts with `first` (at least 16 characters), or a random token. */
  constructor(first: string = newAccessToken()) {
    if (first.length < 16) throw new TypeError("Access token is too short: need 16+ chars");
    this.#current = first;
  }

  /** The token that works now, or undefined when it has been used and none issued since. */
  get current(): string | undefined {
    return this.#current;
  }

  /** Makes a new token, which replaces any unused one, and returns it. */
  issue(): string {
    this.#current = newAccessToken();
    return this.#current;
  }

  /** Trades the current token for a new session value; undefined for any other string. */
  redeem(offered: string): string | undefined {
    const current = this.#current;
    if (current === undefined || !constantTimeEqual(offered, current)) return undefined;
    this.#current = undefined;
    const session = newAccessToken();
    this.#sessions.push(session);
    if (this.#sessions.length > MAX_GUI_SESSIONS) this.#sessions.shift();
    return session;
  }

  /** Whether `value` is the cookie of a live session (constant time per session). */
  hasSession(value: string): boolean {
    let found = false;
    for (const session of this.#sessions) found = constantTimeEqual(value, session) || found;
    return found;
  }
}

/** Options for {@linkcode tokenAuth}. */
export interface TokenAuthOptions {
  /** The one-time access tokens, or the first token printed in the GUI's URL. */
  token: string | AccessTokens;
  /**
   * Cookie name. Cookies are shared by all ports of one host, so the default name carries the
   * port from the Host header: two GUIs on one machine keep separate sessions.
   */
  cookieName?: string;
  /** Path prefixes served without the cookie (the static assets of the gate page). */
  publicPrefixes?: readonly string[];
  /** Title used on the gate page. */
  title?: string;
}

/** What the gate page says about a used or wrong token. */
export const USED_TOKEN_MESSAGE =
  "This access token is wrong or was already used: each URL works once. For a fresh URL, " +
  "send the GUI's process SIGUSR1 (the terminal shows the command).";

function cookieNameFor(c: Context, fixed: string | undefined): string {
  if (fixed) return fixed;
  const parsed = parseHostHeader(c.req.header("host") ?? "");
  return `jim_gui_${parsed?.port ?? 80}`;
}

/**
 * Trades a one-time access token for a session cookie and requires that cookie everywhere
 * else.
 *
 * - `GET /?token=…` with the current token (compared in constant time) kills the token, sets
 *   an HttpOnly, SameSite=Strict, Path=/ cookie and redirects (303) to `/`, so the token
 *   leaves the address bar and history. A second use of the same URL is refused (401) unless
 *   the browser already holds a session, which is just sent on to `/`.
 * - Without the cookie, `/api/*` answers 401 JSON and pages answer 401 with a short
 *   "open the URL printed in the terminal" message.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const tokens = new AccessTokens();
 * const app = new Hono();
 * app.use(tokenAuth({ token: tokens }));
 * console.log(`http://127.0.0.1:8080/?token=${tokens.current}`);
 * ```
 */
export function tokenAuth(options: TokenAuthOptions): MiddlewareHandler {
  const tokens = typeof options.token === "string"
    ? new AccessTokens(options.token)
    : options.token;
  const publicPrefixes = options.publicPrefixes ?? ["/assets/"];
  const title = options.title ?? "JIM";
  return async function tokenAuth(c, next) {
    const path = c.req.path;
    if (publicPrefixes.some((p) => path.startsWith(p))) return await next();
    const name = cookieNameFor(c, options.cookieName);
    const cookie = getCookie(c, name);
    const signedIn = cookie !== undefined && tokens.hasSession(cookie);
    const offered = c.req.query("token");
    if (path === "/" && offered !== undefined && c.req.method === "GET") {
      const session = tokens.redeem(offered);
      if (session !== undefined) {
        setCookie(c, name, session, { httpOnly: true, sameSite: "Strict", path: "/" });
        return c.redirect("/", 303);
      }
      if (signedIn) return c.redirect("/", 303);
      return c.html(gatePage(title, USED_TOKEN_MESSAGE), 401);
    }
    if (signedIn) return await next();
    if (path.startsWith("/api/")) {
      return c.json({ error: "Unauthorized: open the URL printed in the terminal" }, 401);
    }
    return c.html(
      gatePage(title, "Open the URL printed in the terminal: it carries the access token."),
      401,
    );
  };
}

/**
 * The Content-Security-Policy every GUI response carries: only the GUI's own scripts, styles
 * and connections, no inline script, no framing, no plugins.
 */
export const CONTENT_SECURITY_POLICY: Readonly<Record<string, readonly string[]>> = Object.freeze({
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  objectSrc: ["'none'"],
});

/**
 * Adds the security headers with `hono/secure-headers`: {@linkcode CONTENT_SECURITY_POLICY},
 * X-Frame-Options DENY, nosniff, no referrer (the token must not leak through Referer), and
 * the library's other defaults (same-origin opener and resource policies, no DNS prefetch).
 * No Strict-Transport-Security: the GUIs speak plain HTTP on loopback, where it means nothing.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.use(securityHeaders());
 * ```
 */
export function securityHeaders(): MiddlewareHandler {
  const inner = secureHeaders({
    contentSecurityPolicy: Object.fromEntries(
      Object.entries(CONTENT_SECURITY_POLICY).map((
        [directive, sources],
      ) => [directive, [...sources]]),
    ),
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    strictTransportSecurity: false,
  });
  return async function securityHeaders(c, next) {
    await inner(c, next);
  };
}

/**
 * Limits POST, PUT and PATCH bodies to `maxSize` bytes (16 KiB by default); larger ones get
 * 413 JSON. Handlers of other methods must not read bodies.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.use("/api/*", jsonBodyLimit());
 * ```
 */
export function jsonBodyLimit(maxSize: number = DEFAULT_BODY_LIMIT): MiddlewareHandler {
  const inner = bodyLimit({
    maxSize,
    onError: (c) => c.json({ error: `Request body too large: limit is ${maxSize} bytes` }, 413),
  });
  return async function jsonBodyLimit(c, next) {
    // Only POST, PUT and PATCH handlers read bodies. Skipping the rest also spares
    // bodyLimit's copy of a body-less DELETE, which would tie the copy to the request signal.
    if (!BODY_METHODS.has(c.req.method.toUpperCase())) return await next();
    return await inner(c, next);
  };
}
