import { useState } from "preact/hooks";
import { apiJson } from "../../api_client.ts";
import { ConfirmDialog } from "../../components/mod.ts";
import type { ClientRow, ServerStatus } from "../_types.ts";

/** Props of {@linkcode ServerBar}. */
export interface ServerBarProps {
  status: ServerStatus | null;
  clients: readonly ClientRow[] | null;
  onStatus(status: ServerStatus): void;
}

/**
 * The Parameters panel folded into the header while the server runs: its address, its
 * status, who is online and Stop server, which asks first when clients would be cut off.
 *
 * @example
 * ```tsx
 * <ServerBar status={status} clients={rows} onStatus={setStatus} />
 * ```
 */
export function ServerBar({ status, clients, onStatus }: ServerBarProps) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = status?.running ?? false;
  const online = (clients ?? []).filter((c) => c.online).map((c) => c.login);

  async function stop() {
    setAsking(false);
    setBusy(true);
    setError(null);
    try {
      onStatus(await apiJson<ServerStatus>("/api/server/stop", { method: "POST" }));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="server-bar" id="parameters-bar" aria-label="Parameters">
      {running && <span class="server-addr">{status!.host}:{status!.port}</span>}
      <span class="sr-only" id="status-label">Status:</span>
      <output
        id="server-status"
        aria-labelledby="status-label"
        aria-live="polite"
        class={running ? "status-ok" : "status-bad"}
      >
        {status === null ? "…" : running ? "Started" : "Stopped"}
      </output>
      {running && <span class="online-count">{online.length} online</span>}
      {running && (
        <button
          type="button"
          id="stop-server"
          disabled={busy}
          onClick={() => (online.length > 0 ? setAsking(true) : void stop())}
        >
          Stop server
        </button>
      )}
      {error && <span class="error-text" role="alert">{error}</span>}
      <ConfirmDialog
        open={asking}
        title="Stop the server?"
        confirmLabel="Stop and disconnect them"
        onConfirm={() => void stop()}
        onCancel={() => setAsking(false)}
      >
        <p>
          {online.length === 1 ? "1 client is" : `${online.length} clients are`} online:{" "}
          <strong>{online.join(", ")}</strong>. Stopping the server disconnects them.
        </p>
      </ConfirmDialog>
    </section>
  );
}
