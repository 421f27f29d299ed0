/**
 * The failed-login policy: who is refused, who waits, who goes ahead.
 *
 * - **(address, login)**: after `maxPerPair` failures within the window, that login is
 *   refused from that address (403 with `retry_after`) until the oldest failure ages out.
 * - **address**: after `maxPerAddress` failures within the window, over any logins, every
 *   login from that address is refused. IPv6 addresses count per /64, the block one
 *   customer usually gets.
 * - **account** (a login from any address): never refused. After `slowAfter` failures within
 *   the window its proofs are checked one at a time, and each further failure keeps the next
 *   check waiting for a delay that doubles, from `firstDelayMs` to `maxDelayMs`. Waiting
 *   attempts from addresses with no failures go first. Before that point at most
 *   `slowAfter - failures` proofs are checked at once, so a burst cannot overshoot; an
 *   address that has failed may have no more checks in progress than it has failures left.
 * - An address that logged in to the account before (here or, as the store's last IP, in an
 *   earlier run) is trusted for it: its proofs are never delayed.
 *
 * Unknown logins are counted, delayed and refused exactly like known ones, so that none of
 * this tells them apart. Memory is bounded: the oldest keys are forgotten first.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { FailedLogins } from "./_lockout.ts";
import type { LoginOutcome } from "./hub/hub.ts";

/** The numbers of the policy; see the module documentation. */
export interface ThrottlePolicy {
  /** How long a failure counts, ms. */
  windowMs: number;
  /** Failures of one login from one address before that pair is refused. */
  maxPerPair: number;
  /** Failures from one address, over all logins, before the address is refused. */
  maxPerAddress: number;
  /** Failures of one login, from anywhere, before its checks are serialised and delayed. */
  slowAfter: number;
  /** The delay after the first failure past `slowAfter`, ms. */
  firstDelayMs: number;
  /** The longest delay, ms. */
  maxDelayMs: number;
}

/** A refused attempt: whom the refusal is for and how long it lasts. */
export interface Refusal {
  /** `login`: this login from this address; `address`: every login from this address. */
  scope: "login" | "address";
  /** Milliseconds until an attempt would be considered again. */
  retryAfterMs: number;
}

/**
 * The right to check one proof. Exactly one of its methods should be called when the check
 * is done; later calls do nothing.
 */
export interface Turn {
  /** Whether the attempt had to wait for the account's turn. */
  readonly waited: boolean;
  /** The proof was wrong (or the login unknown). */
  failed(): void;
  /** The proof was right. */
  succeeded(): void;
  /** No proof was checked (a malformed message, or the connection went away). */
  release(): void;
}

/** The delay after the first failure past `slowAfter`, ms. */
export const FIRST_LOGIN_DELAY_MS = 1000;
/** The longest delay between two checks of a guessed account, ms. */
export const MAX_LOGIN_DELAY_MS = 30_000;

/** How long a successful pair stays trusted, ms. */
const TRUST_MS = 30 * 24 * 3600_000;
/** Failures of an account kept beyond `slowAfter`: enough for the delay to reach its cap. */
const EXTRA_ACCOUNT_FAILURES = 32;

interface Waiter {
  address: string;
  clean: boolean;
  grant(turn: Turn): void;
}

interface Account {
  /** Proofs being checked now, not counting trusted ones. */
  inFlight: number;
  /** No untrusted check starts before this time. */
  heldUntil: number;
  waiting: Waiter[];
}

/**
 * Counts failed logins and decides, per attempt, whether it is refused, waits or goes ahead.
 *
 * @example
 * ```ts
 * import { LoginThrottle } from "./_login_throttle.ts";
 * import { SYSTEM_CLOCK } from "./clock.ts";
 * const throttle = new LoginThrottle({
 *   windowMs: 300_000, maxPerPair: 5, maxPerAddress: 20, slowAfter: 5,
 *   firstDelayMs: 1000, maxDelayMs: 30_000,
 * }, SYSTEM_CLOCK);
 * if (!throttle.refusal("192.0.2.1", "alice")) {
 *   const turn = await throttle.admit("192.0.2.1", "alice");
 *   turn.failed(); // or succeeded()
 * }
 * ```
 */
export class LoginThrottle {
  readonly policy: Readonly<ThrottlePolicy>;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #pairs: FailedLogins;
  readonly #addresses: FailedLogins;
  readonly #accounts: FailedLogins;
  readonly #inFlightByAddress = new Map<string, number>();
  readonly #trusted = new Map<string, number>();
  readonly #state = new Map<string, Account>();
  /** Accounts with attempts waiting. */
  readonly #waitingFor = new Set<string>();
  readonly #outcomeListeners = new Set<(outcome: LoginOutcome) => void>();

