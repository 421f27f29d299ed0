/**
 * The presence workload: `count` users, each with `contacts` contacts among them, log in at
 * once against a fresh jim-server, all announcing the `presence` capability or none of them
 * (the baseline: the same logins, no watch, no push). The clients run in their own process
 * (tasks/bench/presence_clients.ts) pinned to the load generator's core; the server's CPU
 * comes from /proc, from before the first connect until no push has arrived for a second
 * after the last login, so what presence costs is the difference between the two rows.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { toBase64 } from "../../protocol/mod.ts";
import { pinnedCommand } from "./pinning.ts";
import type { PresenceClientsResult } from "./presence_clients.ts";
import { cpuPercent, cpuSeconds, sampleProcess } from "./proc.ts";
import type { BenchRow } from "./report.ts";
import { runtimeFlags } from "./target.ts";
import { type BenchContext, startServer } from "./workloads.ts";

const CLIENTS = new URL("./presence_clients.ts", import.meta.url).pathname;

/**
 * Gives each of `s0` … `s${count - 1}` the next `per` users (wrapping) as contacts, in the
 * bench database: every user watches `per` others and is watched by `per`.
 *
 * @example
 * ```ts ignore
 * addRingContacts("bench.db", 1000, 50);
 * ```
 */
export function addRingContacts(dbPath: string, count: number, per: number): void {
  const db = new DatabaseSync(dbPath);
  try {
    const id = db.prepare("SELECT id FROM users WHERE login_key = ?");
    const ids = Array.from({ length: count }, (_, i) => {
      const row = id.get(`s${i}`);
      if (!row) throw new Error(`No bench user s${i}`);
      return row.id as number;
    });
    const insert = db.prepare(
      "INSERT OR IGNORE INTO contacts (owner_id, contact_id, added) VALUES (?, ?, ?)",
    );
    db.exec("BEGIN");
    for (let i = 0; i < count; i++) {
      for (let k = 1; k <= Math.min(per, count - 1); k++) {
        insert.run(ids[i]!, ids[(i + k) % count]!, Date.now());
      }
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/** One presence run: `count` logins at once, with or without the `presence` capability. */
export async function runPresence(
  ctx: BenchContext,
  options: {
    count: number;
    contacts: number;
    password: string;
    scram: { salt: Uint8Array; iterations: number };
    presence: boolean;
  },
): Promise<BenchRow> {
  await using server = await startServer(ctx, "jim-server");
  const before = sampleProcess(server.pid);
  const child = pinnedCommand(ctx.pinning.generator, Deno.execPath(), [
    "run",
    "-A",
    ...runtimeFlags(),
    CLIENTS,
    "--port",
    String(server.port),
    "--count",
    String(options.count),
    "--password",
    options.password,
    "--salt",
    toBase64(options.scram.salt),
    "--iterations",
    String(options.scram.iterations),
    ...(options.presence ? ["--presence"] : []),
  ], { stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
  const writer = child.stdin.getWriter();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("presence clients ended without a result");
      text += value;
    }
    const after = sampleProcess(server.pid);
    reader.releaseLock();
    const result = JSON.parse(text.slice(0, text.indexOf("\n"))) as PresenceClientsResult;
    const cpu = cpuSeconds(before, after, ctx.ticksPerSecond);
    return {
      workload: "presence",
      server: "jim-server",
      detail: `${options.count} logins at once, ${options.contacts} contacts each, ${
        options.presence ? "with" : "without"
      } presence: ${result.pushes.toLocaleString("en-US")} pushes, ${
        result.loginSeconds.toFixed(2)
      } s`,
      rate: result.logins / result.loginSeconds,
      rateUnit: "logins/s",
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      serverCpuPercent: cpuPercent(before, after, ctx.ticksPerSecond),
      // Per login here: the server's CPU over the window divided by the logins.
      cpuMicrosPerMessage: cpu * 1e6 / Math.max(1, result.logins),
      rssMiB: after.rssKiB / 1024,
      notes: [
        `server CPU ${(cpu * 1000).toFixed(0)} ms in all, µs/msg column is per login`,
        result.errors ? `${result.errors} errors` : "",
      ].filter(Boolean).join(", "),
    };
  } finally {
    await writer.close().catch(() => {});
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}
