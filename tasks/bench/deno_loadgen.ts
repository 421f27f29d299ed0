/**
 * The Deno load generator: the same command line, control protocol and workloads as
 * loadgen.c, for machines without a C compiler. It costs about as much CPU per message as the
 * server it drives, so on two cores it may well be the limit; the bench says which generator
 * ran.
 *
 *     deno run --allow-net tasks/bench/deno_loadgen.ts --port N --mode pingpong|flood|idle \
 *       --stored HEX --count N [--prefix p] [--window W] [--concurrency C] [--port2 M]
 *
 * With --port2 the odd users connect to port M: each pair spans two servers.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LoadPeer } from "../_load_client.ts";
import { Latencies } from "./latencies.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    port2: { type: "string" },
    mode: { type: "string" },
    stored: { type: "string" },
    count: { type: "string" },
    prefix: { type: "string", default: "p" },
    window: { type: "string", default: "32" },
    concurrency: { type: "string", default: "200" },
  },
});
const port = Number(values.port);
const port2 = values.port2 === undefined ? 0 : Number(values.port2);
const mode = values.mode;
const count = Number(values.count);
const window = Number(values.window);
const concurrency = Number(values.concurrency);
const prefix = values.prefix!;
const stored = values.stored ?? "";
if (
  !(port > 0) || !(port2 >= 0) || !(count > 0) || !(window > 0) || !(concurrency > 0) ||
  !["pingpong", "flood", "idle"].includes(mode ?? "") || !/^[0-9a-f]{64}$/i.test(stored)
) {
  console.error(
    "usage: deno_loadgen.ts --port N --mode pingpong|flood|idle --stored HEX --count N " +
      "[--prefix p] [--window W] [--concurrency C] [--port2 M]",
  );
  Deno.exit(2);
}

const emit = (event: Record<string, unknown>) => console.log(JSON.stringify(event));
const PADDING = "x".repeat(80);
/** The send time rides in the text, as in loadgen.c: "t", 19 digits of ns, padding to 100. */
const stamp = () =>
  `t${Math.round(performance.now() * 1e6).toString().padStart(19, "0")}${PADDING}`;

const peers: LoadPeer[] = new Array(count);
const loginStarted = performance.now();
let next = 0;
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
  while (next < count) {
    const index = next++;
    const peer = await LoadPeer.connect(
      port2 > 0 && index % 2 === 1 ? port2 : port,
      mode === "idle" ? 1024 : 64 * 1024,
    );
    await peer.loginLegacy(`${prefix}${index}`, stored);
    peers[index] = peer;
  }
}));
emit({ event: "ready", logins: count, login_seconds: (performance.now() - loginStarted) / 1000 });

let traffic = false;
let measuring = false;
let markAt = 0;
let errors = 0;
const latencies = new Latencies();
const send = (from: number, to: number) => {
  peers[from]!.write({ action: "msg", time: 0, to: `${prefix}${to}`, message: stamp() })
    .catch(() => errors++);
};
for (const [index, peer] of peers.entries()) {
  peer.onMessage = (frame) => {
    if (measuring && typeof frame.message === "string") {
      latencies.add(performance.now() - Number(frame.message.slice(1, 20)) / 1e6);
    }
    if (mode === "pingpong" && traffic) send(index, index ^ 1);
  };
  peer.onResponse = (frame) => {
    if (frame.response !== 200 && traffic) errors++;
    if (mode === "flood" && index % 2 === 0 && traffic) send(index, index + 1);
  };
  (async () => {
    while (await peer.pump());
    throw new Error(`Server closed the connection of ${prefix}${index}`);
  })().catch((error) => {
    console.error(`deno_loadgen: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  });
}

function command(line: string): void {
  switch (line) {
    case "go":
      traffic = true;
      for (let pair = 0; pair + 1 < count && mode !== "idle"; pair += 2) {
        for (let i = 0; i < (mode === "flood" ? window : 1); i++) send(pair, pair + 1);
      }
      return;
    case "mark":
      measuring = true;
      markAt = performance.now();
      latencies.clear();
      return;
    case "report":
      emit({ event: "progress", messages: latencies.count });
      return;
    case "stop": {
      const seconds = measuring ? (performance.now() - markAt) / 1000 : 0;
      const { p50, p99, max } = latencies.summary();
      emit({
        event: "result",
        messages: latencies.count,
        seconds,
        errors,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: max,
      });
      Deno.exit(0);
      return;
    }
    default:
      console.error(`deno_loadgen: unknown command: ${line}`);
      Deno.exit(1);
  }
}

let pending = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  const lines = (pending + chunk).split("\n");
  pending = lines.pop()!;
  for (const line of lines) command(line);
}
// The harness is gone.
Deno.exit(0);
