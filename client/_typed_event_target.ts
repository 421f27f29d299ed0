/**
 * The EventTarget the client's event sources share: listeners typed by an event map, and
 * one way to dispatch a CustomEvent.
 *
 * @module
 */

/** The `detail` type of a CustomEvent type, or never. */
export type DetailOf<E> = E extends CustomEvent<infer D> ? D : never;

/**
 * What the implementations accept: a typed listener takes a narrower event than `Event`, so
 * it is not an `EventListener` to the compiler, though the dispatcher only ever passes it the
 * events of its name.
 */
type Listener = EventListenerOrEventListenerObject | ((event: never) => void) | null;

/**
 * An EventTarget whose `addEventListener` and `removeEventListener` know the event type of
 * each name in `M`, a map from event names to the CustomEvents dispatched under them.
 *
 * @example
 * ```ts
 * import { TypedEventTarget } from "./_typed_event_target.ts";
 * interface Events {
 *   tick: CustomEvent<number>;
 * }
 * class Clock extends TypedEventTarget<Events> {
 *   tick(n: number) {
 *     this.emit("tick", n);
 *   }
 * }
 * const clock = new Clock();
 * clock.addEventListener("tick", (e) => console.log(e.detail + 1));
 * clock.tick(41); // 42
 * ```
 */
export class TypedEventTarget<M extends Record<keyof M, Event>> extends EventTarget {
  /** Adds a listener; typed for the events in the map. */
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for any event type. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Removes a listener added with `addEventListener`. */
  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes a listener for any event type. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Dispatches a CustomEvent of `type` carrying `detail`. */
  protected emit<K extends keyof M & string>(type: K, detail: DetailOf<M[K]>): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
