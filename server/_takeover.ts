/**
 * Who may hold a login. A login with valid credentials for an account that is already
 * online does not simply get 409: the session holding it is probed at once, and when it
 * stays silent for the takeover timeout it is told and closed, and the new login takes its
 * place, the way IRC services let a user ghost a dead connection of their nick. A holder
 * that answers keeps the login, and the newcomer gets 409 "Client already online".
 *
 * This is the one place that decides; allowing several sessions per account would turn
 * "one holder" into "up to the account's cap" here and nowhere else.
 *
 * @module
 */

/** What claiming needs of a session. */
export interface Claimant {
  /** Whether the session can still take the login. */
  readonly open: boolean;
  /**
   * Probes the session now. Resolves true when it answers within the takeover timeout;
   * false when it does not (it has then been told and is ending, and holds the login no
   * longer) or when it closes meanwhile.
   */
  checkAlive(): Promise<boolean>;
}

/**
 * The online logins and the claims on them.
 *
 * @example
 * ```ts ignore
 * const logins = new LoginClaims(new Map());
 * if (await logins.claim("alice", session)) console.log("alice is this session's now");
 * ```
 */
export class LoginClaims<S extends Claimant> {
  /** Login key to the session that holds it. */
  readonly online: Map<string, S>;
  /** One probe per holder, shared by every claim that waits on it. */
  readonly #probes = new WeakMap<S, Promise<boolean>>();

  constructor(online: Map<string, S>) {
    this.online = online;
  }

  /**
   * Gives `key` to `claimant` once nobody else holds it, taking it over from a holder that
   * does not answer a probe. Resolves true when `claimant` holds the login (already set in
   * {@linkcode online}), false when the holder answered or `claimant` went away meanwhile.
   */
  async claim(key: string, claimant: S): Promise<boolean> {
    // Two rounds: when several claim a silent holder at once, the first takes its place and
    // the others then meet a holder that answers.
    for (let round = 0; round < 2; round++) {
      if (!claimant.open) return false;
      const holder = this.online.get(key);
      if (holder === undefined || holder === claimant) {
        this.online.set(key, claimant);
        return true;
      }
      let probe = this.#probes.get(holder);
      if (!probe) {
        probe = holder.checkAlive();
        this.#probes.set(holder, probe);
        // A later claim on a holder that answered probes it afresh.
        probe.then(() => this.#probes.delete(holder));
      }
      if (await probe) return false;
    }
    return false;
  }
}
