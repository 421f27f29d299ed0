import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { apiJson } from "../../api_client.ts";
import { LiveClient, type LiveStatus } from "../../live_client.ts";
import { LogView, Panel, useLog } from "../../components/mod.ts";
import type { AdminState, ClientRow, LogEvent, ServerStatus } from "../_types.ts";
import { AddClientPanel } from "./add_client.tsx";
import { ClientsPanel } from "./clients.tsx";
import { formatLogEvent } from "./format.ts";
import { ParametersPanel } from "./parameters.tsx";

const LIVE_LABEL: Record<LiveStatus, string> = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

/** The admin page: Parameters, Clients, Add new client and Service info. */
export function AdminApp() {
  const [status, setStatus] = useState<ServerStatus | null>(null);
  const [clients, setClients] = useState<ClientRow[] | null>(null);
  const [live, setLive] = useState<LiveStatus>("connecting");
  const [pageError, setPageError] = useState<string | null>(null);
  const log = useLog();
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const loadState = useCallback(async () => {
    try {
      const state = await apiJson<AdminState>("/api/state");
      setStatus(state.server);
      setClients(state.clients);
      setPageError(null);
    } catch (err) {
      setPageError((err as Error).message);
    }
  }, []);

  // Logins arrive in bursts; one refetch per burst is enough.
  const refetchClients = useCallback(() => {
    clearTimeout(refetchTimer.current);
    refetchTimer.current = setTimeout(async () => {
      try {
        setClients(await apiJson<ClientRow[]>("/api/clients"));
      } catch (err) {
        setPageError((err as Error).message);
      }
    }, 50);
  }, []);

  useEffect(() => {
    const client = new LiveClient("/api/events", {
      onEvent(topic, data) {
        if (topic === "log") log.append(formatLogEvent(data as LogEvent));
        else if (topic === "server") setStatus(data as ServerStatus);
        else if (topic === "clients") refetchClients();
      },
      onSync(reason, detail) {
        if (reason === "reset") {
          log.clear();
          log.append({ head: "Reconnected: Service info reloaded", level: "notice" });
        } else if (reason === "missed") {
          const count = (detail as { count?: number } | undefined)?.count ?? 0;
          log.append({ head: `Too busy: ${count} events not shown`, level: "error" });
        }
        loadState();
      },
      onStatus: setLive,
    });
    return () => {
      client.close();
      clearTimeout(refetchTimer.current);
    };
  }, []);

  return (
    <>
      <header class="app-header">
        <h1>JIM server</h1>
        <span class="live-status" data-status={live} role="status">{LIVE_LABEL[live]}</span>
      </header>
      {pageError && <p class="notice page-notice" role="alert">{pageError}</p>}
      <main class="layout admin-grid">
        <ParametersPanel status={status} onStatus={setStatus} />
        <ClientsPanel clients={clients} onChanged={refetchClients} />
        <AddClientPanel onAdded={refetchClients} />
        <Panel title="Service info" id="service-info" class="area-log">
          <LogView label="Service info" log={log} idPrefix="service" />
        </Panel>
      </main>
    </>
  );
}
