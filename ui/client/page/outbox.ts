/**
 * The page's outgoing queue: what the user sent leaves the message box at once and waits
 * here, in order, until the GUI has stored it. Each item carries the page's own id, which the
 * GUI keeps with the stored message, so a post repeated after a lost reply or a reload is
 * answered with the stored message rather than sent twice. The queue survives reloads in
 * localStorage, and is bounded.
 *
 * @module
 */

/** Where an item stands. */
export type OutboxState =
  /** Waiting for its turn, or for the connection to come back. */
  | "queued"
  /** Posted; the GUI has not answered yet. */
  | "sending"
  /** The GUI refused it (e.g. too long, no such contact); Retry or Discard. */
  | "failed";

/** One message not yet stored by the GUI. */
export interface OutboxItem {
  /** The page's id for it: 22 URL-safe base64 characters. */
  clientId: string;
  /** Who sends it, e.g. `alice@127.0.0.1:7777`: it waits while another account is on. */
  account: string;
  to: string;
  text: string;
  /** When it was typed, in ms since the epoch. */
  time: number;
  state: OutboxState;
  /** Why the GUI refused it, when failed. */
  error?: string;
}

/** How a post ended, as {@linkcode OutboxOptions.post} reports it. */
export type PostOutcome =
  /** The GUI stored it (delivered or failed on the chat server: the history has it now). */
  | { kind: "stored"; message: unknown }
  /** Not now (not connected, GUI unreachable): keep it and wait for {@linkcode Outbox.kick}. */
  | { kind: "wait" }
  /** Never as it is (refused with a reason). */
  | { kind: "refused"; error: string };

/** The part of Web Storage the outbox uses. */
export type OutboxStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /** Posts one item; must not throw (report a failure as its outcome). */
  post(item: OutboxItem): Promise<PostOutcome>;
  /** Whether `item` may be posted now (its account connected, the GUI reachable). */
  canSend(item: OutboxItem): boolean;
  /** Called after every change of the items. */
  onChange?(): void;
  /** Called with what the GUI stored for an item. */
  onStored?(item: OutboxItem, message: unknown): void;
  /** Where the queue survives reloads; none keeps it in memory only. */
  storage?: OutboxStorage | null;
  /** Storage key ("jim-chat:outbox" by default). */
  key?: string;
  /** Most items kept (200 by default). */
  limit?: number;
}

/** The queue is full: the text stays where it was. */
export class OutboxFullError extends Error {
  constructor(limit: number) {
    super(`Too many messages waiting: ${limit} are not stored yet; your text stays in the box`);
    this.name = "OutboxFullError";
  }
}

/** A new page id: 16 random bytes as URL-safe base64. */
export function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function isItem(value: unknown): value is OutboxItem {
  const v = value as Partial<OutboxItem> | null;
  return typeof v === "object" && v !== null && typeof v.clientId === "string" &&
    /^[A-Za-z0-9_-]{8,64}$/.test(v.clientId) && typeof v.account === "string" &&
    typeof v.to === "string" &&
    typeof v.text === "string" && typeof v.time === "number" &&
    (v.state === "queued" || v.state === "sending" || v.state === "failed");
}

/**
 * Sends queued messages one at a time, in the order they were added (per account).
 *
 * @example
 * ```ts
 * const outbox = new Outbox({
 *   canSend: (item) => item.account === "alice@127.0.0.1:7777",
 *   post: async (item) => ({ kind: "stored", message: item }),
 * });
 * outbox.add("alice@127.0.0.1:7777", "bob", "hi");
 * ```
 */
export class Outbox {
  readonly #options: OutboxOptions;
  readonly #key: string;
  readonly #limit: number;
  #items: OutboxItem[] = [];
  #running = false;
  #again = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#key = options.key ?? "jim-chat:outbox";
    this.#limit = Math.max(1, options.limit ?? 200);
    this.#items = this.#load();
  }

  /** Items in order, oldest first. */
  get items(): readonly OutboxItem[] {
    return this.#items;
  }

  /**
   * Queues a message and starts sending if it may.
   *
   * @throws {OutboxFullError} when `limit` items wait already.
   */
  add(account: string, to: string, text: string, now: number = Date.now()): OutboxItem {
    if (this.#items.length >= this.#limit) throw new OutboxFullError(this.#limit);
    const item: OutboxItem = {
      clientId: newClientId(),
      account,
      to,
      text,
      time: now,
      state: "queued",
    };
    this.#items = [...this.#items, item];
    this.#changed();
    this.kick();
    return item;
  }

  /**
   * The GUI reported a stored message with this page id (on the live stream, maybe before
   * the post's own answer): the history shows it from now on.
   */
  settle(clientId: string): boolean {
    const before = this.#items.length;
    this.#items = this.#items.filter((i) => i.clientId !== clientId);
    if (this.#items.length === before) return false;
    this.#changed();
    return true;
  }

  /** Queues a refused item again. */
  retry(clientId: string): void {
    this.#update(clientId, (i) => i.state === "failed" ? { ...i, state: "queued" } : i);
    this.kick();
  }

  /** Drops an item, at the user's request. */
  discard(clientId: string): OutboxItem | undefined {
    const item = this.#items.find((i) => i.clientId === clientId);
    if (item) this.settle(clientId);
    return item;
  }

  /** Starts sending, if it may and is not already: after a reconnect, or a new item. */
  kick(): void {
    // A kick while a run is on makes it look again when it ends: an item added just as the
    // run found nothing to send is not left waiting.
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void (async () => {
      try {
        do {
          this.#again = false;
          await this.#run();
        } while (this.#again);
      } finally {
        this.#running = false;
      }
    })();
  }

  async #run(): Promise<void> {
    while (true) {
      // The first queued item that may go; items of an account not connected keep waiting.
      const next = this.#items.find((i) => i.state === "queued" && this.#options.canSend(i));
      if (!next) return;
      const sending: OutboxItem = { ...next, state: "sending" };
      this.#replace(sending);
      const outcome = await this.#options.post(sending);
      const current = this.#items.find((i) => i.clientId === sending.clientId);
      if (outcome.kind === "stored") {
        if (current) this.settle(sending.clientId);
        this.#options.onStored?.(sending, outcome.message);
      } else if (outcome.kind === "refused") {
        if (current) this.#replace({ ...current, state: "failed", error: outcome.error });
      } else {
        // Not now: the item keeps its place, and everything after it waits too.
        if (current) this.#replace({ ...current, state: "queued" });
        return;
      }
    }
  }

  #update(clientId: string, fn: (item: OutboxItem) => OutboxItem): void {
    let changed = false;
    this.#items = this.#items.map((i) => {
      if (i.clientId !== clientId) return i;
      const next = fn(i);
      if (next !== i) changed = true;
      return next;
    });
    if (changed) this.#changed();
  }

  #replace(item: OutboxItem): void {
    this.#update(item.clientId, () => item);
  }

  #changed(): void {
    this.#save();
    this.#options.onChange?.();
  }

  #load(): OutboxItem[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#options.storage?.getItem(this.#key) ?? "[]");
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    // An item "sending" when the page went away may or may not be stored: posting it again
    // with the same id settles it either way.
    return parsed.filter(isItem).slice(0, this.#limit).map((i) =>
      i.state === "sending" ? { ...i, state: "queued" } : i
    );
  }

  #save(): void {
    const storage = this.#options.storage;
    if (!storage) return;
    try {
      if (this.#items.length === 0) storage.removeItem(this.#key);
      else storage.setItem(this.#key, JSON.stringify(this.#items));
    } catch {
      // Storage full or disabled: the queue still lives in memory.
    }
  }
}
