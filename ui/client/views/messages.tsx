import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import type { ContactView } from "../_types.ts";
import type { Conversation } from "../page/chat_page.ts";
import type { ConversationItem } from "../page/conversation_items.ts";
import { buildTimeline } from "../page/timeline.ts";
import { MessageRow } from "./message_row.tsx";

/** Props of {@linkcode MessagesPanel}. */
export interface MessagesPanelProps {
  contact: ContactView | null;
  /** Login of the selected conversation, also when it is not (or no longer) a contact. */
  selected: string | null;
  conversation: Conversation | null;
  /** Stored messages and the outbox's, merged, oldest first. */
  items: readonly ConversationItem[];
  connected: boolean;
  now: number;
  onRetry(item: ConversationItem): void;
  onDiscard(item: ConversationItem): void;
  onLoadOlder(): void;
  /** Pages forward when the window does not reach the newest message (opened at a hit). */
  onLoadNewer(): void;
  /** Leaves such a window for the newest messages. */
  onJumpLatest(): void;
  onBack(): void;
  /** Whether the newest message is on screen (the view follows new ones while it is). */
  onAtBottom(atBottom: boolean): void;
  /** A printable key typed while the list has focus. */
  onType(key: string): void;
}

const NEAR_BOTTOM_PX = 32;

/** "Load older messages" above the list, or "Load newer messages" below it. */
function PageButton(props: { which: "older" | "newer"; loading: boolean; onClick(): void }) {
  return (
    <div class={props.which}>
      <button
        type="button"
        id={`load-${props.which}`}
        disabled={props.loading}
        onClick={props.onClick}
      >
        {props.loading ? "Loading…" : `Load ${props.which} messages`}
      </button>
    </div>
  );
}

/**
 * The seed's Messages panel: the conversation with day separators, messages grouped by
 * sender, an unread line where the user left off, "Load older messages" at the top, and a
 * "new messages" button when messages arrive while the user reads further up. Opened at a
 * search hit, it shows that message marked in the middle, with "Load newer messages" below.
 *
 * @example
 * ```tsx
 * <MessagesPanel contact={bob} selected="bob" conversation={conv} items={items} connected
 *   now={Date.now()} onRetry={retry} onDiscard={discard} onLoadOlder={older}
 *   onLoadNewer={newer} onJumpLatest={latest} onBack={back} onAtBottom={seen} onType={type} />
 * ```
 */
