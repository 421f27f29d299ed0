import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { ApiError, apiJson } from "../../api_client.ts";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import { passwordProblem } from "../_validate.ts";
import type { ClientRow, SessionView } from "../_types.ts";
import { formatDateTime } from "./format.ts";

/** Props of {@linkcode ClientsPanel}. */
export interface ClientsProps {
  clients: readonly ClientRow[] | null;
  /** Called after a change so the table refetches. */
  onChanged(): void;
}

type Pending =
  | { kind: "remove" | "reset"; login: string }
  | { kind: "end"; login: string; session: SessionView }
  | null;

/**
 * The Clients table: Login, Last time, Last IP, Online, with remove and reset actions; under an
 * online client, a row with each of its sessions (address, since when, End).
 */
export function ClientsPanel({ clients, onChanged }: ClientsProps) {
  const [pending, setPending] = useState<Pending>(null);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);

  function close() {
    setPending(null);
    setPassword("");
    setError(null);
  }

  async function confirm() {
    if (!pending) return;
    const path = `/api/clients/${encodeURIComponent(pending.login)}`;
    try {
      if (pending.kind === "remove") {
        await apiJson(path, { method: "DELETE" });
      } else if (pending.kind === "end") {
        const id = encodeURIComponent(pending.session.id);
        await apiJson(`${path}/sessions/${id}`, { method: "DELETE" });
      } else {
        const problem = passwordProblem(password);
        if (problem) {
          setError(problem);
          return;
        }
        await apiJson(`${path}/password`, { method: "POST", body: { password } });
      }
      close();
      onChanged();
    } catch (err) {
      setError((err as Error).message);
      if (err instanceof ApiError && err.status === 404) onChanged();
    }
  }

  return (
    <Panel title="Clients" id="clients" class="area-clients">
      <div class="table-wrap clients-wrap">
        <table class="grid" aria-label="Clients">
          <thead>
            <tr>
              <th scope="col">Login</th>
              <th scope="col">Last time</th>
              <th scope="col">Last IP</th>
              <th scope="col">Online</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {clients === null && (
              <tr>
                <td colSpan={5} class="empty">Loading…</td>
              </tr>
            )}
            {clients?.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">No clients yet: add one below.</td>
              </tr>
            )}
            {clients?.map((c) => (
              <Fragment key={c.login}>
                <tr data-login={c.login}>
                  <td>{c.login}</td>
                  <td>{formatDateTime(c.lastSeen)}</td>
                  <td>{c.lastIp ?? "—"}</td>
                  <td>
                    <span class={`dot ${c.online ? "on" : ""}`} aria-hidden="true" />
                    {c.online ? "Online" : "Offline"}
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      class="link"
                      aria-label={`Reset password of ${c.login}`}
                      onClick={() => setPending({ kind: "reset", login: c.login })}
                    >
                      Reset password
                    </button>{" "}
                    <button
                      type="button"
                      class="link danger"
                      aria-label={`Remove ${c.login}`}
                      onClick={() => setPending({ kind: "remove", login: c.login })}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
                {c.sessions.length > 0 && (
                  <tr class="sessions-row" data-sessions-of={c.login}>
                    <td colSpan={5}>
                      <ul class="sessions" aria-label={`Sessions of ${c.login}`}>
                        {c.sessions.map((s) => (
                          <li key={s.id} data-session={s.id}>
                            <span class="session-address">{s.address ?? "—"}</span>
                            <span class="session-since">since {formatDateTime(s.since)}</span>
                            {s.node !== null && <span class="session-node">on {s.node}</span>}
                            <button
                              type="button"
                              class="link danger"
                              aria-label={`End session ${s.id} of ${c.login}`}
                              onClick={() =>
                                setPending({ kind: "end", login: c.login, session: s })}
                            >
                              End
                            </button>
                          </li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={pending !== null}
        title={pending?.kind === "reset"
          ? `Reset the password of ${pending.login}?`
          : pending?.kind === "end"
          ? `End the session of ${pending.login} from ${pending.session.address ?? "?"}?`
          : `Remove client ${pending?.login ?? ""}?`}
        confirmLabel={pending?.kind === "reset"
          ? "Set password"
          : pending?.kind === "end"
          ? "End session"
          : "Remove"}
        onConfirm={confirm}
        onCancel={close}
      >
        {pending?.kind === "reset"
          ? (
            <div class="field">
              <label for="reset-password">New password</label>
              <input
                id="reset-password"
                type="password"
                autoComplete="new-password"
                value={password}
                aria-invalid={error ? "true" : undefined}
                aria-describedby="confirm-error"
                onInput={(ev) => setPassword((ev.target as HTMLInputElement).value)}
                onKeyDown={(ev) => {
                  if (ev.key === "Enter") {
                    ev.preventDefault();
                    confirm();
                  }
                }}
              />
            </div>
          )
          : pending?.kind === "end"
          ? <p>That session is told it was ended and closes; the client's other sessions go on.</p>
          : <p>The client can no longer log in; their contacts are deleted.</p>}
        <p class="error-text" role="alert" id="confirm-error">{error ?? ""}</p>
      </ConfirmDialog>
    </Panel>
  );
}
