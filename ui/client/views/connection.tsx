import { useEffect, useRef, useState } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import type { ChatState } from "../_types.ts";
import type { ConnectRequest, FormError } from "../page/chat_page.ts";

/** Props of {@linkcode ConnectionPanel}. */
export interface ConnectionPanelProps {
  state: ChatState | null;
  /** Connects; resolves true when connected (the password field then clears). */
  onConnect(request: ConnectRequest): Promise<boolean>;
  onDisconnect(): Promise<void>;
  /** The user edits a field: the old error no longer applies. */
  onEdit(): void;
  error: FormError | null;
  /** The page's clock, for the lockout countdown. */
  now: number;
}

/** "4:05" for 245 seconds; "12 s" under a minute. */
function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * The seed's Connection panel: User name, Password, Server IP and Server port with Connect
 * and Disconnect. The password lives only in this field until it is sent, and the field
 * clears once the connection is made. Once connected the panel folds into the header's
 * Disconnect button. While the server locks logins out, Connect waits and counts down.
 *
 * @example
 * ```tsx
 * <ConnectionPanel state={state} error={null} onConnect={connect} onDisconnect={disconnect} />
 * ```
 */
export function ConnectionPanel(props: ConnectionPanelProps) {
  const { state, error } = props;
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [host, setHost] = useState("");
  const [port, setPort] = useState("");
  // Fields follow the last connection until the user edits them.
  const edited = useRef(new Set<string>());
  const lastUser = state?.last.user;
  const lastHost = state?.last.host;
  const lastPort = state?.last.port;
  useEffect(() => {
    if (lastUser !== undefined && !edited.current.has("user")) setUser(lastUser);
    if (lastHost !== undefined && !edited.current.has("host")) setHost(lastHost);
    if (lastPort !== undefined && !edited.current.has("port")) setPort(String(lastPort));
  }, [lastUser, lastHost, lastPort]);
  const edit = (field: string, set: (v: string) => void) => (ev: Event) => {
    edited.current.add(field);
    set((ev.target as HTMLInputElement).value);
    props.onEdit();
  };

  const phase = state?.phase ?? "disconnected";
  const lockedMs = state?.retryAt != null ? state.retryAt - props.now : 0;
  const locked = lockedMs > 0;
  const busy = phase === "connecting";
  // Reconnecting needs nothing from the form: the session logs in again by itself.
  const connected = phase === "connected" || phase === "reconnecting";
  const invalid = (field: string) => (error?.field === field ? "true" : undefined);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (busy || connected || locked) return;
    const ok = await props.onConnect({
      user: user.trim(),
      password,
      host: host.trim(),
      port: Number(port),
    });
    if (ok) setPassword("");
  };

  return (
    <Panel title="Connection" id="connection" class="chat-connection">
      <form class="connection-form" onSubmit={submit} aria-describedby="connection-error">
        <label class="sr-only" for="conn-user">User name</label>
        <input
          id="conn-user"
          name="user"
          type="text"
          placeholder="User name"
          autocomplete="username"
          spellcheck={false}
          value={user}
          aria-invalid={invalid("user")}
          onInput={edit("user", setUser)}
        />
        <label class="sr-only" for="conn-password">Password</label>
        <input
          id="conn-password"
          name="password"
          type="password"
          placeholder="Password"
          autocomplete="current-password"
          value={password}
          aria-invalid={invalid("password")}
          onInput={(ev) => {
            setPassword((ev.target as HTMLInputElement).value);
            props.onEdit();
          }}
        />
        <div class="conn-row">
          <label class="sr-only" for="conn-host">Server IP</label>
          <input
            id="conn-host"
            name="host"
            type="text"
            placeholder="Server IP"
            title="One server, or several of a cluster tried in turn: a:7777,b:7777"
            spellcheck={false}
            value={host}
            aria-invalid={invalid("host")}
            onInput={edit("host", setHost)}
          />
          <button type="submit" id="connect" disabled={busy || connected || locked}>
            {busy ? "Connecting…" : "Connect"}
          </button>
        </div>
        <div class="conn-row">
          <label class="sr-only" for="conn-port">Server port</label>
          <input
            id="conn-port"
            name="port"
            type="text"
            inputMode="numeric"
            placeholder="Server port"
            value={port}
            aria-invalid={invalid("port")}
            onInput={edit("port", setPort)}
          />
          <button
            type="button"
            id="disconnect"
            disabled={!connected && !busy}
            onClick={() => void props.onDisconnect()}
          >
            Disconnect
          </button>
        </div>
        <p id="connection-error" class="error-text" role="alert">
          {/* A lockout's own error ends with the countdown: Connect may be tried again. */}
          {state?.retryAt != null ? "" : error?.text ?? ""}
        </p>
        {locked && (
          <p id="lockout" class="error-text" role="timer" aria-live="off">
            Too many failed logins: Connect is possible again in {countdown(lockedMs)}
          </p>
        )}
      </form>
    </Panel>
  );
}
