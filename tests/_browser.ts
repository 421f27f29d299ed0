/**
 * Browser test harness: Debian's chromium driven by playwright-core, one fresh profile per
 * launch, console errors collected, disposable with `await using`.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type Tool, toolPath } from "./_tools.ts";

/** Where Debian installs chromium. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags that keep chromium quiet and offline in a container. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Debian's chromium. Browser tests are registered with `testWithTools([CHROMIUM], …)`
 * (tests/_tools.ts), so a missing chromium fails them under CI=true and skips them aloud
 * elsewhere.
 */
export const CHROMIUM: Tool<"chromium"> = {
  name: "chromium",
  debian: "chromium",
  where: `at ${CHROMIUM_PATH}`,
  locate() {
    try {
      return Deno.statSync(CHROMIUM_PATH).isFile ? CHROMIUM_PATH : undefined;
    } catch {
      return undefined;
    }
  },
};

/** A running browser with one page; dispose it to close everything and delete the profile. */
export interface BrowserHarness extends AsyncDisposable {
  context: BrowserContext;
  /** The first page. */
  page: Page;
  /** Console errors and uncaught page errors seen so far, as text. */
  consoleErrors: string[];
  /** Opens another page in the same profile. */
  newPage(): Promise<Page>;
}

/** Options for {@linkcode launchBrowser}. */
export interface LaunchOptions {
  /** Viewport size; 1280×800 by default. */
  viewport?: { width: number; height: number };
  /**
   * Console messages matching one of these are not counted as errors (e.g. an expected
   * "Failed to load resource: 401" in an access test).
   */
  ignoreConsole?: readonly RegExp[];
}

/**
 * Launches chromium with a fresh temporary profile.
 *
 * @example
 * ```ts
 * await using browser = await launchBrowser();
 * await browser.page.goto("http://127.0.0.1:8080/");
 * ```
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<BrowserHarness> {
  const executablePath = toolPath(CHROMIUM);
  const profile = await Deno.makeTempDir({ prefix: "jim-chromium-" });
  const ignore = options.ignoreConsole ?? [];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ?? { width: 1280, height: 800 },
      timeout: 60_000,
    });
  } catch (err) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw err;
  }
  const consoleErrors: string[] = [];
  context.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (!ignore.some((re) => re.test(text))) consoleErrors.push(text);
  });
  context.on("weberror", (err) => consoleErrors.push(`Uncaught: ${err.error().message}`));
  const page = context.pages()[0] ?? await context.newPage();
  let closed = false;
  return {
    context,
    page,
    consoleErrors,
    newPage: () => context.newPage(),
    async [Symbol.asyncDispose]() {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    },
  };
}

/**
 * Whether a test should rewrite a README screenshot: only when asked (`JIM_SCREENSHOTS=1`) or
 * when it is missing, so that an ordinary test run leaves the work tree clean.
 *
 * @example
 * ```ts
 * import { wantScreenshot } from "./_browser.ts";
 * const shot = new URL("../docs/img/server-gui.png", import.meta.url);
 * if (wantScreenshot(shot)) console.log("will write", shot.pathname);
 * ```
 */
export function wantScreenshot(path: URL): boolean {
  if (Deno.env.get("JIM_SCREENSHOTS")) return true;
  try {
    Deno.statSync(path);
    return false;
  } catch {
    return true;
  }
}
