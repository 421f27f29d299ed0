import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type LogState, LogView, Panel, useLog } from "../../components/mod.ts";
import { ApiError, apiJson } from "../../api_client.ts";
import { LiveClient, type LiveStatus } from "../../live_client.ts";
import type {
  ChatApiError,
  ChatState,
  ChatTopics,
  ContactsSnapshot,
  ContactView,
  MessagesReply,
  MessageView,
  ServiceEntry,
  ServiceReply,
} from "../_types.ts";
import { AddContactPanel } from "./add_contact.tsx";
import { ConnectionPanel, type ConnectRequest, type FormError } from "./connection.tsx";
import { ContactsPanel } from "./contacts.tsx";
import { InputPanel } from "./input.tsx";
import { MessagesPanel } from "./messages.tsx";
import { ParametersPanel } from "./parameters.tsx";

const SELECTED_KEY = "jim-chat:selected";
const DRAFT_PREFIX = "jim-chat:draft:";

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key: string, value: string | null): void {
  try {
    if (value === null || value === "") localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage may be full or disabled; the draft then lives only in memory.
  }
}

/** An API failure as a form error; the route's `field` marks the input it belongs to. */
function formError(err: unknown): FormError {
  if (err instanceof ApiError) {
    const field = (err.body as ChatApiError | undefined)?.field;
    return field ? { text: err.message, field } : { text: err.message };
  }
  return { text: err instanceof Error ? err.message : String(err) };
}

const call = apiJson;

function upsert(list: readonly MessageView[], m: MessageView): MessageView[] {
  const at = list.findIndex((x) => x.id === m.id);
  if (at >= 0) {
    const out = list.slice();
    out[at] = m;
    return out;
  }
  const out = [...list, m];
  // Ids follow insertion; time may tie, so order by time then id like the history does.
  out.sort((a, b) => a.time - b.time || a.id - b.id);
  return out;
}

function appendService(
  append: LogState["append"],
  seen: { current: number },
  e: ServiceEntry,
): void {
  if (e.seq <= seen.current) return;
  seen.current = e.seq;
  append({ time: e.time, head: e.text, level: e.level });
}

/**
 * The chat GUI page: the seed's client window (Parameters, Connection, Add contact, Contacts,
 * Messages, Input, Service info) over the GUI's JSON API and live stream.
 *
 * @example
 * ```tsx
 * import { render } from "preact";
 * render(<ChatApp />, document.getElementById("app")!);
 * ```
 */
