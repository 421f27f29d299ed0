import { useState } from "preact/hooks";
import { ApiError, apiJson } from "../../api_client.ts";
import { ConfirmDialog, Panel } from "../../components/mod.ts";
import type { RoomRowJson } from "../_types.ts";
import { formatDateTime } from "./format.ts";

/** Props of {@linkcode RoomsPanel}. */
export interface RoomsProps {
  rooms: readonly RoomRowJson[] | null;
  /** Called after a change so the table refetches. */
  onChanged(): void;
}

/**
 * The Rooms table (issue 13): Room, Owner, Members, Messages, Last activity, with Delete.
 * Deleting asks first; members online are told by the server.
 */
export function RoomsPanel({ rooms, onChanged }: RoomsProps) {
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  function close() {
    setPending(null);
    setError(null);
  }

  async function confirm() {
    if (pending === null) return;
    try {
      await apiJson(`/api/rooms/${encodeURIComponent(pending)}`, { method: "DELETE" });
      close();
      onChanged();
    } catch (err) {
      setError((err as Error).message);
      if (err instanceof ApiError && err.status === 404) onChanged();
    }
  }

  return (
    <Panel title="Rooms" id="rooms" class="area-rooms">
      <div class="table-wrap rooms-wrap">
        <table class="grid" aria-label="Rooms">
          <thead>
            <tr>
              <th scope="col">Room</th>
              <th scope="col">Owner</th>
              <th scope="col" class="num">Members</th>
              <th scope="col" class="num">Messages</th>
              <th scope="col">Last activity</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rooms === null && (
              <tr>
                <td colSpan={6} class="empty">Loading…</td>
              </tr>
            )}
            {rooms?.length === 0 && (
              <tr>
                <td colSpan={6} class="empty">No rooms yet: a client's first join makes one.</td>
              </tr>
            )}
            {rooms?.map((r) => (
              <tr key={r.name} data-room={r.name}>
                <td>
                  {r.name}
                  {r.inviteOnly && <span class="tag">invite-only</span>}
                </td>
                <td>{r.owner}</td>
                <td class="num">{r.members}</td>
                <td class="num">{r.messages}</td>
                <td>{formatDateTime(r.lastActivity)}</td>
                <td class="actions">
                  <button
                    type="button"
                    class="link danger"
                    aria-label={`Delete ${r.name}`}
                    onClick={() => setPending(r.name)}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={pending !== null}
        title={`Delete room ${pending ?? ""}?`}
        confirmLabel="Delete"
        onConfirm={confirm}
        onCancel={close}
      >
        <p>Its members and messages go with it; members online are told.</p>
        {error && <p class="notice" role="alert">{error}</p>}
      </ConfirmDialog>
    </Panel>
  );
}
