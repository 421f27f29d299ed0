import { Component } from "preact";
import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

/** One line of a log. */
export interface LogEntry {
  /** Unique and increasing within one log. */
  id: number;
  /** Milliseconds since the epoch. */
  time: number;
  /** The first line, e.g. "Request from alice (127.0.0.1:50412)". */
  head: string;
  /** Optional detail, e.g. pretty-printed JSON. */
  body?: string;
  level?: "info" | "notice" | "error";
}

function clock(time: number): string {
  const d = new Date(time);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${
    pad(d.getMilliseconds(), 3)
  }`;
}

/**
 * One entry. Entries never change once written, so a row renders once: with 2,000 rows, a new
 * entry costs one row's work, not a diff of all of them.
 */
class LogLine extends Component<{ entry: LogEntry }> {
  override shouldComponentUpdate(next: { entry: LogEntry }): boolean {
    return next.entry !== this.props.entry;
  }

  override render() {
    const e = this.props.entry;
    return (
      <div class={`log-entry level-${e.level ?? "info"}`}>
        <div class="log-head">
          <time dateTime={new Date(e.time).toISOString()}>{clock(e.time)}</time> {e.head}
        </div>
        {e.body !== undefined && <div class="log-body">{e.body}</div>}
      </div>
    );
  }
}

/** Props of {@linkcode LogView}. */
export interface LogViewProps {
  /** Accessible name of the log region. */
  label: string;
  /** Oldest first; the owner bounds them. */
  entries: readonly LogEntry[];
  onClear(): void;
  /** Prefix for element ids, so two logs on one page do not clash. */
  idPrefix?: string;
}

/**
 * A live log: follows new entries unless the user scrolled up, with a filter box, a Clear
 * button and a "Jump to latest" button while not following.
 *
 * @example
 * ```tsx
 * <LogView label="Service info" entries={entries} onClear={clear} />
 * ```
 */
export function LogView({ label, entries, onClear, idPrefix = "log" }: LogViewProps) {
  const [filter, setFilter] = useState("");
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () =>
      needle === ""
        ? entries
        : entries.filter((e) =>
          e.head.toLowerCase().includes(needle) || (e.body ?? "").toLowerCase().includes(needle)
        ),
    [entries, needle],
  );

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown, follow]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const filterId = `${idPrefix}-filter`;
  return (
    <div class="log-view">
      <div class="log-tools">
        <label for={filterId} class="sr-only">Filter {label}</label>
        <input
          id={filterId}
          type="search"
          placeholder="Filter"
          value={filter}
          onInput={(ev) => setFilter((ev.target as HTMLInputElement).value)}
        />
        <span class="log-count" aria-live="off">
          {needle ? `${shown.length} of ${entries.length}` : `${entries.length} entries`}
        </span>
        <button type="button" onClick={onClear}>Clear</button>
      </div>
      <div
        ref={box}
        class="log-lines"
        role="log"
        aria-label={label}
        tabIndex={0}
        onScroll={onScroll}
        data-follow={follow ? "yes" : "no"}
      >
        {shown.map((e) => <LogLine key={e.id} entry={e} />)}
      </div>
      {!follow && (
        <button
          type="button"
          class="jump"
          onClick={() => {
            setFollow(true);
          }}
        >
          Jump to latest
        </button>
      )}
    </div>
  );
}
