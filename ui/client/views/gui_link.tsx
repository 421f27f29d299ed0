import type { LiveStatus } from "../../live_client.ts";

/**
 * The state of the browser's own link to the GUI (its live stream), told apart from the chat
 * server's: "GUI connection lost" means this page cannot hear the GUI, whatever the chat
 * server does.
 *
 * @example
 * ```tsx
 * <GuiLink live="open" seen />
 * ```
 */
export function GuiLink({ live, seen }: { live: LiveStatus; seen: boolean }) {
  const lost = seen && live !== "open";
  const text = live === "open" ? "GUI live" : lost ? "GUI connection lost" : "GUI connecting…";
  return (
    <span
      class="live-status"
      data-status={live}
      role="status"
      title={lost ? "This page cannot reach the chat GUI; it retries by itself" : undefined}
    >
      {text}
    </span>
  );
}
