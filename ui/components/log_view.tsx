import { Component } from "preact";
import { useCallback, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

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

/** Entries a log keeps; older ones are dropped. */
export const LOG_LIMIT = 2000;

/** State of a bounded log, from {@linkcode useLog}. */
export interface LogState {
  entries: readonly LogEntry[];
  append(entry: Omit<LogEntry, "id" | "time"> & { time?: number }): void;
  clear(): void;
}

/**
 * Keeps the last `limit` (2,000) entries of a log.
 *
 * @example
 * ```tsx
 * const log = useLog();
 * log.append({ head: "Connected" });
 * return <LogView label="Service info" log={log} />;
 * ```
 */
export function useLog(limit: number = LOG_LIMIT): LogState {
  const [entries, setEntries] = useState<readonly LogEntry[]>([]);
  const next = useRef(1);
  const append = useCallback((entry: Omit<LogEntry, "id" | "time"> & { time?: number }) => {
    const full: LogEntry = { ...entry, id: next.current++, time: entry.time ?? Date.now() };
    setEntries((old) => {
      const out = old.length >= limit ? old.slice(old.length - limit + 1) : old.slice();
      out.push(full);
      return out;
    });
  }, [limit]);
  const clear = useCallback(() => setEntries([]), []);
  return { entries, append, clear };
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
  log: LogState;
  /** Prefix for element ids, so two logs on one page do not clash. */
  idPrefix?: string;
}

/**
 * A live log: follows new entries unless the user scrolled up, with a filter box, a Clear
 * button and a "Jump to latest" button while not following.
 *
 * @example
 * ```tsx
 * <LogView label="Service info" log={useLog()} />
 * ```
 */
export function LogView({ label, log, idPrefix = "log" }: LogViewProps) {
  const [filter, setFilter] = useState("");
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () =>
      needle === ""
        ? log.entries
        : log.entries.filter((e) =>
          e.head.toLowerCase().includes(needle) || (e.body ?? "").toLowerCase().includes(needle)
        ),
    [log.entries, needle],
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
          {needle ? `${shown.length} of ${log.entries.length}` : `${log.entries.length} entries`}
        </span>
        <button type="button" onClick={log.clear}>Clear</button>
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
