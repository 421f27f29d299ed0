/**
 * The login of one connection, as a state machine: presence gives a challenge; then either
 * SCRAM-SHA-256 (client-first, then client-final) or, where allowed, the seed's HMAC-MD5
 * answer to the challenge. Unknown logins meet stable decoy credentials and fail at the proof
 * with the same text as a wrong password; the login throttle refuses, delays or admits each
 * proof. The machine ends at "authenticated", with the login in display case; taking a place
 * in the hub is the session's next step.
 *
 * @module
 */
import {
  type AuthenticateRequest,
  type Capability,
  fromBase64,
  HMAC_MD5,
  JimError,
  loginKey,
  type Mechanism,
  newToken,
  type OkResponse,
  SCRAM_SHA_256,
  type ScramCredentials,
  ScramServerExchange,
  type ServerResponse,
  Status,
  toBase64,
  verifyLegacyDigest,
} from "../protocol/mod.ts";
import type { ConnInfo, EventFeed } from "./events.ts";
import type { Decoys } from "./_decoy.ts";
import type { LoginThrottle, Turn } from "./_login_throttle.ts";
import type { UserStore } from "./storage/ports.ts";
import { supportedSubset } from "./capabilities.ts";

/** The text of every 401 that asks for (more) authentication. */
export const AUTH_REQUIRED = "Authentication required";
/** The one answer to a failed legacy login, whether the user, their legacy hash or the password is missing. */
export const LEGACY_DENIED =
  `Access denied: wrong password, or no legacy password is stored for this client; use ${SCRAM_SHA_256}`;

/** What the login needs from the server. */
export interface LoginServices {
  readonly users: UserStore;
  readonly throttle: LoginThrottle;
  readonly decoys: Decoys;
  readonly legacyAuth: boolean;
  readonly events: EventFeed;
  /** What the server supports of what clients may announce. */
  readonly capabilities: ReadonlySet<Capability>;
}

/** What the login needs from its session. */
export interface LoginPeer {
  /** The client's address. */
  readonly ip: string;
  /** The connection as events describe it. */
  readonly info: ConnInfo;
  /** Whether the session still takes requests. */
  readonly open: boolean;
  /** Sends a response. */
  reply(message: ServerResponse): void;
}

/** A login that proved its credentials: the session's next step is the hub. */
export interface Authenticated {
  /** The login in display case. */
  login: string;
  /** The 200 to send once the session holds its place. */
  response: OkResponse;
  /** What the presence that started the login announced and the server supports. */
  capabilities: ReadonlySet<Capability>;
}

/** A SCRAM exchange between its first and final message. */
interface PendingScram {
  key: string;
  exchange: ScramServerExchange;
  /** The user's, or the decoy's for a login that does not exist. */
  credentials: ScramCredentials;
  /** The login in display case; undefined for a decoy. */
  login: string | undefined;
  /** Whether the user last logged in from this address. */
  trusted: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One connection's login. Created with its session, dropped once the session is logged in.
 *
 * @example
 * ```ts ignore
 * const login = new LoginMachine(services, session);
 * login.presence("alice"); // replies 401 with a token and the mechanisms
 * const done = await login.authenticate(request); // undefined until a proof succeeds
 * ```
 */
export class LoginMachine {
  readonly #services: LoginServices;
  readonly #peer: LoginPeer;
  #challenge: { key: string; token: string } | undefined;
  /** Fixed by the presence that started this login; empty: the seed dialect. */
  #capabilities: ReadonlySet<Capability> = new Set();
  #scram: PendingScram | undefined;
  #waiting = false;
  /** Aborted when the session closes: ends waits on its behalf. */
  readonly #lifetime = new AbortController();

  constructor(services: LoginServices, peer: LoginPeer) {
    this.#services = services;
    this.#peer = peer;
  }

  /** Whether a proof is waiting for the throttle: the login deadline does not run meanwhile. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** Gives up any wait, because the session closed. */
  abort(): void {
    this.#scram = undefined;
    this.#challenge = undefined;
    this.#lifetime.abort(new Error("Connection closed"));
  }

