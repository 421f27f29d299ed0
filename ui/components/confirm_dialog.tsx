import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef } from "preact/hooks";

/** Props of {@linkcode ConfirmDialog}. */
export interface ConfirmDialogProps {
  /** Shown while true. */
  open: boolean;
  title: string;
  children?: ComponentChildren;
  /** Label of the confirming button, e.g. "Remove". */
  confirmLabel: string;
  onConfirm(): void;
  onCancel(): void;
}

/**
 * A modal confirmation on the native `<dialog>`: focus moves into it, Escape cancels, and
 * screen readers announce it as a dialog.
 *
 * @example
 * ```tsx
 * <ConfirmDialog open={asking} title="Remove client?" confirmLabel="Remove"
 *   onConfirm={remove} onCancel={() => setAsking(false)}>Remove alice?</ConfirmDialog>
 * ```
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  // Several dialogs live on one page: each names itself by its own heading.
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby={titleId}
      onCancel={(ev) => {
        ev.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div>{props.children}</div>
      <div class="row">
        <button type="button" onClick={props.onCancel}>Cancel</button>
        <button type="button" class="danger" onClick={props.onConfirm}>{props.confirmLabel}</button>
      </div>
    </dialog>
  );
}
