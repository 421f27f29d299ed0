/**
 * Browser side: the GUIs' colour theme. It follows the system's `prefers-color-scheme`
 * unless the user picks light or dark, which is kept in localStorage. The effective theme
 * is set as `data-theme` on the root element, where the stylesheet picks its palette.
 *
 * @module
 */

/** What the user chose. */
export type ThemeChoice = "system" | "light" | "dark";

const KEY = "jim:theme";
const DARK_QUERY = "(prefers-color-scheme: dark)";

/** The stored choice, "system" when none (or storage is unavailable). */
export function storedTheme(): ThemeChoice {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

/** The theme a choice means right now. */
export function effectiveTheme(choice: ThemeChoice): "light" | "dark" {
  if (choice !== "system") return choice;
  return globalThis.matchMedia?.(DARK_QUERY).matches ? "dark" : "light";
}

/**
 * Applies and stores a choice.
 *
 * @example
 * ```ts
 * applyTheme("dark"); // <html data-theme="dark">
 * ```
 */
export function applyTheme(choice: ThemeChoice): void {
  document.documentElement.dataset.theme = effectiveTheme(choice);
  try {
    if (choice === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Storage disabled: the choice lasts for this page.
  }
}

/**
 * Applies the stored choice now and again whenever the system's preference changes while
 * the choice is "system". Returns a function that stops following.
 *
 * @example
 * ```ts
 * const stop = followTheme();
 * ```
 */
export function followTheme(): () => void {
  applyTheme(storedTheme());
  const query = globalThis.matchMedia?.(DARK_QUERY);
  if (!query) return () => {};
  const onChange = () => {
    if (storedTheme() === "system") applyTheme("system");
  };
  query.addEventListener("change", onChange);
  return () => query.removeEventListener("change", onChange);
}
