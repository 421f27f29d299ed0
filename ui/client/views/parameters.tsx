import type { ChatState } from "../_types.ts";

const PHASE_TEXT = {
  connected: "Connected",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  disconnected: "Disconnected",
} as const;

/**
 * The seed's Parameters panel, folded into the header: who is connected to which chat
 * server, and how that connection stands. While the GUI's own link is lost, the values are
 * the last known ones and say so.
 *
 * @example
 * ```tsx
 * <ParametersPanel state={state} stale={false} />
 * ```
 */
export function ParametersPanel(props: { state: ChatState | null; stale: boolean }) {
  const { state } = props;
  const phase = state?.phase ?? "disconnected";
  const on = phase === "connected" || phase === "reconnecting";
  const cluster = on ? clusterPosition(state) : null;
  const value = (v: string | number | null | undefined) => (on && v != null ? String(v) : "—");
  return (
    <section
      class={`params-bar${props.stale ? " stale" : ""}`}
      id="parameters"
      aria-label="Parameters"
      title={props.stale ? "Last known: the GUI connection is lost" : undefined}
    >
      <dl class="params">
        {on && (
          <div class="param param-user">
            <dt class="sr-only">User name:</dt>
            <dd class="value" data-param="user">{value(state?.user)}</dd>
          </div>
        )}
        {on && (
          <div class="param param-server">
            <dt class="sr-only">Server IP:</dt>
            <dd class="value" data-param="host">{value(state?.host)}</dd>
            <dt class="sr-only">Server port:</dt>
            <dd class="value" data-param="port">{value(state?.port)}</dd>
            {cluster && (
              <>
                <dt class="sr-only">Server list:</dt>
                <dd class="value" data-param="servers" title={cluster.list}>
                  {cluster.text}
                </dd>
              </>
            )}
          </div>
        )}
        <div class="param param-phase">
          <dt class="label">Server:</dt>
          <dd class={`value phase-${phase}`} data-param="phase">{PHASE_TEXT[phase]}</dd>
        </div>
      </dl>
    </section>
  );
}

/** "server 2 of 3" when the session has a list of servers to fail over between. */
function clusterPosition(state: ChatState | null): { text: string; list: string } | null {
  const servers = state?.servers;
  if (!servers || servers.length < 2) return null;
  const show = (s: { host: string; port: number }) =>
    s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
  const at = servers.findIndex((s) =>
    s.host.toLowerCase() === state.host?.toLowerCase() && s.port === state.port
  );
  return {
    text: `server ${at + 1} of ${servers.length}`,
    list: `Fails over between ${servers.map(show).join(", ")}`,
  };
}
