/**
 * One outbound message on its way to any number of sessions, encoded at most once per
 * dialect however many sessions it reaches.
 *
 * @module
 */
import { type Capability, encodeFrame, type ServerPush } from "../../protocol/mod.ts";

/** Options for {@linkcode Envelope}. */
export interface EnvelopeOptions {
  /**
   * Fields that sessions with `ids` get on top of the message (issue 12: `id`, `ts`, and
   * `stored`, `carbon`, `state` where they apply). Seed sessions get the message alone.
   */
  ids?: Readonly<Record<string, unknown>>;
  /** Only sessions that announced this capability get the envelope (carbons, receipts). */
  requires?: Capability;
}

/**
 * A push and its frames, encoded lazily on first use and then shared by every session that
 * delivers it: the seed dialect (exactly today's frame) and, when the envelope has `ids`
 * fields, the jim dialect with them.
 *
 * @example
 * ```ts
 * import { Envelope } from "./envelope.ts";
 * const envelope = new Envelope({ action: "probe", time: 1 });
 * console.log(envelope.frame().length); // 28: {"action":"probe","time":1} and a newline
 * const jim = new Envelope({ action: "probe", time: 1 }, { ids: { id: 5 } });
 * console.log(jim.frameFor(new Set(["ids"]))!.length); // 35: with "id":5
 * ```
 */
export class Envelope<M extends ServerPush = ServerPush> {
  /** The message as the server built it, in the seed dialect. */
  readonly message: M;
  /** Fields added for sessions with `ids`. */
  readonly ids: Readonly<Record<string, unknown>> | undefined;
  /** The capability a session needs to get it, if any. */
  readonly requires: Capability | undefined;
  #frame: Uint8Array | undefined;
  #idsFrame: Uint8Array | undefined;

  /** Wraps `message`; nothing is encoded yet. */
  constructor(message: M, options: EnvelopeOptions = {}) {
    this.message = message;
    this.ids = options.ids;
    this.requires = options.requires;
  }

  /** The seed dialect's frame, JSON and a newline. */
  frame(): Uint8Array {
    return this.#frame ??= encodeFrame(this.message);
  }

  /** The frame for a session with `caps`, or undefined when the envelope is not for it. */
  frameFor(caps: ReadonlySet<Capability>): Uint8Array | undefined {
    if (this.requires !== undefined && !caps.has(this.requires)) return undefined;
    if (this.ids === undefined || !caps.has("ids")) return this.frame();
    return this.#idsFrame ??= encodeFrame({ ...this.message, ...this.ids } as ServerPush);
  }
}
