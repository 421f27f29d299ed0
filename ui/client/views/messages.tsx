import { useLayoutEffect, useRef } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import type { MessageView } from "../_types.ts";
import { messageTime } from "./format.ts";

/** Props of {@linkcode MessagesPanel}. */
export interface MessagesPanelProps {
  contact: string | null;
  messages: readonly MessageView[];
  connected: boolean;
  onRetry(id: number): void;
}

function statusNote(m: MessageView) {
  if (m.direction === "in") return null;
  if (m.status === "sent") return <span class="msg-status pending">sending…</span>;
  if (m.status === "failed") {
    return <span class="msg-status failed">failed: {m.error ?? "not sent"}</span>;
  }
  return null;
}

/**
 * The seed's Messages panel: the history with the selected contact, each entry headed
 * `A -> B:` with its time. It follows new messages unless the user scrolled up. A failed
 * message stays, marked, with a Retry button.
 *
 * @example
 * ```tsx
 * <MessagesPanel contact="bob" messages={list} connected onRetry={retry} />
 * ```
 */
export function MessagesPanel({ contact, messages, connected, onRetry }: MessagesPanelProps) {
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const lastContact = useRef<string | null>(null);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (lastContact.current !== contact) {
      lastContact.current = contact;
      follow.current = true;
    }
    if (follow.current) el.scrollTop = el.scrollHeight;
  }, [messages, contact]);

  const onScroll = () => {
    const el = box.current;
    if (el) follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  return (
    <Panel title="Messages" id="messages" class="chat-messages">
      <div
        ref={box}
        class="message-list"
        role="log"
        aria-label={contact ? `Messages with ${contact}` : "Messages"}
        aria-live="polite"
        tabIndex={0}
        onScroll={onScroll}
      >
        {contact === null && <p class="empty">Select a contact to see your conversation.</p>}
        {contact !== null && messages.length === 0 && (
          <p class="empty">No messages with {contact} yet.</p>
        )}
        {messages.map((m) => (
          <div
            key={m.id}
            class={`msg msg-${m.direction} status-${m.status}`}
            data-id={m.id}
            data-status={m.status}
          >
            <div class="msg-head">
              <span class="msg-who">{m.from} -&gt; {m.to}:</span>{" "}
              <time dateTime={new Date(m.time).toISOString()}>{messageTime(m.time)}</time>
              {statusNote(m)}
              {m.direction === "out" && m.status === "failed" && (
                <button
                  type="button"
                  class="retry"
                  disabled={!connected}
                  onClick={() => onRetry(m.id)}
                >
                  Retry
                </button>
              )}
            </div>
            <div class="msg-text">{m.text}</div>
          </div>
        ))}
      </div>
    </Panel>
  );
}
