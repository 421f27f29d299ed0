/**
 * Preact components both GUIs share.
 *
 * @module
 */
export { Panel, type PanelProps } from "./panel.tsx";
export { ConfirmDialog, type ConfirmDialogProps } from "./confirm_dialog.tsx";
export { type LogEntry, LogView, type LogViewProps } from "./log_view.tsx";
export { ThemeSelect } from "./theme_select.tsx";
export { type Store, useStore } from "./use_store.ts";
export { VirtualList, type VirtualListProps } from "./virtual_list.tsx";