  /**
   * Starts a login. Every name gets the same answer, known or not, online or not, and the
   * store is not even asked: nothing before a valid proof tells accounts apart. A client
   * that announced `capabilities` hears which of them the server supports; one that did not
   * hears nothing new.
   */
  presence(name: string, announced?: readonly Capability[]): void {
    const token = newToken();
    this.#challenge = { key: loginKey(name), token };
    const capabilities = announced === undefined
      ? []
      : supportedSubset(announced, this.#services.capabilities);
    this.#capabilities = new Set(capabilities);
    this.#peer.reply({
      response: Status.UNAUTHORIZED,
      error: AUTH_REQUIRED,
      token,
      mechanisms: this.#mechanisms(),
      ...(announced === undefined ? {} : { capabilities }),
    });
  }

  /**
   * One authentication step. Resolves with the login once a proof succeeded; undefined when
   * more is needed or the attempt was answered (refused, or the session closed meanwhile).
   *
   * @throws {JimError} the answer to a failed step (402 wrong credentials, 400 out of order).
   */
  authenticate(request: AuthenticateRequest): Promise<Authenticated | undefined> | undefined {
    const key = loginKey(request.user.account_name);
    const refusal = this.#services.throttle.refusal(this.#peer.ip, key);
    if (refusal) {
      this.#challenge = undefined;
      this.#scram = undefined;
      const seconds = Math.ceil(refusal.retryAfterMs / 1000);
      this.#services.events.publish("error", {
        conn: this.#peer.info,
        message: refusal.scope === "login"
          ? `Login as ${key} refused for ${seconds} s: failed logins of it from ${this.#peer.ip}`
          : `Login as ${key} refused for ${seconds} s: failed logins from ${this.#peer.ip}`,
      });
      this.#peer.reply({
        response: Status.FORBIDDEN,
        error: `Too many failed logins: try again in ${seconds} seconds`,
        retry_after: seconds,
      });
      return undefined;
    }
    if (request.mechanism === SCRAM_SHA_256) return this.#scramStep(request, key);
    return this.#legacy(request.user.account_name, request.user.password ?? "", key);
  }

  #mechanisms(): Mechanism[] {
    return this.#services.legacyAuth ? [SCRAM_SHA_256, HMAC_MD5] : [SCRAM_SHA_256];
  }

  #failed(key: string, text = "Access denied"): JimError {
    this.#services.events.publish("error", {
      conn: this.#peer.info,
      message: `Failed login as ${key}`,
    });
    return new JimError(Status.AUTH_FAILED, text);
  }

  /**
   * Waits, when the throttle says so, for the right to check a proof of `key`. Undefined
   * when the session closed meanwhile.
   */
  async #turn(key: string, trusted: boolean): Promise<Turn | undefined> {
    const { throttle, events } = this.#services;
    this.#waiting = true;
    let turn: Turn;
    const onWait = () => {
      events.publish("error", {
        conn: this.#peer.info,
        message: `Login as ${key} waits its turn: ${
          throttle.accountFailures(key)
        } failed logins of it in the window`,
      });
    };
    try {
      turn = await throttle.admit(this.#peer.ip, key, {
        trusted,
        signal: this.#lifetime.signal,
        onWait,
      });
    } catch {
      return undefined; // Closed while waiting.
    } finally {
      this.#waiting = false;
    }
    if (!this.#peer.open) {
      turn.release();
      return undefined;
    }
    return turn;
  }

  async #legacy(name: string, digest: string, key: string): Promise<Authenticated | undefined> {
    const challenge = this.#challenge;
    this.#challenge = undefined;
    this.#scram = undefined;
    if (!this.#services.legacyAuth) {
      throw new JimError(
        Status.AUTH_FAILED,
        `Access denied: legacy ${HMAC_MD5} login is disabled on this server; use ${SCRAM_SHA_256}`,
      );
    }
    if (!challenge || challenge.key !== key) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Cannot authenticate: send presence first for a token",
      );
    }
    const creds = await this.#services.users.credentials(name);
    const decoy = await this.#services.decoys.for(key);
    const turn = await this.#turn(key, creds?.lastIp === this.#peer.ip);
    if (!turn) return undefined;
    // The digest is checked against a decoy when there is nothing real to check it against,
    // so that a wrong password, no legacy hash and no such user take the same path.
    const hash = creds?.legacyHash ?? decoy.legacyHash;
    let matches = false;
    try {
      matches = verifyLegacyDigest(hash, challenge.token, digest);
    } catch {
      // Not hex: a wrong digest like any other.
    }
    if (!matches || !creds || creds.legacyHash === null) {
      turn.failed();
      throw this.#failed(key, LEGACY_DENIED);
    }
    turn.succeeded();
    return {
      login: creds.login,
      response: { response: Status.OK, alert: "OK" },
      capabilities: this.#capabilities,
    };
  }

  async #scramStep(request: AuthenticateRequest, key: string): Promise<Authenticated | undefined> {
    let text: string;
    try {
      text = utf8.decode(fromBase64(request.data ?? ""));
    } catch {
      throw new JimError(Status.BAD_REQUEST, "Invalid field: data must be base64 of UTF-8 text");
    }
    if (text.startsWith("c=")) return await this.#scramFinal(text, key);
    this.#scram = undefined;
    const first = ScramServerExchange.parseClientFirst(text);
    if (loginKey(first.user) !== key) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Invalid SCRAM message: user does not match user.account_name",
      );
    }
    // Known or not, the same work and the same answer: an unknown login gets its decoy's
    // stable salt and the default iteration count, and fails at the proof.
    const creds = await this.#services.users.credentials(request.user.account_name);
    const decoy = await this.#services.decoys.for(key);
    if (!this.#peer.open) return undefined;
    const credentials = creds?.scram ?? decoy;
    const exchange = new ScramServerExchange();
    const serverFirst = exchange.serverFirst(text, credentials);
    this.#scram = {
      key,
      exchange,
      credentials,
      login: creds?.login,
      trusted: creds !== undefined && creds.lastIp === this.#peer.ip,
    };
    this.#peer.reply({
      response: Status.UNAUTHORIZED,
      error: AUTH_REQUIRED,
      mechanism: SCRAM_SHA_256,
      data: toBase64(serverFirst),
    });
    return undefined;
  }

  async #scramFinal(text: string, key: string): Promise<Authenticated | undefined> {
    const scram = this.#scram;
    this.#scram = undefined;
    if (!scram || scram.key !== key) {
      throw new JimError(
        Status.BAD_REQUEST,
        "Cannot authenticate: SCRAM client-final-message before client-first-message",
      );
    }
    const turn = await this.#turn(key, scram.trusted);
    if (!turn) return undefined;
    let serverFinal: string;
    try {
      serverFinal = await scram.exchange.serverFinal(text, scram.credentials);
    } catch (error) {
      if (error instanceof JimError && error.code === Status.AUTH_FAILED) {
        turn.failed();
        throw this.#failed(key);
      }
      turn.release();
      throw error;
    }
    if (scram.login === undefined) {
      // A proof that matched a decoy: not possible without the server's secret.
      turn.failed();
      throw this.#failed(key);
    }
    turn.succeeded();
    if (!this.#peer.open) return undefined;
    // The proof was checked against credentials read before the await; a removal that
    // committed meanwhile would otherwise leave a session for a deleted account.
    if (await this.#services.users.canonicalLogin(scram.login) === undefined) {
      throw new JimError(Status.NOT_FOUND, `No such client: ${scram.login}`);
    }
    return {
      login: scram.login,
      response: { response: Status.OK, alert: "OK", data: toBase64(serverFinal) },
      capabilities: this.#capabilities,
    };
  }
}
