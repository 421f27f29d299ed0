import { useEffect, useMemo } from "preact/hooks";
import { useStore } from "../../components/mod.ts";
import { accountOf, type ChatPage, isRoom } from "../page/chat_page.ts";
import { conversationItems } from "../page/conversation_items.ts";
import { AddContactPanel } from "./add_contact.tsx";
import { ChatHeader } from "./chat_header.tsx";
import { ConnectionPanel } from "./connection.tsx";
import { ContactsPanel } from "./contacts.tsx";
import { InputPanel } from "./input.tsx";
import { MembersPanel } from "./members.tsx";
import { RoomsPanel } from "./rooms.tsx";
import { MessagesPanel } from "./messages.tsx";
import { SearchPanel } from "./search.tsx";
import { ServiceDrawer } from "./service_drawer.tsx";

/**
 * The chat GUI page: the seed's client window with the conversation first. The header
 * holds the Parameters and, once connected, the Connection panel folded into Disconnect;
 * Search, Add contact and Contacts on the left; Messages and Input take the rest; Service
 * info is a drawer. Below 600 px the contacts and the conversation are separate views.
 *
 * @example
 * ```tsx
 * import { render } from "preact";
 * render(<ChatApp page={new ChatPage()} />, document.getElementById("app")!);
 * ```
 */
export function ChatApp({ page }: { page: ChatPage }) {
  const s = useStore(page);
  useEffect(() => {
    page.start();
    return () => page.stop();
  }, [page]);

  const phase = s.server?.phase ?? "disconnected";
  const connected = phase === "connected";
  const on = connected || phase === "reconnecting";
  const me = s.server?.user ?? s.server?.last.user ?? "";
  const account = accountOf(s.server);
  const items = useMemo(
    () =>
      s.selected === null
        ? []
        : conversationItems(s.selected, me, account, s.conversation?.messages ?? [], s.outbox),
    [s.selected, me, account, s.conversation?.messages, s.outbox],
  );
  const contact = s.contacts.find((c) => c.login === s.selected) ?? null;
  const room = isRoom(s.selected) ? s.rooms.find((r) => r.room === s.selected) ?? null : null;

  return (
    <div class="chat-page" data-view={s.view} data-phase={phase}>
      <ChatHeader
        server={s.server}
        live={s.live}
        liveSeen={s.liveSeen}
        notify={s.notify}
        drawer={s.drawer}
        onDisconnect={() => void page.disconnect()}
        onNotify={(v) => void page.setNotify(v)}
        onDrawer={() => page.toggleDrawer()}
      />
      {s.liveSeen && s.live !== "open" && (
        <p class="banner" role="alert" id="gui-lost">
          GUI connection lost: this page cannot reach the chat GUI and retries by itself. The chat
          server's state shown is the last known.
        </p>
      )}
      {s.pageError && <p class="notice chat-notice" role="alert">{s.pageError}</p>}
      <main class="chat-layout">
        <aside class="chat-sidebar" aria-label="Contacts">
          {!on && (
            <ConnectionPanel
              state={s.server}
              error={s.connectError ?? (s.server?.error ? { text: s.server.error } : null)}
              now={s.now}
              onConnect={(req) => page.connect(req)}
              onDisconnect={() => page.disconnect()}
              onEdit={() => page.clearConnectError()}
            />
          )}
          <SearchPanel
            search={s.search}
            onQuery={(q) => page.setSearch(q)}
            onOpen={(hit) => page.openHit(hit)}
          />
          <AddContactPanel
            connected={connected}
            onAdd={(login) => page.addContact(login)}
            error={s.addError}
            onEdit={() => page.clearAddError()}
          />
          <ContactsPanel
            contacts={s.contacts}
            selected={s.selected}
            connected={connected}
            focus={s.focus}
            onOpen={(login) => page.open(login)}
            onDelete={(login) => page.deleteContact(login)}
          />
          <RoomsPanel
            rooms={s.rooms}
            selected={s.selected}
            connected={connected}
            supported={s.server?.server?.rooms === true}
            focus={s.focus}
            error={s.roomError}
            note={s.roomNote}
            onJoin={(name, inviteOnly) => page.joinRoom(name, inviteOnly)}
            onEdit={() => page.clearRoomError()}
            onOpen={(name) => page.open(name)}
            onLeave={(name) => page.leaveRoom(name)}
          />
        </aside>
        <section class="chat-main" aria-label="Conversation">
          <MembersPanel
            room={room}
            members={s.members}
            me={me}
            connected={connected}
            onAction={(action, login) => page.roomAction(action, login)}
          />
          <MessagesPanel
            contact={contact}
            selected={s.selected}
            conversation={s.conversation}
            items={items}
            connected={connected}
            now={s.now}
            onRetry={(item) =>
              item.clientId !== undefined
                ? page.retryQueued(item.clientId)
                : item.id !== undefined && void page.retry(item.id)}
            onDiscard={(item) => item.clientId !== undefined && page.discardQueued(item.clientId)}
            onLoadOlder={() => void page.loadOlder()}
            onLoadNewer={() => void page.loadNewer()}
            onJumpLatest={() => page.jumpToLatest()}
            onBack={() => page.back()}
            onAtBottom={(v) => page.setAtBottom(v)}
            onType={(key) => page.typeIntoBox(key)}
          />
          <InputPanel
            contact={s.selected}
            phase={phase}
            value={s.draft}
            note={s.inputNote}
            focus={s.focus}
            onInput={(v) => page.setDraft(v)}
            onSend={() => page.send()}
          />
        </section>
      </main>
      <ServiceDrawer
        open={s.drawer}
        entries={s.service}
        focus={s.focus}
        onClose={() => page.toggleDrawer(false)}
        onClear={() => page.clearService()}
      />
    </div>
  );
}
