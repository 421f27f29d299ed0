/**
 * Browser-side wrapper around EventSource for the GUIs' live event stream (see live_hub.ts).
 * It reconnects by itself, also after errors EventSource gives up on, and reports its status.
 *
 * @module
 */

/** Connection status shown in the page header. */
export type LiveStatus = "connecting" | "open" | "reconnecting" | "closed";

/** Callbacks of a {@linkcode LiveClient}. */
export interface LiveHandlers {
  /** A data event. */
  onEvent(topic: string, data: unknown): void;
  /**
   * The stream (re)started without a gap-free catch-up: `ready` on a fresh start, `reset` or
   * `missed` after events were lost. The page should refetch its state.
   */
  onSync?(reason: "ready" | "reset" | "missed", detail: unknown): void;
  onStatus?(status: LiveStatus): void;
}

/**
 * Follows an SSE endpoint.
 *
 * @example
 * ```ts
 * const live = new LiveClient("/api/events", {
 *   onEvent: (topic, data) => console.log(topic, data),
 *   onSync: () => refetch(),
 * });
 * // later
 * live.close();
 * ```
 */
export class LiveClient {
  readonly #url: string;
  readonly #handlers: LiveHandlers;
  #source: EventSource | undefined;
  #status: LiveStatus = "connecting";
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 500;
  #closed = false;
  /** Id of the last data event, so a new EventSource can resume where the old one stopped. */
  #lastEventId = "";

  constructor(url: string, handlers: LiveHandlers) {
    this.#url = url;
    this.#handlers = handlers;
    this.#open();
  }

  /** The current status. */
  get status(): LiveStatus {
    return this.#status;
  }

  #setStatus(status: LiveStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#handlers.onStatus?.(status);
  }

  #open(): void {
    const url = this.#lastEventId
      ? `${this.#url}${this.#url.includes("?") ? "&" : "?"}lastEventId=${
        encodeURIComponent(this.#lastEventId)
      }`
      : this.#url;
    const source = new EventSource(url);
    this.#source = source;
    source.onopen = () => {
      this.#retryMs = 500;
      this.#setStatus("open");
    };
    source.onmessage = (ev: MessageEvent<string>) => {
      if (ev.lastEventId) this.#lastEventId = ev.lastEventId;
      const parsed = parse(ev.data) as { topic?: unknown; data?: unknown } | undefined;
      if (parsed && typeof parsed.topic === "string") {
        this.#handlers.onEvent(parsed.topic, parsed.data);
      }
    };
    for (const name of ["ready", "reset", "missed"] as const) {
      source.addEventListener(name, (ev) => {
        this.#handlers.onSync?.(name, parse((ev as MessageEvent<string>).data));
      });
    }
    source.onerror = () => {
      if (this.#closed) return;
      if (source.readyState === EventSource.CONNECTING) {
        // EventSource retries by itself and sends Last-Event-ID.
        this.#setStatus("reconnecting");
        return;
      }
      // CLOSED: EventSource gave up (HTTP error, GUI restarting); retry with backoff.
      source.close();
      this.#setStatus("reconnecting");
      this.#retryTimer = setTimeout(() => this.#open(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
    };
  }

  /** Stops following. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#source?.close();
    this.#setStatus("closed");
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
