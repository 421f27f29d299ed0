/**
 * Browser-side JSON helper for the GUIs' `/api/*` routes.
 *
 * @module
 */

/** A failed API call, carrying the HTTP status and the server's error text. */
export class ApiError extends Error {
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** The parsed error body, e.g. `{ error, field }`, when there was one. */
  readonly body: Record<string, unknown> | undefined;

  constructor(
    status: number,
    message: string,
    options?: ErrorOptions & { body?: Record<string, unknown> },
  ) {
    super(message, options);
    this.name = "ApiError";
    this.status = status;
    this.body = options?.body;
  }
}

/** Options for {@linkcode apiJson}. */
export interface ApiOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/**
 * Calls a JSON API route and returns the parsed reply; throws {@linkcode ApiError} with the
 * server's `error` text on a non-2xx answer.
 *
 * @example
 * ```ts
 * const state = await apiJson<{ running: boolean }>("/api/state");
 * await apiJson("/api/server/stop", { method: "POST" });
 * ```
 */
export async function apiJson<T = unknown>(path: string, options: ApiOptions = {}): Promise<T> {
  const init: RequestInit = {
    method: options.method ?? "GET",
    headers: { accept: "application/json" },
    credentials: "same-origin",
    signal: options.signal,
  };
  if (options.body !== undefined) {
    init.headers = { ...init.headers, "content-type": "application/json" };
    init.body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ApiError(0, "Cannot reach the GUI: is it still running?", { cause: err });
  }
  const text = await res.text();
  let value: unknown = undefined;
  try {
    value = text ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON answers (a proxy's error page) fall through to the status text below.
  }
  if (!res.ok) {
    const error = typeof value === "object" && value !== null && "error" in value
      ? String((value as { error: unknown }).error)
      : `${res.status} ${res.statusText}`.trim();
    const body = typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
    throw new ApiError(res.status, error, { body });
  }
  return value as T;
}
