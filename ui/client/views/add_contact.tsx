import { useState } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import type { FormError } from "../page/chat_page.ts";

/** Props of {@linkcode AddContactPanel}. */
export interface AddContactPanelProps {
  connected: boolean;
  /** Adds the contact; resolves true on success (the field then clears). */
  onAdd(login: string): Promise<boolean>;
  error: FormError | null;
  /** The user edits the login: the old error no longer applies. */
  onEdit(): void;
}

/**
 * The seed's Add contact panel: a login field and Add; the server's refusals (no such
 * client, already in contacts) show under it.
 *
 * @example
 * ```tsx
 * <AddContactPanel connected onAdd={add} error={null} />
 * ```
 */
export function AddContactPanel(props: AddContactPanelProps) {
  const [login, setLogin] = useState("");
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (await props.onAdd(login.trim())) setLogin("");
  };
  return (
    <Panel title="Add contact" id="add-contact" class="chat-add">
      <form class="add-contact-form" onSubmit={submit}>
        <label class="sr-only" for="add-login">Login of the contact to add</label>
        <input
          id="add-login"
          type="text"
          placeholder="Login"
          spellcheck={false}
          value={login}
          aria-invalid={props.error ? "true" : undefined}
          aria-describedby="add-error"
          onInput={(ev) => {
            setLogin((ev.target as HTMLInputElement).value);
            if (props.error) props.onEdit();
          }}
        />
        <button type="submit" id="add-contact-button" disabled={!props.connected}>Add</button>
      </form>
      <p id="add-error" class="error-text" role="alert">{props.error?.text ?? ""}</p>
    </Panel>
  );
}
