import { useState } from "preact/hooks";
import { ApiError, apiJson } from "../../api_client.ts";
import { Panel } from "../../components/mod.ts";
import { loginProblem, passwordProblem } from "../_validate.ts";

/** Props of {@linkcode AddClientPanel}. */
export interface AddClientProps {
  onAdded(login: string): void;
}

/** Login and Password fields, the legacy checkbox and "Add client", with inline errors. */
export function AddClientPanel({ onAdded }: AddClientProps) {
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [legacy, setLegacy] = useState(false);
  const [loginError, setLoginError] = useState<string | null>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(ev: Event) {
    ev.preventDefault();
    const name = login.trim();
    const lp = loginProblem(name);
    const pp = passwordProblem(password);
    setLoginError(lp);
    setPasswordError(pp);
    setFormError(null);
    if (lp || pp) return;
    setBusy(true);
    try {
      await apiJson("/api/clients", { method: "POST", body: { login: name, password, legacy } });
      setLogin("");
      setPassword("");
      setLegacy(false);
      onAdded(name);
    } catch (err) {
      const message = (err as Error).message;
      const field = err instanceof ApiError ? fieldOf(err) : null;
      if (field === "password") setPasswordError(message);
      else if (field === "login") setLoginError(message);
      else setFormError(message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Panel title="Add new client" id="add-client" class="area-add">
      <form class="add-grid" onSubmit={submit} noValidate>
        <div class="field">
          <label for="new-login">Login</label>
          <input
            id="new-login"
            type="text"
            placeholder="Login"
            autoComplete="off"
            spellcheck={false}
            value={login}
            aria-invalid={loginError ? "true" : undefined}
            aria-describedby="new-login-error"
            onInput={(ev) => {
              setLogin((ev.target as HTMLInputElement).value);
              setLoginError(null);
            }}
          />
          <p class="error-text" id="new-login-error" role="alert">{loginError ?? ""}</p>
        </div>
        <div class="field">
          <label for="new-password">Password</label>
          <input
            id="new-password"
            type="password"
            placeholder="Password"
            autoComplete="new-password"
            value={password}
            aria-invalid={passwordError ? "true" : undefined}
            aria-describedby="new-password-error"
            onInput={(ev) => {
              setPassword((ev.target as HTMLInputElement).value);
              setPasswordError(null);
            }}
          />
          <p class="error-text" id="new-password-error" role="alert">{passwordError ?? ""}</p>
        </div>
        <div class="add-actions">
          <button type="submit" disabled={busy}>Add client</button>
        </div>
        <div class="field inline add-legacy">
          <input
            id="new-legacy"
            type="checkbox"
            checked={legacy}
            onChange={(ev) => setLegacy((ev.target as HTMLInputElement).checked)}
          />
          <label for="new-legacy">Also store the legacy hash (seed clients, HMAC-MD5)</label>
        </div>
      </form>
      <p class="error-text" role="alert" id="add-client-error">{formError ?? ""}</p>
    </Panel>
  );
}

function fieldOf(err: ApiError): "login" | "password" | null {
  const field = err.body?.field;
  if (field === "login" || field === "password") return field;
  if (err.status === 409) return "login";
  if (/^password/i.test(err.message)) return "password";
  if (/^login/i.test(err.message)) return "login";
  return null;
}