  constructor(policy: ThrottlePolicy, clock: Clock, options: { maxKeys?: number } = {}) {
    this.policy = Object.freeze({ ...policy });
    this.#clock = clock;
    this.#maxKeys = options.maxKeys ?? 100_000;
    const now = () => clock.now();
    const maxKeys = this.#maxKeys;
    this.#pairs = new FailedLogins(policy.maxPerPair, policy.windowMs, { now, maxKeys });
    this.#addresses = new FailedLogins(policy.maxPerAddress, policy.windowMs, { now, maxKeys });
    this.#accounts = new FailedLogins(
      policy.slowAfter + EXTRA_ACCOUNT_FAILURES,
      policy.windowMs,
      { now, maxKeys },
    );
  }

  /**
   * Whether an attempt for `login` (a login key) from `ip` is refused outright, because
   * this pair or this address has been failing.
   */
  refusal(ip: string, login: string): Refusal | undefined {
    const address = addressKey(ip);
    const pair = this.#pairs.retryAfter(pairKey(address, login));
    if (pair > 0) return { scope: "login", retryAfterMs: pair };
    const wide = this.#addresses.retryAfter(address);
    if (wide > 0) return { scope: "address", retryAfterMs: wide };
    return undefined;
  }

  /** Whether `ip` has logged in as `login` before, within the trust period. */
  trusts(ip: string, login: string): boolean {
    const key = pairKey(addressKey(ip), login);
    const since = this.#trusted.get(key);
    if (since === undefined) return false;
    if (this.#clock.now() - since > TRUST_MS) {
      this.#trusted.delete(key);
      return false;
    }
    return true;
  }

  /**
   * Failures of `login` within the window, from any address.
   */
  accountFailures(login: string): number {
    return this.#accounts.count(login);
  }

  /**
   * Waits until a proof for `login` from `ip` may be checked. `trusted` (e.g. the store's
   * last IP of the user is `ip`) skips the wait, as does an address that logged in to
   * `login` before. `onWait` is called at once when the attempt has to wait. Rejects with
   * the signal's reason when aborted while waiting.
   */
  admit(
    ip: string,
    login: string,
    options: { trusted?: boolean; signal?: AbortSignal; onWait?: () => void } = {},
  ): Promise<Turn> {
    const address = addressKey(ip);
    if (options.trusted || this.trusts(ip, login)) {
      return Promise.resolve(this.#turn(address, login, false, false));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const account = this.#account(login);
    if (account.waiting.length === 0 && this.#mayStart(address, login, account)) {
      return Promise.resolve(this.#start(address, login, account, false));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Turn>();
    const waiter: Waiter = {
      address,
      clean: this.#addresses.count(address) === 0,
      grant: (turn) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(turn);
      },
    };
    const onAbort = () => {
      const index = account.waiting.indexOf(waiter);
      if (index >= 0) account.waiting.splice(index, 1);
      if (account.waiting.length === 0) this.#waitingFor.delete(login);
      this.#forgetIfIdle(login, account);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // Addresses that have not been failing go ahead of those that have.
    const after = waiter.clean ? account.waiting.findIndex((w) => !w.clean) : -1;
    if (after < 0) account.waiting.push(waiter);
    else account.waiting.splice(after, 0, waiter);
    this.#waitingFor.add(login);
    options.onWait?.();
    return promise;
  }

  /**
   * Calls `listener` with the outcome of every proof checked here (not those given to
   * {@linkcode LoginThrottle.record}), e.g. to tell the other nodes of a cluster. Returns the
   * function that removes it.
   */
  onOutcome(listener: (outcome: LoginOutcome) => void): () => void {
    this.#outcomeListeners.add(listener);
    return () => this.#outcomeListeners.delete(listener);
  }

  /**
   * Counts an outcome checked elsewhere (another node of the cluster) as if it had been
   * checked here: a failure counts towards every limit and delay, a success trusts the address.
   */
  record(outcome: LoginOutcome): void {
    if (outcome.failed) this.#recordFailure(outcome.address, outcome.login);
    else this.#recordSuccess(outcome.address, outcome.login);
    const account = this.#state.get(outcome.login);
    if (account) this.#serve(outcome.login, account);
  }

  /** Lets waiting attempts go whose delay has passed; the server's sweep calls it. */
  tick(): void {
    for (const [login, account] of this.#state) this.#serve(login, account);
  }

  #account(login: string): Account {
    let account = this.#state.get(login);
    if (!account) {
      account = { inFlight: 0, heldUntil: 0, waiting: [] };
      this.#state.set(login, account);
    }
    return account;
  }

  #forgetIfIdle(login: string, account: Account): void {
    if (
      account.inFlight === 0 && account.waiting.length === 0 &&
      account.heldUntil <= this.#clock.now()
    ) {
      this.#state.delete(login);
    }
  }

  /** Whether an untrusted check of `login` from `address` may start now. */
  #mayStart(address: string, login: string, account: Account): boolean {
    if (this.#clock.now() < account.heldUntil) return false;
    // Checks in progress count as failures-to-be, so a burst cannot overshoot a limit.
    const failures = this.#accounts.count(login);
    const capacity = Math.max(1, this.policy.slowAfter - failures);
    if (account.inFlight >= capacity) return false;
    // An address that has been failing may not have more checks in progress than it has
    // failures left; one that has not (a NAT, a busy client host) is not held back.
    const failed = this.#addresses.count(address);
    if (failed === 0) return true;
    return failed + (this.#inFlightByAddress.get(address) ?? 0) < this.policy.maxPerAddress;
  }

  #serve(login: string, account: Account): void {
    while (account.waiting.length > 0) {
      const index = account.waiting.findIndex((w) => this.#mayStart(w.address, login, account));
      if (index < 0) break;
      const [waiter] = account.waiting.splice(index, 1);
      waiter!.grant(this.#start(waiter!.address, login, account, true));
    }
    if (account.waiting.length === 0) this.#waitingFor.delete(login);
    this.#forgetIfIdle(login, account);
  }

  #start(address: string, login: string, account: Account, waited: boolean): Turn {
    account.inFlight++;
    this.#inFlightByAddress.set(address, (this.#inFlightByAddress.get(address) ?? 0) + 1);
    return this.#turn(address, login, true, waited);
  }

  #turn(address: string, login: string, counted: boolean, waited: boolean): Turn {
    let done = false;
    const finish = (outcome: "failed" | "succeeded" | "released") => {
      if (done) return;
      done = true;
      if (outcome === "failed") this.#recordFailure(address, login);
      if (outcome === "succeeded") this.#recordSuccess(address, login);
      if (outcome !== "released" && this.#outcomeListeners.size > 0) {
        const shared = { failed: outcome === "failed", address, login };
        for (const listener of [...this.#outcomeListeners]) listener(shared);
      }
      if (!counted) return;
      const account = this.#account(login);
      account.inFlight--;
      const n = (this.#inFlightByAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.#inFlightByAddress.delete(address);
      else this.#inFlightByAddress.set(address, n);
      this.#serve(login, account);
      // The address's budget may have held back attempts on other accounts too.
      for (const other of this.#waitingFor) {
        if (other !== login) this.#serve(other, this.#account(other));
      }
    };
    return {
      waited,
      failed: () => finish("failed"),
      succeeded: () => finish("succeeded"),
      release: () => finish("released"),
    };
  }

  #recordFailure(address: string, login: string): void {
    this.#pairs.fail(pairKey(address, login));
    this.#addresses.fail(address);
    this.#accounts.fail(login);
    const failures = this.#accounts.count(login);
    const past = failures - this.policy.slowAfter;
    if (past < 0) return;
    const delay = Math.min(this.policy.maxDelayMs, this.policy.firstDelayMs * 2 ** past);
    const account = this.#account(login);
    account.heldUntil = Math.max(account.heldUntil, this.#clock.now() + delay);
  }

  #recordSuccess(address: string, login: string): void {
    const key = pairKey(address, login);
    this.#pairs.clear(key);
    this.#trusted.delete(key);
    this.#trusted.set(key, this.#clock.now());
    if (this.#trusted.size > this.#maxKeys) {
      const oldest = this.#trusted.keys().next().value;
      if (oldest !== undefined) this.#trusted.delete(oldest);
    }
  }
}

function pairKey(address: string, login: string): string {
  return `${address} ${login}`;
}

/**
 * The key an address is counted under: an IPv4 address as it is (also when IPv4-mapped),
 * an IPv6 address by its /64 prefix.
 *
 * @example
 * ```ts
 * import { addressKey } from "./_login_throttle.ts";
 * addressKey("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 * addressKey("::ffff:192.0.2.7"); // "192.0.2.7"
 * ```
 */
export function addressKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const mapped = ip.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped) return mapped[1]!;
  const groups = expandIpv6(ip.split("%")[0]!);
  if (!groups) return ip;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

function expandIpv6(ip: string): number[] | undefined {
  const halves = ip.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  // A trailing dotted quad stands for the last two groups.
  const last = (tail.length > 0 ? tail : head).at(-1);
  if (last?.includes(".")) return undefined;
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return undefined;
  const groups = [...head, ...Array(fill).fill("0"), ...tail].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
  return groups;
}
