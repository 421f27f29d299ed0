import type { ContactView } from "../_types.ts";

/** Props of {@linkcode ContactList}. */
export interface ContactListProps {
  /** Accessible name of the list, e.g. "Contacts". */
  label: string;
  contacts: readonly ContactView[];
  selected: string | null;
  /** The one entry reachable with Tab; the others take the arrow keys. */
  tabStop: string | null;
  /** Shown when the list is empty. */
  empty: string;
  /** Online dots (true by default); a list of rooms has none. */
  dots?: boolean;
  onOpen(login: string): void;
}

/**
 * One list of conversations: a button per contact with its online dot and unread count.
 *
 * @example
 * ```tsx
 * <ContactList label="Contacts" contacts={list} selected="bob" tabStop="bob"
 *   empty="No contacts yet" onOpen={open} />
 * ```
 */
export function ContactList(props: ContactListProps) {
  const { contacts, selected } = props;
  return (
    <ul class="contact-list" aria-label={props.label}>
      {contacts.length === 0 && <li class="empty">{props.empty}</li>}
      {contacts.map((c) => (
        <li key={c.login}>
          <button
            type="button"
            class={`contact${c.login === selected ? " selected" : ""}`}
            data-contact={c.login}
            aria-pressed={c.login === selected}
            tabIndex={c.login === props.tabStop ? 0 : -1}
            onClick={() => props.onOpen(c.login)}
          >
            {props.dots !== false && (
              <span
                class={`dot${c.online ? " on" : ""}`}
                role="img"
                aria-label={c.online ? "online" : "offline"}
                title={c.online ? "online" : "offline"}
              />
            )}
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
  );
}
