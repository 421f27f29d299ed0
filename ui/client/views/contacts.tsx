import { useState } from "preact/hooks";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import type { ContactView } from "../_types.ts";

/** Props of {@linkcode ContactsPanel}. */
export interface ContactsPanelProps {
  contacts: readonly ContactView[];
  selected: string | null;
  connected: boolean;
  onSelect(login: string): void;
  /** Deletes the contact; resolves to an error text, or null on success. */
  onDelete(login: string): Promise<string | null>;
}

/**
 * The seed's Contacts list with "Delete selected contact". Beyond the seed: an online dot
 * and an unread counter per contact. Up and Down move the selection.
 *
 * @example
 * ```tsx
 * <ContactsPanel contacts={list} selected="bob" connected onSelect={pick} onDelete={del} />
 * ```
 */
export function ContactsPanel(props: ContactsPanelProps) {
  const { contacts, selected } = props;
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    if (contacts.length === 0) return;
    ev.preventDefault();
    const at = contacts.findIndex((c) => c.login === selected);
    const next = ev.key === "ArrowDown"
      ? Math.min(contacts.length - 1, at + 1)
      : Math.max(0, at < 0 ? 0 : at - 1);
    const login = contacts[next]?.login;
    if (login === undefined) return;
    props.onSelect(login);
    const list = ev.currentTarget as HTMLElement;
    list.querySelector<HTMLButtonElement>(`[data-contact="${CSS.escape(login)}"]`)?.focus();
  };

  const confirm = async () => {
    setAsking(false);
    if (selected === null) return;
    setError(await props.onDelete(selected));
  };

  return (
    <Panel title="Contacts" id="contacts" class="chat-contacts">
      <div class="contacts-box">
        <ul class="contact-list" aria-label="Contacts" onKeyDown={onKeyDown}>
          {contacts.length === 0 && <li class="empty">No contacts yet</li>}
          {contacts.map((c) => (
            <li key={c.login}>
              <button
                type="button"
                class={`contact${c.login === selected ? " selected" : ""}`}
                data-contact={c.login}
                aria-pressed={c.login === selected}
                onClick={() => props.onSelect(c.login)}
              >
                <span
                  class={`dot${c.online ? " on" : ""}`}
                  role="img"
                  aria-label={c.online ? "online" : "offline"}
                  title={c.online ? "online" : "offline"}
                />
                <span class="contact-name">{c.login}</span>
                {c.unread > 0 && (
                  <span class="unread" aria-label={`${c.unread} unread`} data-unread={c.unread}>
                    {c.unread > 99 ? "99+" : c.unread}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      </div>
      <div class="contacts-actions">
        <button
          type="button"
          id="delete-contact"
          disabled={selected === null || !props.connected}
          onClick={() => {
            setError(null);
            setAsking(true);
          }}
        >
          Delete selected contact
        </button>
      </div>
      <p class="error-text" role="alert" id="contacts-error">{error ?? ""}</p>
      <ConfirmDialog
        open={asking}
        title="Delete contact?"
        confirmLabel="Delete"
        onConfirm={() => void confirm()}
        onCancel={() => setAsking(false)}
      >
        Delete <strong>{selected}</strong> from your contacts? The message history stays.
      </ConfirmDialog>
    </Panel>
  );
}
