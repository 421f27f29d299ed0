import { ThemeSelect } from "../../components/mod.ts";
import type { LiveStatus } from "../../live_client.ts";
import type { ChatState } from "../_types.ts";
import type { NotifyMode } from "../page/attention.ts";
import { GuiLink } from "./gui_link.tsx";
import { NotifyToggle } from "./notify_toggle.tsx";
import { ParametersPanel } from "./parameters.tsx";

/** Props of {@linkcode ChatHeader}. */
export interface ChatHeaderProps {
  server: ChatState | null;
  live: LiveStatus;
  liveSeen: boolean;
  notify: NotifyMode;
  drawer: boolean;
  onDisconnect(): void;
  onNotify(on: boolean): void;
  onDrawer(): void;
}

/**
 * The header: the app, the Parameters and, once connected, the Connection panel folded into
 * its Disconnect button; then the GUI link, notifications, theme and the Service info drawer.
 *
 * @example
 * ```tsx
 * <ChatHeader server={state} live="open" liveSeen notify="off" drawer={false}
 *   onDisconnect={bye} onNotify={setNotify} onDrawer={toggle} />
 * ```
 */
export function ChatHeader(props: ChatHeaderProps) {
  const phase = props.server?.phase ?? "disconnected";
  const on = phase === "connected" || phase === "reconnecting";
  return (
    <header class="app-header chat-header">
      <h1>JIM Messenger</h1>
      <ParametersPanel state={props.server} stale={props.liveSeen && props.live !== "open"} />
      {on && (
        <section class="connection-bar" id="connection" aria-label="Connection">
          <button type="button" id="disconnect" onClick={props.onDisconnect}>Disconnect</button>
        </section>
      )}
      <div class="header-tools">
        <GuiLink live={props.live} seen={props.liveSeen} />
        <NotifyToggle mode={props.notify} onChange={props.onNotify} />
        <ThemeSelect />
        <button
          type="button"
          id="service-toggle"
          class="tool"
          aria-expanded={props.drawer}
          aria-controls="service-info"
          onClick={props.onDrawer}
        >
          Service info
        </button>
      </div>
    </header>
  );
}
