/**
 * JIM response codes. The seed answered most failures with 400; this project uses the precise
 * codes of the JIM family while keeping the seed's error texts, which seed clients display.
 *
 * @example
 * ```ts
 * import { Status } from "./status.ts";
 * const reply = { response: Status.GONE, error: "Client not online: bob" };
 * ```
 */
export const Status = {
  /** Basic notice (JIM 100). */
  NOTICE: 100,
  /** Important notice (JIM 101). */
  IMPORTANT: 101,
  OK: 200,
  CREATED: 201,
  /** Accepted: a list follows (get_contacts) or is carried inline (get_users). */
  ACCEPTED: 202,
  BAD_REQUEST: 400,
  /** Authentication required; carries a challenge. */
  UNAUTHORIZED: 401,
  /** Wrong credentials, or a mechanism the server or user does not allow. */
  AUTH_FAILED: 402,
  /** Forbidden, e.g. too many failed logins. */
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** Recipient is not online. */
  GONE: 410,
  /** Request too large or too frequent. */
  TOO_LARGE: 413,
  SERVER_ERROR: 500,
  /** Server is over capacity. */
  UNAVAILABLE: 503,
} as const;

/** Any JIM status code defined by {@linkcode Status}. */
export type StatusCode = typeof Status[keyof typeof Status];
