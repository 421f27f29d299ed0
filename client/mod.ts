/**
 * The jim client library: {@linkcode JimClient} speaks JIM over one connection,
 * {@linkcode History} keeps contacts and messages in a local SQLite file, and
 * {@linkcode ChatSession} combines them with the seed's rules for the console and GUI clients.
 *
 * @example
 * ```ts
 * import { ChatSession } from "./mod.ts";
 * await using chat = await ChatSession.connect({
 *   host: "127.0.0.1",
 *   port: 7777,
 *   user: "alice",
 *   password: "secret",
 * });
 * chat.addEventListener("message", (e) => console.log(`${e.detail.contact}: ${e.detail.text}`));
 * const sent = await chat.send("bob", "hello");
 * console.log(sent.status, sent.error ?? "");
 * ```
 *
 * @module
 */
export {
  CLIENT_CAPABILITIES,
  type ConnectionInfo,
  type Contact,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type DisconnectInfo,
  type HistoryItem,
  type HistoryPage,
  type HistoryQuery,
  type IncomingMessage,
  JimClient,
  type JimClientEventMap,
  type JimClientOptions,
  type JoinResult,
  type LoginOptions,
  type LoginResult,
  type MessageStream,
  type PresenceChange,
  type Receipt,
  type SaltedPassword,
  type SendResult,
  type ServerNotice,
} from "./jim_client.ts";
export {
  defaultDataDir,
  type Direction,
  ftsQuery,
  History,
  HISTORY_SCHEMA_VERSION,
  type HistoryLocation,
  historyPath,
  MAX_SEARCH_LENGTH,
  type MessageRecord,
  type MessageStatus,
  type NewMessage,
  type RoomRecord,
  type SearchHit,
  type ServerMessage,
  type StoreOutcome,
} from "./history.ts";
export {
  type ArrivedMessage,
  ChatSession,
  type ChatSessionEventMap,
  type ChatSessionOptions,
  type ConversationPage,
  type HistoryChange,
  type ReconnectingInfo,
  type ReconnectOptions,
  type ServiceEntry,
  type SessionDisconnectInfo,
} from "./chat_session.ts";
export { ConnectionError, UnsupportedError } from "./errors.ts";
export {
  describeRoomEvent,
  isConversationName,
  isRoomName,
  MAX_ROOM_NAME,
  parseRoomFrame,
  requireRoomName,
  ROOM_PUSH_ACTIONS,
  type RoomEvent,
  type RoomEventKind,
  type RoomFrame,
  type RoomInfo,
  type RoomMember,
  roomNameProblem,
} from "./rooms.ts";
export {
  formatServer,
  formatServerList,
  MAX_SERVERS,
  parseServerList,
  type ServerAddress,
} from "./server_list.ts";
export { type DetailOf, TypedEventTarget } from "./_typed_event_target.ts";
export {
  type Capability,
  type DeliveryState,
  HMAC_MD5,
  JimError,
  type Mechanism,
  type ProtocolLimits,
  SCRAM_SHA_256,
} from "../protocol/mod.ts";
