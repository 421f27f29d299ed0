/**
 * The login storm: N clients connect and log in with SCRAM-SHA-256 at once, from this
 * process. Each simulated client has its salted password cached (RFC 5802, section 5.1), as a
 * returning client would, so the server's work per login is two HMACs, a SHA-256 and the
 * database lookup. Latency is connect to verified server signature.
 *
 * @module
 */
import { saltPassword } from "../../protocol/mod.ts";
import { LoadPeer, type SaltCache } from "../_load_client.ts";
import { Latencies } from "./latencies.ts";
import { cpuPercent, sampleProcess } from "./proc.ts";
import type { BenchRow } from "./report.ts";
import { type BenchContext, startServer } from "./workloads.ts";

/** Logs in users `s0` … `s${count - 1}` at once against a fresh jim-server. */
export async function runStorm(
  ctx: BenchContext,
  count: number,
  password: string,
  scram: { salt: Uint8Array; iterations: number },
): Promise<BenchRow> {
  const salt = new Uint8Array(scram.salt);
  const value = await saltPassword(password, salt, scram.iterations);
  const cache: SaltCache = new Map([[password, { salt, iterations: scram.iterations, value }]]);
  await using server = await startServer(ctx, "jim-server");
  const latencies = new Latencies();
  const peers: LoadPeer[] = [];
  let errors = 0;
  const before = sampleProcess(server.pid);
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const t0 = performance.now();
    try {
      const peer = await LoadPeer.connect(server.port, 4096);
      peers.push(peer);
      await peer.login(`s${i}`, password, cache);
      latencies.add(performance.now() - t0);
    } catch {
      errors++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const after = sampleProcess(server.pid);
  for (const peer of peers) peer.close();
  const { p50, p99 } = latencies.summary();
  return {
    workload: "login storm",
    server: "jim-server",
    detail: `${count} SCRAM logins at once: ${seconds.toFixed(2)} s`,
    rate: latencies.count / seconds,
    rateUnit: "logins/s",
    p50Ms: p50,
    p99Ms: p99,
    serverCpuPercent: cpuPercent(before, after, ctx.ticksPerSecond),
    rssMiB: after.rssKiB / 1024,
    notes: [errors ? `${errors} errors` : "", "clients in the harness, unpinned"]
      .filter(Boolean).join(", "),
  };
}
