/**
 * Server-side parts both local GUIs share: access control (token cookie, Host and Origin
 * checks, security headers, body limits), the Hono app skeleton with its one error handler,
 * and the live-update hub behind the Server-Sent Events stream. Browser-side parts live in
 * `components/`, `live_client.ts` and `api_client.ts` and reach the page through the bundle.
 *
 * @example
 * ```ts
 * import { createGuiApp, LiveHub, newAccessToken } from "./mod.ts";
 * const token = newAccessToken();
 * const live = new LiveHub<unknown>({ capacity: 500 });
 * const app = createGuiApp({ token, title: "JIM", script: "admin.js", port: () => 8080 });
 * ```
 *
 * @module
 */
export * from "./access.ts";
export * from "./app.ts";
export * from "./live_hub.ts";
