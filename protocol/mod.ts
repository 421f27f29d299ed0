/**
 * The JIM protocol: message types, validation, framing and the authentication maths.
 * It never touches a socket; the server and client hold the I/O.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, validateRequest } from "./mod.ts";
 * const decoder = new FrameDecoder();
 * for (const frame of decoder.push(encodeFrame({ action: "quit", time: 1 }))) {
 *   if (frame.ok) console.log(validateRequest(frame.value));
 * }
 * ```
 *
 * @module
 */
export * from "./bytes.ts";
export * from "./conversation.ts";
export * from "./errors.ts";
export * from "./framing.ts";
export * from "./legacy.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./responses.ts";
export * from "./saslprep.ts";
export * from "./scram.ts";
export * from "./status.ts";
export * from "./validate.ts";
export * from "./login_name.ts";
export * from "./login_skeleton.ts";
// Rooms (issue 13).
export * from "./room_name.ts";
export * from "./rooms.ts";
