import { useEffect, useState } from "preact/hooks";
import { apiJson } from "../../api_client.ts";
import { Panel } from "../../components/mod.ts";
import { hostProblem, portProblem } from "../_validate.ts";
import type { ServerStatus } from "../_types.ts";

/** Props of {@linkcode ParametersPanel}. */
export interface ParametersProps {
  status: ServerStatus | null;
  onStatus(status: ServerStatus): void;
}

/**
 * The seed's Parameters panel while the server is stopped: Host and Port and Start server.
 * While it runs, the panel folds into the header (server_bar.tsx).
 */
export function ParametersPanel({ status, onStatus }: ParametersProps) {
  const [host, setHost] = useState("");
  const [port, setPort] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = status?.running ?? false;

  // Follow the server's address while it runs or when it changes from elsewhere.
  useEffect(() => {
    if (!status) return;
    setHost(status.host);
    setPort(String(status.port));
  }, [status?.host, status?.port, status?.running]);

  useEffect(() => setError(status?.error ?? null), [status?.error]);

  async function start() {
    const problem = hostProblem(host.trim()) ?? portProblem(port);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onStatus(
        await apiJson<ServerStatus>("/api/server/start", {
          method: "POST",
          body: { host: host.trim(), port: Number(port) },
        }),
      );
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Panel title="Parameters" id="parameters" class="area-params">
      <form
        class="params-grid"
        onSubmit={(ev) => {
          ev.preventDefault();
          if (!running) start();
        }}
      >
        <label for="server-host">Host</label>
        <input
          id="server-host"
          type="text"
          value={host}
          disabled={running || busy}
          autoComplete="off"
          spellcheck={false}
          onInput={(ev) => setHost((ev.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={running || busy || !status}>Start server</button>

        <label for="server-port">Port</label>
        <input
          id="server-port"
          type="text"
          inputMode="numeric"
          value={port}
          disabled={running || busy}
          autoComplete="off"
          onInput={(ev) => setPort((ev.target as HTMLInputElement).value)}
        />
      </form>
      <p class="error-text" role="alert" id="server-error">{error ?? ""}</p>
    </Panel>
  );
}
