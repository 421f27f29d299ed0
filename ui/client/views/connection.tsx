import { useEffect, useRef, useState } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import type { ChatState } from "../_types.ts";

/** What the Connection form submits. */
export interface ConnectRequest {
  user: string;
  password: string;
  host: string;
  port: number;
}

/** An error shown in a form; `field` marks the input it belongs to. */
export interface FormError {
  text: string;
  field?: string;
}

/** Props of {@linkcode ConnectionPanel}. */
export interface ConnectionPanelProps {
  state: ChatState | null;
  /** Connects; resolves true when connected (the password field then clears). */
  onConnect(request: ConnectRequest): Promise<boolean>;
  onDisconnect(): Promise<void>;
  error: FormError | null;
}

/**
 * The seed's Connection panel: User name, Password, Server IP and Server port with Connect
 * and Disconnect. The password lives only in this field until it is sent, and the field
 * clears once the connection is made.
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
  };

  const phase = state?.phase ?? "disconnected";
  const busy = phase === "connecting";
  // Reconnecting needs nothing from the form: the session logs in again by itself.
  const connected = phase === "connected" || phase === "reconnecting";
  const invalid = (field: string) => (error?.field === field ? "true" : undefined);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (busy || connected) return;
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
          onInput={(ev) => setPassword((ev.target as HTMLInputElement).value)}
        />
        <div class="conn-row">
          <label class="sr-only" for="conn-host">Server IP</label>
          <input
            id="conn-host"
            name="host"
            type="text"
            placeholder="Server IP"
            spellcheck={false}
            value={host}
            aria-invalid={invalid("host")}
            onInput={edit("host", setHost)}
          />
          <button type="submit" id="connect" disabled={busy || connected}>
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
        <p id="connection-error" class="error-text" role="alert">{error?.text ?? ""}</p>
      </form>
    </Panel>
  );
}
