/**
 * What an action handler sees: its session, the hub, storage, the limits, the event feed and
 * the clock. Nothing else: a handler never touches a socket, another session or SQL.
 *
 * @module
 */
import type { Action, JimRequest, ServerPush, ServerResponse } from "../../protocol/mod.ts";
import type { Clock } from "../clock.ts";
import type { ConnInfo, EventFeed } from "../events.ts";
import type { Hub } from "../hub/hub.ts";
import type { ServerLimits } from "../limits.ts";
import type { Storage } from "../storage/ports.ts";

/** The session a request came from, as its handler may use it. */
export interface SessionHandle {
  /** The session's id in the hub. */
  readonly id: string;
  /** The account's login in display case; empty before login. */
  readonly login: string;
  /** The account's `loginKey()`; empty before login. */
  readonly key: string;
  /** The connection as events describe it. */
  readonly info: ConnInfo;
  /** Whether the session still takes requests. */
  readonly open: boolean;
  /** Bytes queued for the client and not yet written. */
  readonly queuedBytes: number;
  /** Sends a response. */
  reply(message: ServerResponse): void;
  /** Sends `{"response":200,"alert":"OK"}`, prebuilt. */
  replyOk(): void;
  /** Sends a push (a message the client did not ask for as a response). */
  push(message: ServerPush): void;
  /** Resolves once at most `below` bytes are queued, or the session has closed. */
  drain(below: number): Promise<void>;
  /** Ends the session after what is queued is written. */
  end(reason: string): void;
}

/** Everything a handler may use. */
export interface HandlerContext {
  /** The requesting session. */
  readonly session: SessionHandle;
  /** Who is online, and delivery to them. */
  readonly hub: Hub;
  /** Users, contacts, login history, ... */
  readonly storage: Storage;
  /** The limits in force. */
  readonly limits: Readonly<ServerLimits>;
  /** The server's event feed. */
  readonly events: EventFeed;
  /** Where time is read. */
  readonly clock: Clock;
}

/** The request of one action, as validation gives it. */
export type RequestOf<A extends Action> = Extract<JimRequest, { action: A }>;

/**
 * Handles one validated request of action `A` from a logged-in session (or, for the actions
 * allowed before login, from any session). Answers through `ctx.session`; a thrown or rejected
 * `JimError` is sent as the response. A returned promise holds the session's next request.
 */
export type Handler<A extends Action> = (
  ctx: HandlerContext,
  request: RequestOf<A>,
) => void | Promise<void>;
