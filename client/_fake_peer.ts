/**
 * A scripted JIM peer on a real loopback socket, for the cases a real server never
 * produces: a forged SCRAM signature, a seed server, a connection dropped mid-request.
 * Test support only.
 */
import assert from "node:assert/strict";
import {
  deriveScramCredentials,
  encodeFrame,
  FrameDecoder,
  fromBase64,
  ScramServerExchange,
  toBase64,
} from "../protocol/mod.ts";

/** One accepted connection, driven by a test script. */
export class FakePeer {
  readonly conn: Deno.Conn;
  #decoder = new FrameDecoder();
  #frames: Record<string, unknown>[] = [];
  #buffer = new Uint8Array(4096);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** The next object the client sent; throws when the client hung up first. */
  async receive(): Promise<Record<string, unknown>> {
    while (this.#frames.length === 0) {
      const n = await this.conn.read(this.#buffer);
      if (n === null) throw new Error("Fake peer: client closed the connection");
      for (const frame of this.#decoder.push(this.#buffer.subarray(0, n))) {
        if (!frame.ok) throw frame.error;
        this.#frames.push(frame.value);
      }
    }
    return this.#frames.shift()!;
  }

  /** Writes one object, framed as the server does. */
  async send(message: unknown): Promise<void> {
    const bytes = encodeFrame(message);
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Resolves once the client closes its side. */
  async untilClosed(): Promise<void> {
    try {
      while ((await this.conn.read(this.#buffer)) !== null) {
        // Drain whatever else the client says.
      }
    } catch {
      // Reset by the client: closed as well.
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** A listener that runs `script` for its first connection. */
export interface FakeServer extends AsyncDisposable {
  port: number;
  /** Settles when the script has finished; rejects with the script's error. */
  done: Promise<void>;
}

/**
 * Listens on 127.0.0.1 port 0 and runs `script` on the first connection. Disposing waits for
 * the script and rethrows its failure, so a broken script fails the test.
 */
export function fakeServer(script: (peer: FakePeer) => Promise<void>): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const peer = new FakePeer(conn);
    try {
      await script(peer);
    } finally {
      peer.close();
    }
  })();
  // Observed by the test through `done` or dispose; avoid an unhandled rejection meanwhile.
  done.catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    done,
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Closed after the first accept.
      }
      await done;
    },
  };
}

const text = (b64: unknown) => new TextDecoder().decode(fromBase64(String(b64)));

/**
 * Plays the server side of a SCRAM login; `forge` replaces the server's final message, and
 * `capabilities` goes into the 401 as the server's answer (issue 12). Returns the presence
 * the client sent.
 */
export async function serveScram(
  peer: FakePeer,
  password: string,
  forge?: { data?: string },
  options: { capabilities?: unknown } = {},
): Promise<Record<string, unknown>> {
  const creds = await deriveScramCredentials(password, { iterations: 4096 });
  const presence = await peer.receive();
  assert.equal(presence.action, "presence");
  await peer.send({
    response: 401,
    error: "Authentication required",
    token: "00112233445566778899aabbccddeeff",
    mechanisms: ["SCRAM-SHA-256"],
    ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
  });
  const exchange = new ScramServerExchange();
  const first = await peer.receive();
  assert.equal(first.mechanism, "SCRAM-SHA-256");
  const serverFirst = exchange.serverFirst(text(first.data), creds);
  await peer.send({
    response: 401,
    error: "Authentication required",
    mechanism: "SCRAM-SHA-256",
    data: toBase64(serverFirst),
  });
  const final = await peer.receive();
  const serverFinal = await exchange.serverFinal(text(final.data), creds);
  await peer.send({ response: 200, alert: "OK", ...(forge ?? { data: toBase64(serverFinal) }) });
  return presence;
}

/**
 * A proxy that makes the real server look like a seed server: it removes `mechanisms` from
 * the 401 to presence and passes everything else through unchanged.
 */
export function seedDisguise(target: { host: string; port: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sawMechanisms: unknown[] = [];
  const done = (async () => {
    const downstream = await listener.accept();
    listener.close();
    const upstream = await Deno.connect({ hostname: target.host, port: target.port });
    const pump = async (from: Deno.Conn, to: Deno.Conn, edit: boolean) => {
      const decoder = new FrameDecoder();
      const buffer = new Uint8Array(4096);
      try {
        for (let n; (n = await from.read(buffer)) !== null;) {
          if (!edit) {
            await to.write(buffer.slice(0, n));
            continue;
          }
          for (const frame of decoder.push(buffer.subarray(0, n))) {
            if (!frame.ok) throw frame.error;
            if ("mechanisms" in frame.value) {
              sawMechanisms.push(frame.value.mechanisms);
              delete frame.value.mechanisms;
            }
            await to.write(encodeFrame(frame.value));
          }
        }
      } catch {
        // Either side hung up.
      } finally {
        for (const c of [from, to]) {
          try {
            c.close();
          } catch {
            // Closed by the other pump.
          }
        }
      }
    };
    await Promise.all([pump(downstream, upstream, false), pump(upstream, downstream, true)]);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    sawMechanisms,
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Closed after accepting.
      }
      await done;
    },
  };
}
