import type { ComponentChildren } from "preact";

/** Props of {@linkcode Panel}. */
export interface PanelProps {
  /** The legend, like the seed's group box titles ("Parameters", "Clients"). */
  title: string;
  /** Extra class names, e.g. for grid placement. */
  class?: string;
  /** Used to name the region for screen readers and tests. */
  id?: string;
  children?: ComponentChildren;
}

/**
 * A titled group box (fieldset and legend), the building block of the seed's layout.
 *
 * @example
 * ```tsx
 * <Panel title="Parameters"><p>…</p></Panel>
 * ```
 */
export function Panel({ title, children, id, ...rest }: PanelProps) {
  return (
    <fieldset class={`panel ${rest.class ?? ""}`.trim()} id={id}>
      <legend>{title}</legend>
      {children}
    </fieldset>
  );
}
