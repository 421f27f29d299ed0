/** Test support: node:assert plus a rejects() that hands back the error for more checks. */
import assert from "node:assert/strict";

/**
 * Awaits `fn()`, asserts it rejects with an instance of `type` whose message includes
 * `includes`, and returns the error.
 */
export async function rejectsWith<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, "expected a rejection, got a resolution");
  assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
  if (includes !== undefined) {
    assert.ok(
      error.message.includes(includes),
      `expected message to include ${JSON.stringify(includes)}, got ${
        JSON.stringify(error.message)
      }`,
    );
  }
  return error;
}

export { assert };

/** Polls `condition` every 10 ms until it holds; fails after `timeout` ms with `what`. */
export async function waitFor(
  condition: () => boolean,
  what = "condition",
  timeout = 5000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A fresh temporary directory (as a string path) that `await using` deletes. */
export async function tempDir(prefix = "jim-client-test-"): Promise<string & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return Object.assign(path, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  }) as string & AsyncDisposable;
}
