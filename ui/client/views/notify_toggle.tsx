import type { NotifyMode } from "../page/attention.ts";

/**
 * Desktop notifications on or off. Turning them on asks the browser's permission; once the
 * browser refused, the button says so and stays off.
 *
 * @example
 * ```tsx
 * <NotifyToggle mode="off" onChange={(on) => page.setNotify(on)} />
 * ```
 */
export function NotifyToggle(props: { mode: NotifyMode; onChange(on: boolean): void }) {
  const { mode } = props;
  if (mode === "unsupported") return null;
  const label = mode === "on"
    ? "Notifications on"
    : mode === "blocked"
    ? "Notifications blocked"
    : "Notifications off";
  return (
    <button
      type="button"
      id="notify-toggle"
      class="tool"
      aria-pressed={mode === "on"}
      disabled={mode === "blocked"}
      title={mode === "blocked"
        ? "The browser blocks notifications for this page: allow them in its site settings"
        : "Desktop notifications for messages you cannot see"}
      onClick={() => props.onChange(mode !== "on")}
    >
      {label}
    </button>
  );
}
