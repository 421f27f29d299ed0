import { useEffect, useRef } from "preact/hooks";
import { type LogEntry, LogView, Panel } from "../../components/mod.ts";
import type { FocusRequest } from "../page/chat_page.ts";

/** Props of {@linkcode ServiceDrawer}. */
export interface ServiceDrawerProps {
  open: boolean;
  entries: readonly LogEntry[];
  focus: FocusRequest | null;
  onClose(): void;
  onClear(): void;
}

/**
 * The seed's Service info panel as a drawer over the right edge: the chat GUI's own log
 * (connecting, logins, contacts, failures), with its filter and Clear. Escape closes it.
 *
 * @example
 * ```tsx
 * <ServiceDrawer open entries={log} focus={null} onClose={close} onClear={clear} />
 * ```
 */
export function ServiceDrawer(props: ServiceDrawerProps) {
  const ref = useRef<HTMLElement>(null);
  const focusSeq = props.focus?.target === "service" ? props.focus.seq : 0;
  useEffect(() => {
    if (focusSeq !== 0 && props.open) ref.current?.querySelector<HTMLElement>("input")?.focus();
  }, [focusSeq, props.open]);
  const close = () => {
    props.onClose();
    document.getElementById("service-toggle")?.focus();
  };
  const onClose = props.onClose;
  useEffect(() => {
    if (!props.open) return;
    // Escape closes the open drawer wherever the focus is: a login that lands while it
    // opens moves the focus to the message box, and the drawer must still go.
    const onKey = (ev: KeyboardEvent) => {
      if (ev.key !== "Escape" || ev.defaultPrevented) return;
      ev.preventDefault();
      onClose();
      document.getElementById("service-toggle")?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [props.open, onClose]);
  return (
    <aside
      ref={ref}
      id="service-info"
      class="drawer"
      hidden={!props.open}
      aria-label="Service info"
    >
      <div class="drawer-bar">
        <button type="button" class="drawer-close" onClick={close}>
          Close <span class="sr-only">Service info</span>
        </button>
      </div>
      <Panel title="Service info" class="chat-service">
        {props.open && (
          <LogView
            label="Service info"
            entries={props.entries}
            onClear={props.onClear}
            idPrefix="service"
          />
        )}
      </Panel>
    </aside>
  );
}
