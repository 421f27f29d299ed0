import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode VirtualList}. */
export interface VirtualListProps<T> {
  items: readonly T[];
  /** Every row's height in pixels; the stylesheet must agree. */
  rowHeight: number;
  keyOf(item: T): string | number;
  renderRow(item: T, index: number): ComponentChildren;
  /** Accessible name of the list. */
  label: string;
  /** Rows drawn above and below the visible ones (10 by default). */
  overscan?: number;
  /** Scroll so that this index is visible (after keyboard moves). */
  reveal?: number | null;
  onKeyDown?(ev: KeyboardEvent): void;
}

/**
 * A long list that draws only the rows in view (plus a few), so that 10,000 entries scroll
 * like 50: the rest is an empty spacer of the right height. It follows new items while
 * scrolled to the bottom, stays put otherwise, and offers "Jump to latest".
 *
 * @example
 * ```tsx
 * <VirtualList items={entries} rowHeight={22} keyOf={(e) => e.id} label="Service info"
 *   renderRow={(e) => <span>{e.text}</span>} />
 * ```
 */
export function VirtualList<T>(props: VirtualListProps<T>) {
  const { items, rowHeight } = props;
  const overscan = props.overscan ?? 10;
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(0);
  const [follow, setFollow] = useState(true);
  const total = items.length * rowHeight;

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setHeight(el.clientHeight);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // While following, the view is at the bottom whatever the last scroll event said.
  const top = follow ? Math.max(0, total - height) : Math.min(scrollTop, total);
  /** Where following last put the view; -1 when it did not. */
  const placed = useRef(-1);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || !follow) return;
    // The user scrolled up and new rows came before the scroll event did: stop following
    // rather than pull the view back down.
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < rowHeight / 2;
    if (placed.current >= 0 && el.scrollTop < placed.current - 1 && !atBottom) {
      placed.current = -1;
      setScrollTop(el.scrollTop);
      setFollow(false);
      return;
    }
    if (el.scrollTop !== top) el.scrollTop = top;
    placed.current = el.scrollTop;
  }, [top, follow]);

  useLayoutEffect(() => {
    const el = box.current;
    const at = props.reveal;
    if (!el || at == null || at < 0) return;
    const rowTop = at * rowHeight;
    if (rowTop < el.scrollTop) el.scrollTop = rowTop;
    else if (rowTop + rowHeight > el.scrollTop + el.clientHeight) {
      el.scrollTop = rowTop + rowHeight - el.clientHeight;
    }
  }, [props.reveal]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < rowHeight / 2;
    if (atBottom !== follow) {
      placed.current = -1;
      setFollow(atBottom);
    }
  };

  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + overscan);
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    const item = items[i]!;
    rows.push(
      <div
        key={props.keyOf(item)}
        class="vlist-row"
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}
      >
        {props.renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div class="vlist-wrap">
      <div
        ref={box}
        class="vlist"
        role="log"
        aria-label={props.label}
        tabIndex={0}
        onScroll={onScroll}
        onKeyDown={props.onKeyDown}
        data-follow={follow ? "yes" : "no"}
        data-rows={last - first}
      >
        <div class="vlist-spacer" style={{ height: `${total}px` }}>{rows}</div>
      </div>
      {!follow && (
        <button
          type="button"
          class="jump"
          onClick={() => {
            placed.current = -1;
            setFollow(true);
          }}
        >
          Jump to latest
        </button>
      )}
    </div>
  );
}