export function ChatApp() {
  const [state, setState] = useState<ChatState | null>(null);
  const [contacts, setContacts] = useState<ContactsSnapshot>({ rev: -1, contacts: [] });
  const [selected, setSelectedRaw] = useState<string | null>(() => stored(SELECTED_KEY));
  const [messages, setMessages] = useState<readonly MessageView[]>([]);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [sending, setSending] = useState(false);
  const [live, setLive] = useState<LiveStatus>("connecting");
  const [connError, setConnError] = useState<FormError | null>(null);
  const [addError, setAddError] = useState<FormError | null>(null);
  const [inputError, setInputError] = useState<string | null>(null);
  const [pageError, setPageError] = useState<string | null>(null);
  const service = useLog(500);
  const appendLog = service.append;
  const serviceSeen = useRef(0);
  const selectedRef = useRef(selected);
  const stateRev = useRef(-1);
  const messagesFetch = useRef(0);

  const setSelected = useCallback((login: string | null) => {
    selectedRef.current = login;
    store(SELECTED_KEY, login);
    setSelectedRaw(login);
    setInputError(null);
  }, []);

  const applyState = useCallback((s: ChatState) => {
    if (s.rev < stateRev.current) return;
    stateRev.current = s.rev;
    setState(s);
  }, []);

  const contactsRef = useRef(contacts);
  const applyContacts = useCallback((snap: ContactsSnapshot) => {
    const old = contactsRef.current;
    if (snap.rev < old.rev) return;
    contactsRef.current = snap;
    setContacts(snap);
    // A contact deleted (here or in another tab) is no longer selected; its history stays.
    const sel = selectedRef.current;
    if (
      sel !== null && old.contacts.some((c) => c.login === sel) &&
      !snap.contacts.some((c) => c.login === sel)
    ) {
      setSelected(null);
    }
  }, [setSelected]);

  const markRead = useCallback((login: string) => {
    call(`/api/contacts/${encodeURIComponent(login)}/read`, { method: "POST" }).catch(() => {
      // Unread counts are a convenience; the next snapshot corrects them.
    });
  }, []);

  const loadMessages = useCallback(async (login: string | null) => {
    const ticket = ++messagesFetch.current;
    if (login === null) {
      setMessages([]);
      return;
    }
    try {
      const reply = await call<MessagesReply>(`/api/messages/${encodeURIComponent(login)}`);
      if (ticket === messagesFetch.current) setMessages(reply.messages);
    } catch (err) {
      if (ticket === messagesFetch.current) setPageError(formError(err).text);
    }
  }, []);

  const refetch = useCallback(async () => {
    try {
      const [s, c, log] = await Promise.all([
        call<ChatState>("/api/state"),
        call<ContactsSnapshot>("/api/contacts"),
        call<ServiceReply>("/api/service"),
      ]);
      applyState(s);
      applyContacts(c);
      for (const e of log.entries) appendService(appendLog, serviceSeen, e);
      setPageError(null);
      await loadMessages(selectedRef.current);
    } catch (err) {
      setPageError(formError(err).text);
    }
  }, [applyState, applyContacts, loadMessages, appendLog]);

  useEffect(() => {
    let client: LiveClient | undefined;
    let gone = false;
    let synced = false;
    // The first snapshot comes before the stream, so the older snapshots the stream replays
    // for catch-up are recognised by their rev and ignored.
    void refetch().finally(() => {
      if (gone) return;
      client = new LiveClient("/api/events", {
        onEvent(topic, data) {
          switch (topic as keyof ChatTopics) {
            case "state":
              applyState(data as ChatState);
              return;
            case "contacts":
              applyContacts(data as ContactsSnapshot);
              return;
            case "service":
              appendService(appendLog, serviceSeen, data as ServiceEntry);
              return;
            case "message": {
              const m = data as MessageView;
              if (m.contact !== selectedRef.current) return;
              setMessages((list) => upsert(list, m));
              if (m.direction === "in" && document.visibilityState === "visible") {
                markRead(m.contact);
              }
              return;
            }
          }
        },
        onSync: () => {
          // The first "ready" follows the snapshot just taken; any later sync may have a gap.
          if (synced) void refetch();
          synced = true;
        },
        onStatus: setLive,
      });
    });
    return () => {
      gone = true;
      client?.close();
    };
  }, [applyState, applyContacts, refetch, markRead, appendLog]);

  useEffect(() => {
    void loadMessages(selected);
    if (selected !== null) markRead(selected);
  }, [selected, loadMessages, markRead]);

  useEffect(() => {
    document.title = state?.phase === "connected" && state.user
      ? `${state.user} — JIM Messenger`
      : "JIM Messenger";
  }, [state?.phase, state?.user]);

  const connected = state?.phase === "connected";

  const onConnect = async (req: ConnectRequest): Promise<boolean> => {
    setConnError(null);
    try {
      applyState(await call<ChatState>("/api/connect", { method: "POST", body: req }));
      return true;
    } catch (err) {
      setConnError(formError(err));
      return false;
    }
  };

  const onDisconnect = async () => {
    setConnError(null);
    try {
      applyState(await call<ChatState>("/api/disconnect", { method: "POST" }));
    } catch (err) {
      setConnError(formError(err));
    }
  };

  const onAdd = async (login: string): Promise<boolean> => {
    setAddError(null);
    try {
      applyContacts(
        await call<ContactsSnapshot>("/api/contacts", {
          method: "POST",
          body: { login },
        }),
      );
      setSelected(login);
      return true;
    } catch (err) {
      setAddError(formError(err));
      return false;
    }
  };

  const onDelete = async (login: string): Promise<string | null> => {
    try {
      applyContacts(
        await call<ContactsSnapshot>(`/api/contacts/${encodeURIComponent(login)}`, {
          method: "DELETE",
        }),
      );
      if (selectedRef.current === login) setSelected(null);
      return null;
    } catch (err) {
      return formError(err).text;
    }
  };

  const draftOf = (login: string | null) =>
    login === null ? "" : drafts[login] ?? stored(DRAFT_PREFIX + login) ?? "";

  const setDraft = (login: string, value: string) => {
    setDrafts((d) => ({ ...d, [login]: value }));
    store(DRAFT_PREFIX + login, value);
  };

  const onSend = async () => {
    const to = selectedRef.current;
    if (to === null || sending) return;
    const text = draftOf(to);
    if (text.trim() === "") return;
    setSending(true);
    setInputError(null);
    try {
      const reply = await call<{ message: MessageView }>("/api/messages", {
        method: "POST",
        body: { to, text },
      });
      // The text is in the history now (delivered or failed with Retry), so the field may clear.
      setDraft(to, "");
      if (selectedRef.current === to) setMessages((list) => upsert(list, reply.message));
      if (reply.message.status === "failed") setInputError(reply.message.error ?? "Not sent");
    } catch (err) {
      setInputError(formError(err).text);
    } finally {
      setSending(false);
    }
  };

  const onRetry = async (id: number) => {
    setInputError(null);
    try {
      const reply = await call<{ message: MessageView }>(`/api/messages/${id}/retry`, {
        method: "POST",
      });
      if (reply.message.contact === selectedRef.current) {
        setMessages((list) => upsert(list, reply.message));
      }
      if (reply.message.status === "failed") setInputError(reply.message.error ?? "Not sent");
    } catch (err) {
      setInputError(formError(err).text);
    }
  };

  const contactList: readonly ContactView[] = contacts.contacts;
  return (
    <>
      <header class="app-header">
        <h1>JIM Messenger</h1>
        <span class="header-user">{connected && state?.user ? `${state.user}` : ""}</span>
        <span class="live-status" data-status={live} aria-live="polite">
          {live === "open" ? "Live" : live === "closed" ? "Closed" : "Reconnecting…"}
        </span>
      </header>
      <main class="layout chat-layout">
        {pageError && <p class="notice chat-notice" role="alert">{pageError}</p>}
        <ParametersPanel state={state} />
        <div class="chat-col chat-left">
          <ConnectionPanel
            state={state}
            error={connError ?? (state?.error ? { text: state.error } : null)}
            onConnect={onConnect}
            onDisconnect={onDisconnect}
          />
          <AddContactPanel
            connected={connected}
            onAdd={onAdd}
            error={addError}
            onEdit={() => setAddError(null)}
          />
          <ContactsPanel
            contacts={contactList}
            selected={selected}
            connected={connected}
            onSelect={(login) => setSelected(login)}
            onDelete={onDelete}
          />
        </div>
        <div class="chat-col chat-right">
          <MessagesPanel
            contact={selected}
            messages={messages}
            connected={connected}
            onRetry={(id) => void onRetry(id)}
          />
          <InputPanel
            contact={selected}
            connected={connected}
            sending={sending}
            value={draftOf(selected)}
            onInput={(v) => selected !== null && setDraft(selected, v)}
            onSend={() => void onSend()}
            error={inputError}
          />
          <Panel title="Service info" id="service-info" class="chat-service">
            <LogView label="Service info" log={service} idPrefix="service" />
          </Panel>
        </div>
      </main>
    </>
  );
}
