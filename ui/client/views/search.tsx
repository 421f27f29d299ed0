import { Panel } from "../../components/mod.ts";
import type { MessageView } from "../_types.ts";
import type { SearchState } from "../page/chat_page.ts";
import { fullTime } from "../page/timeline.ts";

/** Props of {@linkcode SearchPanel}. */
export interface SearchPanelProps {
  search: SearchState | null;
  onQuery(query: string): void;
  onOpen(hit: MessageView): void;
}

/** How much of a hit's text the list shows. */
const EXCERPT = 140;

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT - 1)}…` : flat;
}

/**
 * Search over the local history (SQLite FTS5): every word typed must begin a word of the
 * message, in any case. The hits, newest first, open their conversation at the message.
 * Works while disconnected. Escape clears the box.
 *
 * @example
 * ```tsx
 * <SearchPanel search={null} onQuery={setQuery} onOpen={openHit} />
 * ```
 */
export function SearchPanel(props: SearchPanelProps) {
  const { search } = props;
  const hits = search?.hits ?? null;
  return (
    <Panel title="Search" id="search" class="chat-search">
      <form role="search" class="search-form" onSubmit={(ev) => ev.preventDefault()}>
        <label class="sr-only" for="search-input">Search messages</label>
        <input
          id="search-input"
          type="search"
          placeholder="Search messages"
          spellcheck={false}
          maxLength={256}
          value={search?.query ?? ""}
          aria-controls="search-results"
          onInput={(ev) => props.onQuery((ev.target as HTMLInputElement).value)}
          onKeyDown={(ev) => {
            if (ev.key === "Escape" && search) {
              ev.preventDefault();
              props.onQuery("");
            }
          }}
        />
      </form>
      {search && (
        <div class="search-results" id="search-results" aria-live="polite">
          {search.error && <p class="error-text" role="alert">{search.error}</p>}
          {hits === null && <p class="empty">Searching…</p>}
          {hits !== null && hits.length === 0 && !search.error && (
            <p class="empty">No messages match.</p>
          )}
          {hits !== null && hits.length > 0 && (
            <ul class="hit-list" aria-label="Search results">
              {hits.map((h) => (
                <li key={h.id}>
                  <button
                    type="button"
                    class="hit"
                    data-hit={h.id}
                    onClick={() => props.onOpen(h)}
                  >
                    <span class="hit-head">
                      <span class="hit-who">{h.from} -&gt; {h.to}</span>
                      <time dateTime={new Date(h.time).toISOString()}>{fullTime(h.time)}</time>
                    </span>
                    <span class="hit-text">{excerpt(h.text)}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Panel>
  );
}
