/**
 * What an action handler sees: its session, the hub, storage, the limits, the event feed and
 * the clock. Nothing else: a handler never touches a socket, another session or SQL.
 *
 * @module
 */
import type {
  Action,
  Capability,
  JimRequest,
  ServerPush,
  ServerResponse,
} from "../../protocol/mod.ts";
import type { Clock } from "../clock.ts";
import type { ConnInfo, EventFeed } from "../events.ts";
import type { Envelope } from "../hub/envelope.ts";
import type { Hub } from "../hub/hub.ts";
import type { MessageIds } from "../message_ids.ts";
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
  /** What the client announced at login and the server supports; empty: the seed dialect. */
  readonly caps: ReadonlySet<Capability>;
  /** Sends a response. */
  reply(message: ServerResponse): void;
  /** Sends `{"response":200,"alert":"OK"}`, prebuilt. */
  replyOk(): void;
  /** Sends a push (a message the client did not ask for as a response). */
  push(message: ServerPush): void;
  /** Resolves once at most `below` bytes are queued, or the session has closed. */
  drain(below: number): Promise<void>;
  /**
   * Sends the reply that `reply` resolves to (a function that sends it) after every earlier
   * deferred reply, without holding the next msg: messages sent back to back share group
   * commits, and their replies keep request order. A rejection is answered as a thrown error.
   */
  defer(reply: Promise<(() => void) | void>): void;
  /**
   * Queues a stored message (the offline backlog) at the client's pace: under backpressure
   * for a jim client, one frame at a time with a pause between for a seed client, whose
   * `recv(1024)` loop cannot take two at once. False once the session has closed.
   */
  deliverPaced(envelope: Envelope): Promise<boolean>;
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
  /** Message ids, assigned before routing (issue 12). */
  readonly ids: MessageIds;
  /** What happens to a message for a user with no live session: kept, or 410 as the seed. */
  readonly offlineMessages: OfflineMessages;
}

/** The `--offline-messages` policy. */
export type OfflineMessages = "store" | "reject";

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
