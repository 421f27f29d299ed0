import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { apiJson } from "../../api_client.ts";
import { LiveClient, type LiveStatus } from "../../live_client.ts";
import { ThemeSelect } from "../../components/mod.ts";
import type { AdminState, ClientRow, RoomRowJson, ServerStatus, ServiceEntry } from "../_types.ts";
import type { ServiceFeed } from "../page/service_feed.ts";
import { AddClientPanel } from "./add_client.tsx";
import { ClientsPanel } from "./clients.tsx";
import { ParametersPanel } from "./parameters.tsx";
import { RoomsPanel } from "./rooms.tsx";
import { ServerBar } from "./server_bar.tsx";
import { ServiceInfoPanel } from "./service_info.tsx";

const LIVE_LABEL: Record<LiveStatus, string> = {
  connecting: "GUI connecting…",
  open: "GUI live",
  reconnecting: "GUI connection lost",
  closed: "GUI offline",
};

/**
 * The admin page: the header holds the Parameters (folded while the server runs, with Stop
 * server); Clients and Add new client on the left, Service info on the right; below 600 px
 * the two are separate views.
 *
 * @example
 * ```tsx
 * render(<AdminApp feed={new ServiceFeed()} />, document.getElementById("app")!);
 * ```
 */
export function AdminApp({ feed }: { feed: ServiceFeed }) {
  const [status, setStatus] = useState<ServerStatus | null>(null);
  const [clients, setClients] = useState<ClientRow[] | null>(null);
  const [live, setLive] = useState<LiveStatus>("connecting");
  const [pageError, setPageError] = useState<string | null>(null);
  const [view, setView] = useState<"clients" | "log">("clients");
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Rooms (issue 13).
  const [rooms, setRooms] = useState<RoomRowJson[] | null>(null);
  const roomsTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Clients change rooms with their requests, which reach the page as Service info entries:
  // one refetch per burst of them.
  const refetchRooms = useCallback(() => {
    clearTimeout(roomsTimer.current);
    roomsTimer.current = setTimeout(async () => {
      try {
        setRooms(await apiJson<RoomRowJson[]>("/api/rooms"));
      } catch (err) {
        setPageError((err as Error).message);
      }
    }, 300);
  }, []);

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
    let client: LiveClient | undefined;
    let gone = false;
    // Service info first: the stream's replay then adds only what is newer.
    void feed.load().finally(() => {
      if (gone) return;
      client = new LiveClient("/api/events", {
        onEvent(topic, data) {
          if (topic === "log") {
            feed.add(data as ServiceEntry);
            refetchRooms();
          } else if (topic === "rooms") refetchRooms();
          else if (topic === "service") void feed.load();
          else if (topic === "server") setStatus(data as ServerStatus);
          else if (topic === "clients") refetchClients();
        },
        onSync(reason) {
          if (reason !== "ready") void feed.load();
          void loadState();
          refetchRooms();
        },
        onStatus: setLive,
      });
    });
    return () => {
      gone = true;
      client?.close();
      clearTimeout(refetchTimer.current);
      clearTimeout(roomsTimer.current);
    };
  }, [feed]);

  const running = status?.running ?? false;
  return (
    <div class="admin-page" data-view={view}>
      <header class="app-header admin-header">
        <h1>JIM server</h1>
        <ServerBar status={status} clients={clients} onStatus={setStatus} />
        <div class="header-tools">
          <span class="live-status" data-status={live} role="status">{LIVE_LABEL[live]}</span>
          <ThemeSelect />
        </div>
      </header>
      {pageError && <p class="notice page-notice" role="alert">{pageError}</p>}
      <nav class="view-tabs" aria-label="Views">
        <button type="button" aria-pressed={view === "clients"} onClick={() => setView("clients")}>
          Clients
        </button>
        <button type="button" aria-pressed={view === "log"} onClick={() => setView("log")}>
          Service info
        </button>
      </nav>
      <main class="layout admin-layout">
        {!running && <ParametersPanel status={status} onStatus={setStatus} />}
        <div class="admin-left">
          <ClientsPanel clients={clients} onChanged={refetchClients} />
          <AddClientPanel onAdded={refetchClients} />
          <RoomsPanel rooms={rooms} onChanged={refetchRooms} />
        </div>
        <ServiceInfoPanel feed={feed} />
      </main>
    </div>
  );
}
