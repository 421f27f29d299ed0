import { Panel } from "../../components/mod.ts";
import type { ChatState } from "../_types.ts";

/**
 * The seed's Parameters panel: who is connected to which server, once connected.
 *
 * @example
 * ```tsx
 * <ParametersPanel state={state} />
 * ```
 */
export function ParametersPanel({ state }: { state: ChatState | null }) {
  const on = state?.phase === "connected" || state?.phase === "reconnecting";
  const cell = (label: string, value: string | number | null | undefined, id: string) => (
    <div class="param">
      <dt class="label">{label}</dt>
      <dd class="value" data-param={id}>{on && value != null ? String(value) : "—"}</dd>
    </div>
  );
  return (
    <Panel title="Parameters" id="parameters" class="chat-params">
      <dl class="params">
        {cell("User name:", state?.user, "user")}
        {cell("Server IP:", state?.host, "host")}
        {cell("Server port:", state?.port, "port")}
        <div class="param">
          <dt class="label">Status:</dt>
          <dd class={`value phase-${state?.phase ?? "disconnected"}`} data-param="phase">
            {state?.phase === "connected"
              ? "Connected"
              : state?.phase === "connecting"
              ? "Connecting…"
              : state?.phase === "reconnecting"
              ? "Reconnecting…"
              : "Disconnected"}
          </dd>
        </div>
      </dl>
    </Panel>
  );
}
