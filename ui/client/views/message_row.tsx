import type { ConversationItem } from "../page/conversation_items.ts";
import { clockTime, fullTime } from "../page/timeline.ts";
import { MessageText } from "./message_text.tsx";

/** Props of {@linkcode MessageRow}. */
export interface MessageRowProps {
  item: ConversationItem;
  /** First of its group: shows the `A -> B:` heading and the time. */
  head: boolean;
  /** The message a search opened the conversation at: marked until another is. */
  focused?: boolean;
  connected: boolean;
  onRetry(item: ConversationItem): void;
  onDiscard(item: ConversationItem): void;
}

function Outcome(props: MessageRowProps) {
  const { item } = props;
  if (item.direction === "in") return null;
  // A room has no receipts: posted is all there is to know.
  if (
    item.to.startsWith("#") &&
    (item.status === "stored" || item.status === "delivered" || item.status === "read")
  ) {
    return (
      <span class="msg-status ok" title={`Posted to ${item.to}`}>
        <span aria-hidden="true">✓</span>
        <span class="sr-only">posted</span>
      </span>
    );
  }
  switch (item.status) {
    case "queued":
      return (
        <span class="msg-status pending">
          {props.connected ? "queued…" : "waiting for the connection"}
        </span>
      );
    case "posting":
    case "sent":
      return <span class="msg-status pending">sending…</span>;
    case "stored":
      return (
        <span
          class="msg-status stored"
          title={`Stored on the server: ${item.to} gets it at the next login`}
        >
          <span aria-hidden="true">✓</span>
          <span class="sr-only">stored</span>
        </span>
      );
    case "delivered":
      return (
        <span class="msg-status ok" title={`Delivered to ${item.to}`}>
          <span aria-hidden="true">✓✓</span>
          <span class="sr-only">delivered</span>
        </span>
      );
    case "read":
      return (
        <span class="msg-status read" title={`Read by ${item.to}`}>
          <span aria-hidden="true">✓✓</span> read
        </span>
      );
    case "failed":
    case "refused":
      return (
        <>
          <span class="msg-status failed">failed: {item.error ?? "not sent"}</span>
          <button
            type="button"
            class="retry"
            disabled={!props.connected}
            onClick={() => props.onRetry(item)}
          >
            Retry
          </button>
          {item.status === "refused" && (
            <button
              type="button"
              class="retry"
              onClick={() => props.onDiscard(item)}
            >
              Discard
            </button>
          )}
        </>
      );
  }
}

/**
 * One message: its heading when it starts a group, its text, and for one the user sent,
 * where it stands: queued, sending…, ✓ stored (the server keeps it for an offline
 * recipient), ✓✓ delivered, ✓✓ read, or failed with Retry.
 *
 * @example
 * ```tsx
 * <MessageRow item={item} head connected onRetry={retry} onDiscard={discard} />
 * ```
 */
export function MessageRow(props: MessageRowProps) {
  const { item, head } = props;
  const time = (
    <time dateTime={new Date(item.time).toISOString()} title={fullTime(item.time)}>
      {clockTime(item.time)}
    </time>
  );
  const pending = item.status === "queued" || item.status === "posting" || item.status === "sent";
  return (
    <div
      class={`msg msg-${item.direction} status-${pending ? "pending" : item.status}${
        head ? " msg-first" : ""
      }`}
      data-key={item.key}
      data-id={item.id}
      data-status={item.status}
      data-focused={props.focused ? "true" : undefined}
      tabIndex={props.focused ? -1 : undefined}
    >
      {head && (
        <div class="msg-head">
          <span class="msg-who">{item.from} -&gt; {item.to}:</span> {time}
        </div>
      )}
      <div class="msg-body">
        <MessageText text={item.text} />
        <div class="msg-meta">
          {!head && <span class="msg-time-aside">{time}</span>}
          <Outcome {...props} />
        </div>
      </div>
    </div>
  );
}
