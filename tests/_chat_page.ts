/**
 * Helpers for driving the chat GUI's page in chromium.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Locator, Page } from "playwright-core";

/**
 * Waits for an input's value. The live stream may show a change before the API call that
 * made it returns.
 */
export async function valueBecomes(field: Locator, value: string, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await field.inputValue()) !== value) {
    if (Date.now() > deadline) {
      assert.fail(
        `${what}: expected ${JSON.stringify(value)}, got ${
          JSON.stringify(await field.inputValue())
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls `check` until it holds, for up to ten seconds. */
export async function until(what: string, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Fills the Connection form and presses Connect. */
export async function connect(
  page: Page,
  user: string,
  password: string,
  host: string,
  port: number,
): Promise<void> {
  await page.getByLabel("User name", { exact: true }).fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Server IP", { exact: true }).fill(host);
  await page.getByLabel("Server port", { exact: true }).fill(String(port));
  await page.getByRole("button", { name: "Connect", exact: true }).click();
}

/** Waits until the header says `user` is connected and the form has folded away. */
export async function connected(page: Page, user: string): Promise<void> {
  await page.locator('[data-param="phase"]').getByText("Connected", { exact: true }).waitFor();
  await page.locator('[data-param="user"]').getByText(user, { exact: true }).waitFor();
  await page.locator("#connection-error").waitFor({ state: "detached" });
}

/** A contact's entry in the list. */
export const contact = (page: Page, login: string): Locator =>
  page.locator(`button[data-contact="${login}"]`);

/** Messages whose text contains `text`. */
export const messageText = (page: Page, text: string): Locator =>
  page.locator(".msg .msg-text").filter({ hasText: text });

/** Types a message (Shift+Enter between lines) and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator("#message-input");
  await input.click();
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (i > 0) await input.press("Shift+Enter");
    await input.pressSequentially(line);
  }
  await input.press("Enter");
}

/** Opens the Service info drawer if it is closed and returns its log. */
export async function serviceLog(page: Page): Promise<Locator> {
  const toggle = page.locator("#service-toggle");
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  return page.getByRole("log", { name: "Service info" });
}

/** Closes the Service info drawer if it is open. */
export async function closeServiceLog(page: Page): Promise<void> {
  const toggle = page.locator("#service-toggle");
  // The drawer covers the header's right end: its own Close button closes it.
  if ((await toggle.getAttribute("aria-expanded")) === "true") {
    await page.locator("#service-info .drawer-close").click();
  }
}

/** The id and data-contact of the focused element. */
export function focused(page: Page): Promise<{ id: string; contact: string | null }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return { id: el?.id ?? "", contact: el?.dataset.contact ?? null };
  });
}
