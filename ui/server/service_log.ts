/**
 * The admin GUI's Service info, kept on the GUI's side so that a reload shows the same
 * entries: every server event and GUI note, bounded by count and by size, each with an id,
 * a category for the page's filters, and the size of a message's text. Message texts are
 * private: the page sees them only while the admin has turned them on, and the metadata
 * (who, to whom, size, code) always.
 *
 * @module
 */
import type { LogCategory, LogEvent, ServiceEntry } from "./_types.ts";

/** Options for {@linkcode ServiceLog}. */
export interface ServiceLogOptions {
  /** Entries kept (10,000 by default). */
  limit?: number;
  /** Bytes of JSON kept, about (8 MiB by default): large payloads shorten the log. */
  maxBytes?: number;
  /** Called with each new entry as the page may see it. */
  onEntry?(entry: ServiceEntry): void;
}

/** Stands in for a hidden message text. */
export const HIDDEN = "[hidden]";

const encoder = new TextEncoder();

/** Which filter an event belongs to. */
export function categorize(event: LogEvent): LogCategory {
  const payload = event.payload as Record<string, unknown> | undefined;
  const action = typeof payload?.action === "string" ? payload.action : undefined;
  const code = typeof payload?.response === "number" ? payload.response : undefined;
  switch (event.type) {
    case "connect":
    case "disconnect":
    case "start":
    case "stop":
      return "connections";
    case "login":
      return "logins";
    case "error":
      return "errors";
    case "request":
    case "push":
      if (action === "msg") return "messages";
      if (action === "authenticate" || action === "presence") return "logins";
      return "other";
    case "response":
      // 401 is the first half of every login (the SCRAM challenge), not a failure.
      if (code === 401) return "logins";
      return code !== undefined && code >= 400 ? "errors" : "other";
    default:
      return "other";
  }
}

/** The text of a msg request or push, if the event carries one. */
function messageText(event: LogEvent): string | undefined {
  const payload = event.payload as Record<string, unknown> | undefined;
  if (event.type !== "request" && event.type !== "push") return undefined;
  return typeof payload?.message === "string" ? payload.message : undefined;
}

/**
 * A bounded, ordered log of Service info entries.
 *
 * @example
 * ```ts
 * const log = new ServiceLog({ onEntry: (e) => console.log(e.id, e.category) });
 * log.add({ time: Date.now(), type: "connect", conn: { id: 1, ip: "127.0.0.1" } });
 * ```
 */
export class ServiceLog {
  readonly limit: number;
  readonly maxBytes: number;
  readonly #onEntry: ((entry: ServiceEntry) => void) | undefined;
  #entries: { entry: ServiceEntry; bytes: number }[] = [];
  #head = 0;
  #bytes = 0;
  #nextId = 1;
  #showBodies = false;

  constructor(options: ServiceLogOptions = {}) {
    this.limit = Math.max(1, options.limit ?? 10_000);
    this.maxBytes = Math.max(1024, options.maxBytes ?? 8 * 1024 * 1024);
    this.#onEntry = options.onEntry;
  }

  /** Whether the page sees message texts. Off by default. */
  get showBodies(): boolean {
    return this.#showBodies;
  }

  set showBodies(on: boolean) {
    this.#showBodies = on;
  }

  /** Entries kept now. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Adds an event and returns it as the page sees it. */
  add(event: LogEvent): ServiceEntry {
    const text = messageText(event);
    const entry: ServiceEntry = { ...event, id: this.#nextId++, category: categorize(event) };
    if (text !== undefined) {
      entry.size = { chars: [...text].length, bytes: encoder.encode(text).length };
    }
    const bytes = JSON.stringify(entry).length;
    this.#entries.push({ entry, bytes });
    this.#bytes += bytes;
    while (this.size > this.limit || (this.#bytes > this.maxBytes && this.size > 1)) {
      this.#bytes -= this.#entries[this.#head]!.bytes;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    const shown = this.view(entry);
    this.#onEntry?.(shown);
    return shown;
  }

  /** The entries kept, oldest first, as the page sees them; only those after `after`. */
  entries(after = 0): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!.entry;
      if (e.id > after) out.push(this.view(e));
    }
    return out;
  }

  /** An entry as the page sees it: the message text hidden unless turned on. */
  view(entry: ServiceEntry): ServiceEntry {
    if (this.#showBodies || entry.size === undefined) return entry;
    const payload = entry.payload as Record<string, unknown>;
    return { ...entry, payload: { ...payload, message: HIDDEN } };
  }

  /** Forgets every entry; ids go on increasing. */
  clear(): void {
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
