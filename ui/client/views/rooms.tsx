import { useEffect, useRef, useState } from "preact/hooks";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import type { ContactView, RoomView } from "../_types.ts";
import type { FocusRequest, FormError } from "../page/chat_page.ts";
import { ContactList } from "./contact_list.tsx";

/** Props of {@linkcode RoomsPanel}. */
export interface RoomsPanelProps {
  rooms: readonly RoomView[];
  /** The conversation in view: a login or a room. */
  selected: string | null;
  connected: boolean;
  /** Whether the chat server takes part in rooms (false: the form is off and says why). */
  supported: boolean;
  focus: FocusRequest | null;
  error: FormError | null;
  /** The last room event in words, or null. */
  note: string | null;
  /** Joins or creates; resolves true on success (the form then clears). */
  onJoin(room: string, inviteOnly: boolean): Promise<boolean>;
  /** The user edits the name: the old error no longer applies. */
  onEdit(): void;
  onOpen(room: string): void;
  /** Leaves; resolves to an error text, or null on success. */
  onLeave(room: string): Promise<string | null>;
}

const ENTRIES = "button[data-contact]";

/**
 * The Rooms section beside Contacts (issue 13): join a room by name, which creates it when it
 * does not exist (optionally invite-only), the rooms this account is in with unread counts,
 * and "Leave selected room" behind a confirmation. Up, Down, Home and End move through the
 * list as in Contacts.
 *
 * @example
 * ```tsx
 * <RoomsPanel rooms={rooms} selected="#team" connected supported focus={null} error={null}
 *   note={null} onJoin={join} onEdit={edit} onOpen={open} onLeave={leave} />
 * ```
 */
export function RoomsPanel(props: RoomsPanelProps) {
  const [name, setName] = useState("");
  const [inviteOnly, setInviteOnly] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const rooms = props.rooms;
  const selectedRoom = props.selected?.startsWith("#") ? props.selected : null;
  const tabStop = rooms.some((r) => r.room === current)
    ? current
    : rooms.some((r) => r.room === selectedRoom)
    ? selectedRoom
    : rooms[0]?.room ?? null;
  const entries: ContactView[] = rooms.map((r) => ({
    login: r.room,
    online: false,
    unread: r.unread,
  }));
  const enabled = props.connected && props.supported;

  useEffect(() => setError(null), [selectedRoom]);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    let room = name.trim();
    if (room !== "" && !room.startsWith("#")) room = `#${room}`;
    if (await props.onJoin(room, inviteOnly)) {
      setName("");
      setInviteOnly(false);
    }
  };

  const onKeyDown = (ev: KeyboardEvent) => {
    const keys = ["ArrowDown", "ArrowUp", "Home", "End"];
    if (!keys.includes(ev.key)) return;
    const list = [...(box.current?.querySelectorAll<HTMLButtonElement>(ENTRIES) ?? [])];
    if (list.length === 0) return;
    ev.preventDefault();
    const at = list.indexOf(document.activeElement as HTMLButtonElement);
    const next = ev.key === "Home"
      ? 0
      : ev.key === "End"
      ? list.length - 1
      : ev.key === "ArrowDown"
      ? Math.min(list.length - 1, at + 1)
      : Math.max(0, at < 0 ? 0 : at - 1);
    const target = list[next]!;
    setCurrent(target.dataset.contact ?? null);
    target.focus();
  };

  const confirm = async () => {
    setAsking(false);
    if (selectedRoom === null) return;
    setError(await props.onLeave(selectedRoom));
  };

  return (
    <Panel title="Rooms" id="rooms" class="chat-rooms">
      <form class="room-join-form" onSubmit={submit}>
        <div class="add-contact-form">
          <label class="sr-only" for="room-name">Room to join or create</label>
          <input
            id="room-name"
            type="text"
            placeholder="#room"
            spellcheck={false}
            value={name}
            disabled={!props.supported}
            aria-invalid={props.error ? "true" : undefined}
            aria-describedby="room-error"
            onInput={(ev) => {
              setName((ev.target as HTMLInputElement).value);
              if (props.error) props.onEdit();
            }}
          />
          <button type="submit" id="join-room" disabled={!enabled}>Join</button>
        </div>
        <label class="check" for="room-invite-only">
          <input
            id="room-invite-only"
            type="checkbox"
            checked={inviteOnly}
            disabled={!props.supported}
            onChange={(ev) => setInviteOnly((ev.target as HTMLInputElement).checked)}
          />{" "}
          Invite-only (when creating)
        </label>
      </form>
      <p id="room-error" class="error-text" role="alert">
        {props.error?.text ??
          (props.connected && !props.supported ? "This chat server does not support rooms" : "")}
      </p>
      <div class="contacts-box rooms-box" ref={box} onKeyDown={onKeyDown}>
        <ContactList
          label="Rooms"
          contacts={entries}
          selected={selectedRoom}
          tabStop={tabStop}
          dots={false}
          empty="No rooms yet: join one above"
          onOpen={(room) => {
            setCurrent(room);
            props.onOpen(room);
          }}
        />
      </div>
      <div class="contacts-actions">
        <button
          type="button"
          id="leave-room"
          disabled={selectedRoom === null || !enabled}
          onClick={() => {
            setError(null);
            setAsking(true);
          }}
        >
          Leave selected room
        </button>
      </div>
      <p class="error-text" role="alert" id="rooms-error">{error ?? ""}</p>
      <p class="room-note" role="status" id="room-note">{props.note ?? ""}</p>
      <ConfirmDialog
        open={asking}
        title="Leave room?"
        confirmLabel="Leave"
        onConfirm={() => void confirm()}
        onCancel={() => setAsking(false)}
      >
        Leave{" "}
        <strong>{selectedRoom}</strong>? Nothing more of it arrives; its messages stay in your
        history.
      </ConfirmDialog>
    </Panel>
  );
}
