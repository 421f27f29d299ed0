/**
 * What a {@linkcode ChatSession} holds of its user's secret, readable by tests only: this
 * module is internal and not part of client/mod.ts.
 */
import type { ChatSession } from "./chat_session.ts";

/** The session's secrets at one moment. */
export interface HeldSecrets {
  /** Whether the password (or the function that supplies it) is still held. */
  password: boolean;
  /** The cached SCRAM SaltedPassword, the very bytes the session would wipe. */
  saltedPassword: Uint8Array | undefined;
}

const probes = new WeakMap<ChatSession, () => HeldSecrets>();

/** Called by each session's constructor. */
export function registerSecrets(session: ChatSession, probe: () => HeldSecrets): void {
  probes.set(session, probe);
}

/** What `session` holds now. */
export function heldSecrets(session: ChatSession): HeldSecrets {
  const probe = probes.get(session);
  if (!probe) throw new Error("Not a ChatSession");
  return probe();
}
