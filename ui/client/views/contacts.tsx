import { useEffect, useRef, useState } from "preact/hooks";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import type { ContactView } from "../_types.ts";
import type { FocusRequest } from "../page/chat_page.ts";
import { ContactList } from "./contact_list.tsx";

/** Props of {@linkcode ContactsPanel}. */
export interface ContactsPanelProps {
  contacts: readonly ContactView[];
  selected: string | null;
  connected: boolean;
  focus: FocusRequest | null;
  onOpen(login: string): void;
  /** Deletes the contact; resolves to an error text, or null on success. */
  onDelete(login: string): Promise<string | null>;
}

const ENTRIES = "button[data-contact]";

/**
 * The seed's Contacts list with "Delete selected contact". Beyond the seed: an online dot
 * and an unread counter per contact. Up, Down, Home and End move the focus through the list
 * (one tab stop); Enter or a click opens the conversation. Lists of other kinds (rooms) go
 * beside the people's list and share the keys.
 *
 * @example
 * ```tsx
 * <ContactsPanel contacts={list} selected="bob" connected focus={null} onOpen={open}
 *   onDelete={del} />
 * ```
 */
export function ContactsPanel(props: ContactsPanelProps) {
  const { contacts, selected } = props;
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  // The entry that takes the tab stop: the selected one, else the first.
  const [current, setCurrent] = useState<string | null>(null);
  const tabStop = contacts.some((c) => c.login === current)
    ? current
    : contacts.some((c) => c.login === selected)
    ? selected
    : contacts[0]?.login ?? null;

  const focusSeq = props.focus?.target === "contacts" ? props.focus.seq : 0;
  useEffect(() => {
    if (focusSeq === 0) return;
    const el = box.current;
    const entry = el?.querySelector<HTMLButtonElement>(`${ENTRIES}[tabindex="0"]`) ??
      el?.querySelector<HTMLButtonElement>(ENTRIES);
    // With nobody to talk to yet, adding someone is the next step.
    (entry ?? document.getElementById("add-login"))?.focus();
  }, [focusSeq]);

  const onKeyDown = (ev: KeyboardEvent) => {
    const keys = ["ArrowDown", "ArrowUp", "Home", "End"];
    if (!keys.includes(ev.key)) return;
    const entries = [...(box.current?.querySelectorAll<HTMLButtonElement>(ENTRIES) ?? [])];
    if (entries.length === 0) return;
    ev.preventDefault();
    const at = entries.indexOf(document.activeElement as HTMLButtonElement);
    const next = ev.key === "Home"
      ? 0
      : ev.key === "End"
      ? entries.length - 1
      : ev.key === "ArrowDown"
      ? Math.min(entries.length - 1, at + 1)
      : Math.max(0, at < 0 ? 0 : at - 1);
    const target = entries[next]!;
    setCurrent(target.dataset.contact ?? null);
    target.focus();
  };

  const confirm = async () => {
    setAsking(false);
    if (selected === null) return;
    setError(await props.onDelete(selected));
  };

  return (
    <Panel title="Contacts" id="contacts" class="chat-contacts">
      <div class="contacts-box" ref={box} onKeyDown={onKeyDown}>
        <ContactList
          label="Contacts"
          contacts={contacts}
          selected={selected}
          tabStop={tabStop}
          empty="No contacts yet: add one above"
          onOpen={(login) => {
            setCurrent(login);
            props.onOpen(login);
          }}
        />
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
