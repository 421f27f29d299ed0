/**
 * Input checks of the admin GUI, run in the browser for inline errors and again by the routes.
 *
 * @module
 */
// login_name.ts, not protocol/mod.ts: the browser bundle needs only the name rules, not the
// confusables table that mod.ts also re-exports.
import { loginProblem as nameProblem } from "../../protocol/login_name.ts";
import { MAX_PASSWORD_LENGTH } from "../../protocol/limits.ts";

/** Longest password the GUI accepts: the store's, in UTF-16 units. */
export { MAX_PASSWORD_LENGTH };

/**
 * Returns why `login` cannot be a new client's name, or null if it can: the protocol's
 * name rules (`loginProblem` of protocol/login_name.ts). Whether it is taken, or looks like
 * a taken one, only the server can say.
 *
 * @example
 * ```ts
 * loginProblem(""); // "Login is required"
 * loginProblem("alice"); // null
 * loginProblem("аlice"); // "Invalid login: mixes Latin and Cyrillic"
 * ```
 */
export function loginProblem(login: string): string | null {
  if (login.length === 0) return "Login is required";
  return nameProblem(login);
}

/**
 * Returns why `password` cannot be used, or null if it can.
 *
 * @example
 * ```ts
 * passwordProblem(""); // "Password is required"
 * ```
 */
export function passwordProblem(password: string): string | null {
  if (password.length === 0) return "Password is required";
  if (password.length > MAX_PASSWORD_LENGTH) {
    return `Password is too long: at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) {
    return "Password has bad characters: no control characters";
  }
  return null;
}

/**
 * Returns why `host` cannot be listened on, or null. Accepts IPv4, bracket-less IPv6 and
 * host names.
 *
 * @example
 * ```ts
 * hostProblem("127.0.0.1"); // null
 * ```
 */
export function hostProblem(host: string): string | null {
  if (host.length === 0) return "Host is required";
  if (host.length > 253) return "Bad address: host is too long";
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) return "Bad address: host has bad characters";
  return null;
}

/**
 * Returns why `port` is not a TCP port number (0 to 65535), or null.
 *
 * @example
 * ```ts
 * portProblem("7777"); // null
 * ```
 */
export function portProblem(port: string | number): string | null {
  const text = String(port).trim();
  if (text === "") return "Port is required";
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    return "Bad address: port must be a number from 0 to 65535";
  }
  return null;
}
