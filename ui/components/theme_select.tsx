import { useState } from "preact/hooks";
import { applyTheme, storedTheme, type ThemeChoice } from "../theme.ts";

/**
 * The theme picker of both GUIs: System (follows `prefers-color-scheme`), Light or Dark;
 * the choice is kept across reloads.
 *
 * @example
 * ```tsx
 * <ThemeSelect />
 * ```
 */
export function ThemeSelect() {
  const [choice, setChoice] = useState<ThemeChoice>(storedTheme);
  return (
    <label class="theme-select">
      <span class="sr-only">Theme</span>
      <select
        id="theme"
        aria-label="Theme"
        value={choice}
        onChange={(ev) => {
          const next = (ev.target as HTMLSelectElement).value as ThemeChoice;
          setChoice(next);
          applyTheme(next);
        }}
      >
        <option value="system">Auto theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
