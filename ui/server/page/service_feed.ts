/**
 * The admin page's Service info, in the browser: the entries the GUI keeps (loaded whole,
 * then followed live), the filters, pause and the selected entry. The view reads the
 * snapshot; every change makes a new one.
 *
 * @module
 */
import { apiJson } from "../../api_client.ts";
import {
  LOG_CATEGORIES,
  type LogCategory,
  type ServiceEntry,
  type ServiceReply,
} from "../_types.ts";
import { logLine } from "../views/format.ts";

/** What the Service info panel shows. */
export interface ServiceFeedState {
  /** Every entry kept, oldest first. */
  entries: readonly ServiceEntry[];
  /** The ones that pass the filters (and, while paused, came before the pause). */
  visible: readonly ServiceEntry[];
  /** Entries per category, of all kept. */
  counts: Readonly<Record<LogCategory, number>>;
  /** Categories shown. */
  shown: ReadonlySet<LogCategory>;
  text: string;
  /** The id of the last entry shown while paused, or null when following. */
  pausedAt: number | null;
  /** Entries that came in since the pause. */
  waiting: number;
  showBodies: boolean;
  limit: number;
  /** The entry whose JSON is shown. */
  selected: ServiceEntry | null;
  error: string | null;
}

const BATCH_MS = 40;
const haystacks = new WeakMap<ServiceEntry, string>();

/** The text a filter matches: the line and the JSON, lower case. */
function haystack(entry: ServiceEntry): string {
  let text = haystacks.get(entry);
  if (text === undefined) {
    text = `${logLine(entry).text}\n${JSON.stringify(entry.payload ?? "")}`.toLowerCase();
    haystacks.set(entry, text);
  }
  return text;
}

function countOf(entries: readonly ServiceEntry[]): Record<LogCategory, number> {
  const counts = Object.fromEntries(LOG_CATEGORIES.map((c) => [c, 0])) as Record<
    LogCategory,
    number
  >;
  for (const e of entries) counts[e.category]++;
  return counts;
}

/**
 * Service info of the admin page.
 *
 * @example
 * ```ts
 * const feed = new ServiceFeed();
 * await feed.load();
 * feed.pause();
 * ```
 */
export class ServiceFeed {
  #state: ServiceFeedState = {
    entries: [],
    visible: [],
    counts: countOf([]),
    shown: new Set(LOG_CATEGORIES),
    text: "",
    pausedAt: null,
    waiting: 0,
    showBodies: false,
    limit: 10_000,
    selected: null,
    error: null,
  };
  readonly #listeners = new Set<() => void>();
  #loading: Promise<void> | undefined;
  #again = false;
  #pending: ServiceEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  get(): ServiceFeedState {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Loads everything the GUI keeps; a call while loading loads once more after. */
  load(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        try {
          this.#flush();
          const had = this.#state.entries[this.#state.entries.length - 1]?.id ?? 0;
          const reply = await apiJson<ServiceReply>("/api/service");
          this.#flush();
          const selected = this.#state.selected;
          // Entries that came live while the reply was on its way, and are not in it, stay.
          const newest = Math.max(had, reply.entries[reply.entries.length - 1]?.id ?? 0);
          const later = this.#state.entries.filter((e) => e.id > newest);
          this.#set({
            entries: [...reply.entries, ...later].slice(-reply.limit),
            showBodies: reply.showBodies,
            limit: reply.limit,
            // The selected entry, as shown now (its text may have been hidden or revealed).
            selected: selected ? reply.entries.find((e) => e.id === selected.id) ?? null : null,
            error: null,
          });
        } catch (err) {
          this.#set({ error: (err as Error).message });
        }
      } while (this.#again);
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /**
   * A new entry from the live stream; ones already had are skipped. Entries are taken in
   * batches, so a burst costs one filtering pass, not one per entry.
   */
  add(entry: ServiceEntry): void {
    this.#pending.push(entry);
    this.#timer ??= setTimeout(() => this.#flush(), BATCH_MS);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const old = this.#state.entries;
    let last = old[old.length - 1]?.id ?? 0;
    const fresh: ServiceEntry[] = [];
    for (const e of this.#pending) {
      if (e.id <= last) continue;
      fresh.push(e);
      last = e.id;
    }
    this.#pending = [];
    if (fresh.length > 0) this.#set({ entries: [...old, ...fresh].slice(-this.#state.limit) });
  }

  pause(): void {
    const last = this.#state.entries[this.#state.entries.length - 1];
    this.#set({ pausedAt: last?.id ?? 0 });
  }

  resume(): void {
    this.#set({ pausedAt: null });
  }

  toggle(category: LogCategory): void {
    const shown = new Set(this.#state.shown);
    if (!shown.delete(category)) shown.add(category);
    this.#set({ shown });
  }

  setText(text: string): void {
    this.#set({ text });
  }

  select(entry: ServiceEntry | null): void {
    this.#set({ selected: entry });
  }

  /** Shows or hides message texts, for every page of this GUI. */
  async setShowBodies(on: boolean): Promise<void> {
    // The checkbox follows at once; the reload brings the entries as they now read.
    this.#set({ showBodies: on });
    try {
      await apiJson("/api/service/settings", { method: "POST", body: { showBodies: on } });
      // The live stream says "service" too; loading now spares this page the wait.
      await this.load();
    } catch (err) {
      this.#set({ showBodies: !on, error: (err as Error).message });
    }
  }

  /** Empties Service info, for every page of this GUI. */
  async clear(): Promise<void> {
    try {
      await apiJson("/api/service/clear", { method: "POST" });
      this.#pending = [];
      this.#set({
        entries: [],
        selected: null,
        pausedAt: this.#state.pausedAt === null ? null : 0,
      });
    } catch (err) {
      this.#set({ error: (err as Error).message });
    }
  }

  #set(patch: Partial<ServiceFeedState>): void {
    const next = { ...this.#state, ...patch };
    if ("entries" in patch || "shown" in patch || "text" in patch || "pausedAt" in patch) {
      const needle = next.text.trim().toLowerCase();
      const limit = next.pausedAt;
      next.visible = next.entries.filter((e) =>
        (limit === null || e.id <= limit) && next.shown.has(e.category) &&
        (needle === "" || haystack(e).includes(needle))
      );
      next.counts = "entries" in patch ? countOf(next.entries) : next.counts;
      next.waiting = limit === null ? 0 : next.entries.filter((e) => e.id > limit).length;
    }
    this.#state = next;
    for (const listener of this.#listeners) listener();
  }
}