export function MessagesPanel(props: MessagesPanelProps) {
  const { conversation: conv, items, selected } = props;
  const box = useRef<HTMLDivElement>(null);
  const [atBottom, setAtBottom] = useState(true);
  const [fresh, setFresh] = useState(0);
  const last = useRef({
    contact: null as string | null,
    first: "",
    end: "",
    height: 0,
    focus: null as number | null,
  });
  const unreadKey = conv?.unreadFrom != null ? `m${conv.unreadFrom}` : null;
  const rows = useMemo(
    () => buildTimeline(items, { now: props.now, unreadFrom: unreadKey }),
    [items, props.now, unreadKey],
  );

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const prev = last.current;
    const first = items[0]?.key ?? "";
    const end = items[items.length - 1]?.key ?? "";
    const newest = items[items.length - 1];
    const focusId = conv?.focusId ?? null;
    const target = focusId === null
      ? null
      : el.querySelector<HTMLElement>(`.msg[data-id="${focusId}"]`);
    if (target && (prev.contact !== selected || prev.end === "" || prev.focus !== focusId)) {
      // Opened at a search hit: that message in the middle of the view, and focused.
      el.scrollTop = Math.max(
        0,
        target.offsetTop - el.offsetTop - (el.clientHeight - target.offsetHeight) / 2,
      );
      target.focus({ preventScroll: true });
      setFresh(0);
    } else if (prev.contact !== selected || (prev.end === "" && end !== "")) {
      // A conversation opens: at the unread line if there is one, else at the newest.
      const line = el.querySelector<HTMLElement>(".unread-line");
      if (line) el.scrollTop = Math.max(0, line.offsetTop - el.offsetTop - 8);
      else el.scrollTop = el.scrollHeight;
      setFresh(0);
    } else if (first !== prev.first && end === prev.end) {
      // Older messages came in above: keep the ones on screen where they are.
      el.scrollTop += el.scrollHeight - prev.height;
    } else if (end !== prev.end) {
      // Where the view was before these rows came, not what the last scroll event said: the
      // user may have scrolled up a moment ago.
      const wasAtBottom = prev.height - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
      if (wasAtBottom || newest?.direction === "out") {
        el.scrollTop = el.scrollHeight;
        setFresh(0);
      } else {
        const before = items.findIndex((i) => i.key === prev.end);
        const added = items.slice(before + 1).filter((i) => i.direction === "in").length;
        setFresh((n) => n + added);
      }
    } else if (atBottom) {
      el.scrollTop = el.scrollHeight;
    }
    last.current = {
      contact: selected,
      first,
      end,
      height: el.scrollHeight,
      focus: target ? focusId : prev.focus,
    };
  }, [items, selected, conv?.focusId]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    last.current.height = el.scrollHeight;
    if (bottom !== atBottom) {
      setAtBottom(bottom);
      props.onAtBottom(bottom);
    }
    if (bottom) setFresh(0);
  };

  const jump = () => {
    if (conv?.newer) {
      props.onJumpLatest();
      return;
    }
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
    setFresh(0);
  };

  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.target !== ev.currentTarget) return;
    if (ev.key.length !== 1 || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    ev.preventDefault();
    props.onType(ev.key);
  };

  const name = props.contact?.login ?? selected;
  const room = name?.startsWith("#") ?? false;
  return (
    <Panel title="Messages" id="messages" class="chat-messages">
      <div class="conv-head">
        <button type="button" class="back" onClick={props.onBack}>
          <span aria-hidden="true">←</span> Contacts
        </button>
        {name !== null && (
          <span class="conv-title">
            {!room && (
              <span
                class={`dot${props.contact?.online ? " on" : ""}`}
                role="img"
                aria-label={props.contact?.online ? "online" : "offline"}
              />
            )}
            {name}
          </span>
        )}
      </div>
      <div
        ref={box}
        class="message-list"
        role="log"
        aria-label={name !== null ? `Messages ${room ? "in" : "with"} ${name}` : "Messages"}
        aria-live="polite"
        aria-busy={conv?.loading ? "true" : undefined}
        tabIndex={0}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
      >
        {selected === null && <p class="empty">Select a contact to see your conversation.</p>}
        {conv?.more && (
          <PageButton
            which="older"
            loading={conv.loadingOlder}
            onClick={props.onLoadOlder}
          />
        )}
        {conv && !conv.loading && !conv.more && items.length > 0 && (
          <p class="history-start">Start of your history with {name}</p>
        )}
        {selected !== null && conv && !conv.loading && items.length === 0 && (
          <p class="empty">No messages with {name} yet.</p>
        )}
        {rows.map((row) =>
          row.kind === "day"
            ? (
              <div key={row.key} class="day-separator" role="separator">
                <span>{row.label}</span>
              </div>
            )
            : row.kind === "unread"
            ? (
              <div key={row.key} class="unread-line" role="separator">
                <span>Unread messages</span>
              </div>
            )
            : (
              <MessageRow
                key={row.key}
                item={row.item}
                head={row.head}
                focused={row.item.id !== undefined && row.item.id === conv?.focusId}
                connected={props.connected}
                onRetry={props.onRetry}
                onDiscard={props.onDiscard}
              />
            )
        )}
        {conv?.newer && (
          <PageButton
            which="newer"
            loading={conv.loadingNewer}
            onClick={props.onLoadNewer}
          />
        )}
      </div>
      {(!atBottom || conv?.newer) && (
        <button type="button" class="jump-latest" id="jump-latest" onClick={jump}>
          <span aria-hidden="true">↓</span>{" "}
          {fresh > 0 ? `${fresh} new message${fresh === 1 ? "" : "s"}` : "Jump to latest"}
        </button>
      )}
    </Panel>
  );
}
