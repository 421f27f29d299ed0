/**
 * The action handlers, keyed by action. A new action is a handler file here, its request
 * type and validation in protocol/, and one line in {@linkcode HANDLERS}.
 *
 * @module
 */
import type { Action } from "../../protocol/mod.ts";
import { addContact } from "./add_contact.ts";
import { authenticate } from "./authenticate.ts";
import type { Handler } from "./context.ts";
import { delContact } from "./del_contact.ts";
import { getContacts } from "./get_contacts.ts";
import { getUsers } from "./get_users.ts";
import { msg } from "./msg.ts";
import { presence } from "./presence.ts";
import { quit } from "./quit.ts";
// Rooms (issue 13).
import { deleteRoom } from "./delete_room.ts";
import { getRooms } from "./get_rooms.ts";
import { invite } from "./invite.ts";
import { join } from "./join.ts";
import { kick } from "./kick.ts";
import { leave } from "./leave.ts";
import { members } from "./members.ts";
import { roomConfig } from "./room_config.ts";
import { setOwner } from "./set_owner.ts";

export type { Handler, HandlerContext, RequestOf, SessionHandle } from "./context.ts";

/** Every action's handler for a logged-in session. */
export const HANDLERS: { readonly [A in Action]: Handler<A> } = Object.freeze({
  presence,
  authenticate,
  msg,
  get_contacts: getContacts,
  add_contact: addContact,
  del_contact: delContact,
  get_users: getUsers,
  quit,
  // Rooms (issue 13).
  join,
  leave,
  get_rooms: getRooms,
  members,
  invite,
  kick,
  set_owner: setOwner,
  delete_room: deleteRoom,
  room_config: roomConfig,
});

/**
 * The only actions a session may send before it has logged in: presence and authenticate
 * drive the login, quit ends it. Everything else is 401, in one place: the session's guard.
 */
export const BEFORE_LOGIN: ReadonlySet<Action> = new Set(["presence", "authenticate", "quit"]);

/** The handler of `action`, typed for its request. */
export function handlerFor<A extends Action>(action: A): Handler<A> {
  return HANDLERS[action] as Handler<A>;
}
