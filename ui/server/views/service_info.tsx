import { Panel, useStore, VirtualList } from "../../components/mod.ts";
import { LOG_CATEGORIES, type LogCategory, type ServiceEntry } from "../_types.ts";
import type { ServiceFeed } from "../page/service_feed.ts";
import { entryJson, logLine } from "./format.ts";

/** Pixels per row; `.log-row` in the stylesheet has the same height. */
const ROW = 22;

const LABELS: Record<LogCategory, string> = {
  connections: "Connections",
  logins: "Logins",
  messages: "Messages",
  errors: "Errors",
  other: "Other",
};

function clock(time: number): string {
  const d = new Date(time);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${
    p(d.getMilliseconds(), 3)
  }`;
}

function Row(props: { entry: ServiceEntry; selected: boolean; onSelect(): void }) {
  const line = logLine(props.entry);
  return (
    <button
      type="button"
      class={`log-row level-${line.level}`}
      aria-pressed={props.selected}
      tabIndex={-1}
      title={line.text}
      onClick={props.onSelect}
    >
      <time dateTime={new Date(props.entry.time).toISOString()}>{clock(props.entry.time)}</time>
      {" "}
      {line.text}
    </button>
  );
}

/**
 * The seed's Service info, for thousands of entries: one line each with its JSON on demand,
 * filters by kind and text, pause, export as JSON lines, and message texts only when the
 * admin turns them on. The list draws only the rows in view.
 *
 * @example
 * ```tsx
 * <ServiceInfoPanel feed={new ServiceFeed()} />
 * ```
 */
export function ServiceInfoPanel({ feed }: { feed: ServiceFeed }) {
  const s = useStore(feed);
  const { visible, selected } = s;
  const at = selected ? visible.indexOf(selected) : -1;
  const filtered = visible.length !== s.entries.length;

  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.key === "Escape" && selected) {
      feed.select(null);
      return;
    }
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    const next = at < 0
      ? visible.length - 1
      : Math.max(0, Math.min(visible.length - 1, at + (ev.key === "ArrowDown" ? 1 : -1)));
    feed.select(visible[next] ?? null);
  };

  return (
    <Panel title="Service info" id="service-info" class="area-log">
      <div class="log-view">
        <div class="log-tools">
          <label for="service-filter" class="sr-only">Filter Service info</label>
          <input
            id="service-filter"
            type="search"
            placeholder="Filter"
            value={s.text}
            onInput={(ev) => feed.setText((ev.target as HTMLInputElement).value)}
          />
          <span class="log-count" aria-live="off">
            {filtered
              ? `${visible.length.toLocaleString("en-US")} of ${
                s.entries.length.toLocaleString("en-US")
              } entries`
              : `${s.entries.length.toLocaleString("en-US")} entries`}
          </span>
          <button
            type="button"
            id="service-pause"
            aria-pressed={s.pausedAt !== null}
            onClick={() => (s.pausedAt === null ? feed.pause() : feed.resume())}
          >
            {s.pausedAt === null ? "Pause" : `Resume (${s.waiting} new)`}
          </button>
          <a class="button" href="/api/service/export" download id="service-export">Export</a>
          <button type="button" onClick={() => void feed.clear()}>Clear</button>
        </div>
        <div class="log-filters" role="group" aria-label="Kinds of entries shown">
          {LOG_CATEGORIES.map((c) => (
            <label key={c} class="log-filter">
              <input
                type="checkbox"
                checked={s.shown.has(c)}
                onChange={() => feed.toggle(c)}
              />
              {LABELS[c]} <span class="log-filter-count">{s.counts[c]}</span>
            </label>
          ))}
          <label class="log-filter show-bodies">
            <input
              type="checkbox"
              id="show-bodies"
              checked={s.showBodies}
              onChange={(ev) => void feed.setShowBodies((ev.target as HTMLInputElement).checked)}
            />
            Show message texts
          </label>
        </div>
        {s.error && <p class="error-text" role="alert">{s.error}</p>}
        <VirtualList
          items={visible}
          rowHeight={ROW}
          keyOf={(e) => e.id}
          label="Service info"
          reveal={at}
          onKeyDown={onKeyDown}
          renderRow={(e) => (
            <Row
              entry={e}
              selected={e === selected}
              onSelect={() => feed.select(e)}
            />
          )}
        />
        {selected && (
          <section class="log-details" aria-label="Entry details">
            <div class="log-details-head">
              <strong>Entry {selected.id}: JSON</strong>
              <button type="button" onClick={() => feed.select(null)}>Close</button>
            </div>
            <pre>{entryJson(selected)}</pre>
          </section>
        )}
      </div>
    </Panel>
  );
}
