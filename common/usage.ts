/**
 * Command-line mistakes and the parsing of flag and environment values that every jim program
 * shares: `jim-server`, `jim-client` and both `gui` commands. Each bad value becomes one
 * {@linkcode UsageError} (exit code 2) in one wording: `Invalid SOURCE: expected WHAT, got
 * "RAW"`, where SOURCE names the flag or the variable the value came from.
 *
 * @module
 */

/** A mistake in how a program was called: exit code 2. */
export class UsageError extends Error {
  /** Makes a usage error; `message` is one line in sentence case. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * The usage error for a value that does not parse.
 *
 * @example
 * ```ts
 * invalidValue("--port", "x", "a port from 0 to 65535").message;
 * // 'Invalid --port: expected a port from 0 to 65535, got "x"'
 * ```
 */
export function invalidValue(source: string, raw: string, expected: string): UsageError {
  return new UsageError(`Invalid ${source}: expected ${expected}, got ${JSON.stringify(raw)}`);
}

/** Options for {@linkcode parsePort}. */
export interface PortOptions {
  /** The lowest port allowed: 0 ("any free port") for a listener, 1 for a server to dial. */
  min?: 0 | 1;
}

/**
 * Parses a TCP port: decimal digits only (no sign, exponent or hex), surrounding blanks
 * ignored, from `min` (0 by default) to 65535.
 *
 * @example
 * ```ts
 * parsePort(" 8080 ", "--gui-port"); // 8080
 * parsePort("0", "JIM_PORT", { min: 1 }); // throws UsageError: Invalid JIM_PORT: …
 * ```
 * @throws {UsageError} naming `source`.
 */
export function parsePort(raw: string, source: string, options: PortOptions = {}): number {
  const min = options.min ?? 0;
  const text = raw.trim();
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < min || port > 65535) {
    throw invalidValue(source, raw, `a port from ${min} to 65535`);
  }
  return port;
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/**
 * Parses a boolean environment value: 1/0, true/false, yes/no or on/off, in any case, blanks
 * ignored.
 *
 * @example
 * ```ts
 * parseBoolean("Yes", "JIM_TLS"); // true
 * parseBoolean("maybe", "JIM_TLS"); // throws UsageError: Invalid JIM_TLS: …
 * ```
 * @throws {UsageError} naming `source`.
 */
export function parseBoolean(raw: string, source: string): boolean {
  const text = raw.trim();
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  throw invalidValue(source, raw, "1/0, true/false, yes/no or on/off");
}

/** Options for {@linkcode parseNumber}. */
export interface NumberOptions {
  /** Only whole numbers. */
  integer?: boolean;
  /** The smallest value allowed; 0 by default. */
  min?: number;
  /** The largest value allowed; none by default. */
  max?: number;
}

/**
 * Parses a finite decimal number within bounds (0 or more by default).
 *
 * @example
 * ```ts
 * parseNumber("2.5", "--rate-limit"); // 2.5
 * parseNumber("4096", "--iterations", { integer: true, min: 4096 }); // 4096
 * ```
 * @throws {UsageError} naming `source`.
 */
export function parseNumber(raw: string, source: string, options: NumberOptions = {}): number {
  const min = options.min ?? 0;
  const text = raw.trim();
  const value = Number(text);
  const ok = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) && Number.isFinite(value) &&
    value >= min && (options.max === undefined || value <= options.max) &&
    (!options.integer || Number.isInteger(value));
  if (!ok) {
    const kind = options.integer ? "a whole number" : "a number";
    const range = options.max === undefined ? `of ${min} or more` : `from ${min} to ${options.max}`;
    throw invalidValue(source, raw, `${kind} ${range}`);
  }
  return value;
}

/** An environment: a variable's value, or undefined when it is not set. */
export type Env = Record<string, string | undefined>;

/**
 * A variable's value, with an empty or blank one counted as not set (as `JIM_PORT= cmd`
 * means "the default").
 *
 * @example
 * ```ts
 * envValue({ JIM_HOST: "" }, "JIM_HOST"); // undefined
 * ```
 */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value;
}
