import { useLayoutEffect, useReducer } from "preact/hooks";

/** A page controller the views read: a snapshot and change notifications. */
export interface Store<T> {
  /** The current snapshot; a new object after every change. */
  get(): T;
  /** Calls `listener` after changes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/**
 * Re-renders the calling component whenever `store` changes and returns its snapshot.
 *
 * @example
 * ```tsx
 * const state = useStore(page);
 * return <p>{state.user}</p>;
 * ```
 */
export function useStore<T>(store: Store<T>): T {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  useLayoutEffect(() => store.subscribe(() => rerender(0)), [store]);
  return store.get();
}
