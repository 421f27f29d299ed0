/**
 * Framing throughput: 200-byte messages fed in 64 KiB chunks. Each iteration decodes
 * 10,000 objects, so objects/s = 10,000 / (time per iteration).
 *
 *     deno bench protocol/framing_bench.ts
 */
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { validateRequest } from "./validate.ts";

const OBJECTS = 10_000;
const CHUNK = 64 * 1024;

function message(i: number): Record<string, unknown> {
  const base = {
    action: "msg",
    time: 1560964883,
    to: "Client5",
    from: "Client6",
    encoding: "utf-8",
  };
  const padding = 200 - encodeFrame({ ...base, message: "" }).length - String(i).length;
  return { ...base, message: `${i}${"x".repeat(padding)}` };
}

const parts = Array.from({ length: OBJECTS }, (_, i) => encodeFrame(message(i)));
const total = parts.reduce((n, p) => n + p.length, 0);
const stream = new Uint8Array(total);
parts.reduce((at, p) => (stream.set(p, at), at + p.length), 0);
const chunks: Uint8Array[] = [];
for (let at = 0; at < total; at += CHUNK) chunks.push(stream.subarray(at, at + CHUNK));

if (Math.abs(total / OBJECTS - 200) > 1) throw new Error(`messages are ${total / OBJECTS} bytes`);

Deno.bench(`decode ${OBJECTS} x 200-byte objects in 64 KiB chunks`, {
  group: "framing",
  baseline: true,
}, () => {
  const decoder = new FrameDecoder();
  let count = 0;
  for (const chunk of chunks) count += decoder.push(chunk).length;
  if (count !== OBJECTS) throw new Error(`decoded ${count}`);
});

Deno.bench(`decode and validate ${OBJECTS} x 200-byte requests`, { group: "framing" }, () => {
  const decoder = new FrameDecoder();
  let count = 0;
  for (const chunk of chunks) {
    for (const frame of decoder.push(chunk)) {
      if (frame.ok && validateRequest(frame.value).ok) count++;
    }
  }
  if (count !== OBJECTS) throw new Error(`validated ${count}`);
});

const sample = message(0);
Deno.bench(`encode ${OBJECTS} x 200-byte objects`, { group: "encode" }, () => {
  for (let i = 0; i < OBJECTS; i++) encodeFrame(sample);
});
