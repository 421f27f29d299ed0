/**
 * Builds the C load generator (loadgen.c) with `cc -O2` into a cache directory, once per
 * version of the source: the binary's name carries a hash of loadgen.c.
 *
 * @module
 */
import { join } from "node:path";

/** The generator's source, beside this file. */
export const LOADGEN_SOURCE: string = new URL("./loadgen.c", import.meta.url).pathname;

/**
 * Where built binaries go: $XDG_CACHE_HOME/jim-bench, else ~/.cache/jim-bench, else a
 * directory under the system's temporary directory.
 */
export function benchCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return join(xdg, "jim-bench");
  if (home) return join(home, ".cache", "jim-bench");
  return join(Deno.env.get("TMPDIR") ?? "/tmp", "jim-bench-cache");
}

async function sourceHash(source: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Returns the path of the built generator, compiling it first when this version of the
 * source has not been built yet; undefined when there is no `cc`.
 *
 * @example
 * ```ts
 * const loadgen = await compileLoadgen(benchCacheDir());
 * if (!loadgen) console.error("no cc: using the Deno load generator");
 * ```
 * @throws {Error} when cc exists but the compilation fails (its messages go to stderr).
 */
export async function compileLoadgen(cacheDir: string): Promise<string | undefined> {
  const source = await Deno.readFile(LOADGEN_SOURCE);
  const binary = join(cacheDir, `loadgen-${await sourceHash(source)}`);
  try {
    if ((await Deno.stat(binary)).isFile) return binary;
  } catch {
    // Not built yet.
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  // Build under a unique name and rename: two benches starting at once never see half a file.
  const partial = `${binary}.${Deno.pid}.tmp`;
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command("cc", {
      args: ["-O2", "-Wall", "-Wextra", "-o", partial, LOADGEN_SOURCE],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!status.success) {
    await Deno.remove(partial).catch(() => {});
    throw new Error(`Cannot compile ${LOADGEN_SOURCE}: cc exited with ${status.code}`);
  }
  await Deno.rename(partial, binary);
  return binary;
}
