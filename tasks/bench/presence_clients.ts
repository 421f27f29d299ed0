/**
 * The presence workload's clients, as a process of their own so that they can be pinned to
 * the load generator's core: `count` users `s0` … log in with SCRAM-SHA-256 at once, with
 * the `presence` capability or without it, then keep reading. Once every login is done and
 * no push has arrived for `--quiet` ms, one JSON line goes to stdout; the connections stay
 * open until stdin closes, so that the server's CPU is sampled before anyone goes offline.
 *
 *     deno run -A tasks/bench/presence_clients.ts --port P --count 1000 --password PW \
 *       --salt BASE64 --iterations 4096 [--presence] [--quiet 1000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fromBase64, saltPassword } from "../../protocol/mod.ts";
import { LoadPeer, type SaltCache } from "../_load_client.ts";
import { Latencies } from "./latencies.ts";

/** What the clients report. */
export interface PresenceClientsResult {
  logins: number;
  errors: number;
  /** From the first connect to the last login's 200. */
  loginSeconds: number;
  /** Presence pushes received, all clients together. */
  pushes: number;
  p50Ms: number;
  p99Ms: number;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      count: { type: "string", default: "1000" },
      password: { type: "string" },
      salt: { type: "string" },
      iterations: { type: "string", default: "4096" },
      presence: { type: "boolean", default: false },
      quiet: { type: "string", default: "1000" },
    },
  });
  const salt = fromBase64(values.salt ?? "");
  const iterations = Number(values.iterations);
  const password = values.password ?? "";
  const value = await saltPassword(password, salt, iterations);
  const cache: SaltCache = new Map([[password, { salt, iterations, value }]]);
  const caps = values.presence ? ["ids", "carbons", "presence", "receipts"] : undefined;
  const count = Number(values.count);
  const quietMs = Number(values.quiet);
  const latencies = new Latencies();
  const peers: LoadPeer[] = [];
  let errors = 0;
  let pushes = 0;
  let lastFrame = performance.now();
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const t0 = performance.now();
    try {
      const peer = await LoadPeer.connect(Number(values.port), 4096);
      peers.push(peer);
      peer.onPresence = () => {
        pushes++;
        lastFrame = performance.now();
      };
      await peer.login(`s${i}`, password, cache, caps);
      latencies.add(performance.now() - t0);
      // Keep reading: pushes land here, probes are answered.
      void (async () => {
        while (await peer.pump()) { /* counted by onPresence */ }
      })().catch(() => {});
    } catch {
      errors++;
    }
  }));
  const loginSeconds = (performance.now() - started) / 1000;
  lastFrame = Math.max(lastFrame, performance.now());
  while (performance.now() - lastFrame < quietMs) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const { p50, p99 } = latencies.summary();
  const result: PresenceClientsResult = {
    logins: latencies.count,
    errors,
    loginSeconds,
    pushes,
    p50Ms: p50,
    p99Ms: p99,
  };
  console.log(JSON.stringify(result));
  // Until the harness has sampled the server: then everyone leaves at once.
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  for (const peer of peers) peer.close();
}
