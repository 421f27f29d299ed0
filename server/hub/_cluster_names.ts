/**
 * How accounts, rooms and nodes become NATS subjects and KV keys. Login keys and room names
 * are Unicode and node names hold `:`, while subjects and keys take `[-/=.\w]` only (an empty
 * or odd token fails in ways that look like a missing stream), so every name is written as
 * the lowercase hex of its UTF-8 bytes: one token, never empty, never a wildcard.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** What a node name may be: 1 to 100 letters, digits, `.`, `_`, `:`, `@` and `-`. */
export const NODE_NAME_PATTERN: RegExp = /^[\w.:@-]{1,100}$/;

/** The prefix of every subject jim publishes on. */
export const SUBJECT_PREFIX = "jim";

/** `name` as one safe subject token or key part. */
export function token(name: string): string {
  let out = "";
  for (const byte of encoder.encode(name)) out += byte.toString(16).padStart(2, "0");
  // An empty name still gets a token: "_" cannot be the hex of anything.
  return out === "" ? "_" : out;
}

/** The name a {@linkcode token} stands for, or undefined for anything else. */
export function untoken(part: string): string | undefined {
  if (part === "_") return "";
  if (part.length % 2 !== 0 || !/^[0-9a-f]+$/.test(part)) return undefined;
  const bytes = new Uint8Array(part.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(part.slice(i * 2, i * 2 + 2), 16);
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Messages and controls for one account, to every node with a session of it. */
export function accountSubject(key: string): string {
  return `${SUBJECT_PREFIX}.a.${token(key)}`;
}

/** Requests to one node: "is this session of yours alive?". */
export function nodeSubject(node: string): string {
  return `${SUBJECT_PREFIX}.n.${token(node)}`;
}

/**
 * One room's messages for one node (issue 13), with the members that node has sessions of:
 * the sender knows from the leases which nodes those are, so a node gets the traffic of the
 * rooms its sessions are in and nothing else, without keeping room memberships in sync.
 */
export function roomSubject(node: string, room: string): string {
  return `${nodeSubject(node)}.r.${token(room)}`;
}

/** Login outcomes, to every node. */
export const LOGIN_SUBJECT = `${SUBJECT_PREFIX}.login`;

/** The KV key of a node's heartbeat. */
export function nodeKey(node: string): string {
  return `node.${token(node)}`;
}

/** The KV key of one of an account's session slots, 0 to the session cap - 1. */
export function slotKey(key: string, slot: number): string {
  return `sess.${token(key)}.${slot}`;
}

/** What a KV key names, or undefined for a key that is not jim's. */
export type ParsedKey =
  | { kind: "node"; node: string }
  | { kind: "slot"; key: string; slot: number };

/** Parses a key made by {@linkcode nodeKey} or {@linkcode slotKey}. */
export function parseKey(kvKey: string): ParsedKey | undefined {
  const parts = kvKey.split(".");
  if (parts[0] === "node" && parts.length === 2) {
    const node = untoken(parts[1]!);
    return node === undefined ? undefined : { kind: "node", node };
  }
  if (parts[0] === "sess" && parts.length === 3 && /^\d{1,6}$/.test(parts[2]!)) {
    const key = untoken(parts[1]!);
    return key === undefined ? undefined : { kind: "slot", key, slot: Number(parts[2]) };
  }
  return undefined;
}
