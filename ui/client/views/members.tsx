import { useEffect, useState } from "preact/hooks";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import type { RoomView } from "../_types.ts";
import type { MembersState } from "../page/chat_page.ts";

/** Props of {@linkcode MembersPanel}. */
export interface MembersPanelProps {
  /** The room in view. */
  room: RoomView | null;
  members: MembersState | null;
  /** This account's login. */
  me: string;
  connected: boolean;
  /** An action on the room; resolves to an error text, or null on success. */
  onAction(action: "invite" | "kick" | "owner" | "delete", login?: string): Promise<string | null>;
}

type Asking = { action: "kick" | "owner"; login: string } | { action: "delete" } | null;

/**
 * The member list of the open room (issue 13): an online dot per member and the owner
 * marked; an Invite field for every member; for the owner, Remove and Make owner beside each
 * other member and Delete room, each behind a confirmation.
 *
 * @example
 * ```tsx
 * <MembersPanel room={team} members={state} me="alice" connected onAction={act} />
 * ```
 */
export function MembersPanel(props: MembersPanelProps) {
  const { room, members, me } = props;
  const [asking, setAsking] = useState<Asking>(null);
  const [error, setError] = useState<string | null>(null);
  const [invitee, setInvitee] = useState("");
  useEffect(() => {
    setError(null);
    setAsking(null);
  }, [room?.room]);
  if (room === null) return null;
  const list = members?.room === room.room ? members.list : null;
  const mine = (list?.find((m) => m.owner)?.login ?? room.owner) === me;

  const run = async (action: "invite" | "kick" | "owner" | "delete", login?: string) => {
    setAsking(null);
    setError(null);
    const failure = await props.onAction(action, login);
    setError(failure);
    return failure === null;
  };

  const invite = async (ev: Event) => {
    ev.preventDefault();
    const login = invitee.trim();
    if (login === "") return;
    if (await run("invite", login)) setInvitee("");
  };

  return (
    <Panel title={`Members of ${room.room}`} id="members" class="chat-members">
      <ul class="member-list" aria-label={`Members of ${room.room}`} aria-busy={list === null}>
        {list === null && <li class="empty">Loading members…</li>}
        {list?.length === 0 && <li class="empty">{members?.error ?? "No members"}</li>}
        {list?.map((m) => (
          <li key={m.login} class="member" data-member={m.login}>
            <span
              class={`dot${m.online ? " on" : ""}`}
              role="img"
              aria-label={m.online ? "online" : "offline"}
              title={m.online ? "online" : "offline"}
            />
            <span class="contact-name">
              {m.login}
              {m.login === me && <span class="muted">(you)</span>}
            </span>
            {m.owner && <span class="owner-mark">owner</span>}
            {mine && !m.owner && (
              <span class="member-actions">
                <button
                  type="button"
                  class="small"
                  disabled={!props.connected}
                  aria-label={`Make ${m.login} the owner of ${room.room}`}
                  onClick={() => setAsking({ action: "owner", login: m.login })}
                >
                  Make owner
                </button>
                <button
                  type="button"
                  class="small danger"
                  disabled={!props.connected}
                  aria-label={`Remove ${m.login} from ${room.room}`}
                  onClick={() => setAsking({ action: "kick", login: m.login })}
                >
                  Remove
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {list && members?.error && list.length > 0 && (
        <p class="error-text" role="alert">{members.error}</p>
      )}
      <form class="add-contact-form invite-form" onSubmit={invite}>
        <label class="sr-only" for="invite-login">Login to invite to {room.room}</label>
        <input
          id="invite-login"
          type="text"
          placeholder="Login to invite"
          spellcheck={false}
          value={invitee}
          onInput={(ev) => setInvitee((ev.target as HTMLInputElement).value)}
        />
        <button type="submit" id="invite-button" disabled={!props.connected}>Invite</button>
      </form>
      {mine && (
        <div class="contacts-actions">
          <button
            type="button"
            id="delete-room"
            class="danger"
            disabled={!props.connected}
            onClick={() => setAsking({ action: "delete" })}
          >
            Delete room
          </button>
        </div>
      )}
      <p class="error-text" role="alert" id="members-error">{error ?? ""}</p>
      <ConfirmDialog
        open={asking?.action === "kick"}
        title="Remove member?"
        confirmLabel="Remove"
        onConfirm={() => asking?.action === "kick" && void run("kick", asking.login)}
        onCancel={() => setAsking(null)}
      >
        Remove <strong>{asking?.action === "kick" ? asking.login : ""}</strong> from{" "}
        {room.room}? They can join again unless the room is invite-only.
      </ConfirmDialog>
      <ConfirmDialog
        open={asking?.action === "owner"}
        title="Hand the room over?"
        confirmLabel="Make owner"
        onConfirm={() => asking?.action === "owner" && void run("owner", asking.login)}
        onCancel={() => setAsking(null)}
      >
        Make <strong>{asking?.action === "owner" ? asking.login : ""}</strong> the owner of{" "}
        {room.room}? You can no longer remove members or delete the room.
      </ConfirmDialog>
      <ConfirmDialog
        open={asking?.action === "delete"}
        title="Delete room?"
        confirmLabel="Delete room"
        onConfirm={() => void run("delete")}
        onCancel={() => setAsking(null)}
      >
        Delete <strong>{room.room}</strong>{" "}
        for everyone? Its members are told, and its messages are gone from the server.
      </ConfirmDialog>
    </Panel>
  );
}
