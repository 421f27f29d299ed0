import assert from "node:assert/strict";
import {
  type DecodedFrame,
  encodeFrame,
  FrameDecoder,
  JimDecoderStream,
  JimEncoderStream,
} from "./framing.ts";
import { FrameError } from "./errors.ts";

const utf8 = new TextEncoder();

/** Feeds `bytes` in the given chunk sizes (cycling) and collects every frame. */
function feed(decoder: FrameDecoder, bytes: Uint8Array, sizes: number[]): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    frames.push(...decoder.push(bytes.subarray(at, at + size)));
    at += size;
  }
  return frames;
}

function values(frames: DecodedFrame[]): unknown[] {
  return frames.map((f) => {
    assert.ok(f.ok, `unexpected frame error: ${f.ok ? "" : f.error.message}`);
    return f.value;
  });
}

// Awkward content: multi-byte UTF-8, escaped quotes and backslashes, braces inside strings.
const TRICKY = [
  { action: "msg", time: 1, to: "Клиент", from: "b", message: 'He said "{hi}" \\ } ] [ {' },
  { action: "msg", time: 2, to: "a", from: "b", message: "emoji 😀🎉 and 漢字 and é" },
  { action: "presence", time: "1560964883", user: { account_name: 'x\\"y' } },
  { nested: { deep: [1, { a: "}" }, [2, 3]] }, s: "\\" },
  {},
];

Deno.test("FrameDecoder splits objects at any byte", async (t) => {
  const joined = [
    JSON.stringify(TRICKY[0]),
    JSON.stringify(TRICKY[1]),
    " \n\t\r",
    JSON.stringify(TRICKY[2]) + "\n",
    JSON.stringify(TRICKY[3]),
    "\r\n",
    JSON.stringify(TRICKY[4]),
  ].join("");
  const bytes = utf8.encode(joined);

  await t.step("byte by byte", () => {
    assert.deepEqual(values(feed(new FrameDecoder(), bytes, [1])), TRICKY);
  });

  await t.step("every two-piece split", () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder();
      const frames = [
        ...decoder.push(bytes.subarray(0, cut)),
        ...decoder.push(bytes.subarray(cut)),
      ];
      assert.deepEqual(values(frames), TRICKY, `cut at ${cut}`);
    }
  });

  await t.step("random split points", () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run = 0; run < 300; run++) {
      const sizes = Array.from({ length: 7 }, () => 1 + Math.floor(random() * 40));
      assert.deepEqual(values(feed(new FrameDecoder(), bytes, sizes)), TRICKY, `sizes ${sizes}`);
    }
  });

  await t.step("all in one chunk", () => {
    assert.deepEqual(values(new FrameDecoder().push(bytes)), TRICKY);
  });
});

Deno.test("FrameDecoder accepts objects with no separator", () => {
  const frames = new FrameDecoder().push(utf8.encode('{"a":1}{"b":2}{"c":"}{"}'));
  assert.deepEqual(values(frames), [{ a: 1 }, { b: 2 }, { c: "}{" }]);
});

Deno.test("FrameDecoder reports a balanced bad object and goes on", async (t) => {
  for (
    const bad of ['{"a":}', "{'single':1}", '{"a":1,}', "{]", '{"a":[1}]', "{nope}", '{"a" 1}']
  ) {
    await t.step(bad, () => {
      const decoder = new FrameDecoder();
      const frames = feed(decoder, utf8.encode(`${bad}\n{"next":true}`), [1]);
      assert.equal(frames.length, 2);
      const [first, second] = frames;
      assert.ok(first && !first.ok);
      assert.ok(first.error instanceof FrameError);
      assert.equal(first.error.fatal, false);
      assert.match(first.error.message, /^Cannot parse frame: /);
      assert.deepEqual(second, { ok: true, value: { next: true } });
    });
  }
});

Deno.test("FrameDecoder fails fatally on input it cannot resynchronise from", async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["a top-level array", utf8.encode("[1,2]"), /expected an object, found "\["/],
    ["a top-level string", utf8.encode('"hi"'), /expected an object, found "\\""/],
    ["a top-level number", utf8.encode("42"), /expected an object, found "4"/],
    ["a stray closing brace", utf8.encode('{"a":1}}'), /expected an object, found "}"/],
    ["a NUL byte", new Uint8Array([0]), /found byte 0x00/],
    [
      "invalid UTF-8 inside a string",
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
      /invalid UTF-8/,
    ],
    [
      "a truncated UTF-8 sequence",
      new Uint8Array([0x7b, 0x22, 0xd0, 0x22, 0x3a, 0x31, 0x7d]),
      /invalid UTF-8/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    await t.step(name, () => {
      const decoder = new FrameDecoder();
      const error = assert.throws(() => feed(decoder, bytes, [1]), (e: unknown) => {
        assert.ok(e instanceof FrameError);
        assert.equal(e.fatal, true);
        assert.match(e.message, pattern);
        return true;
      });
      void error;
      // The decoder stays failed: nothing after a fatal error is trusted.
      assert.throws(() => decoder.push(utf8.encode('{"a":1}')), FrameError);
    });
  }
});

Deno.test("FrameDecoder bounds a frame by maxFrameBytes", async (t) => {
  const limit = 64;
  const fits = utf8.encode(JSON.stringify({ s: "x".repeat(limit - 8) }));
  assert.equal(fits.length, limit);

  await t.step("a frame of exactly the limit passes", () => {
    assert.equal(feed(new FrameDecoder({ maxFrameBytes: limit }), fits, [1]).length, 1);
    assert.equal(new FrameDecoder({ maxFrameBytes: limit }).push(fits).length, 1);
  });

  const over = utf8.encode(JSON.stringify({ s: "x".repeat(limit - 7) }));
  for (const [name, sizes] of [["in one chunk", [over.length]], ["byte by byte", [1]]] as const) {
    await t.step(`one byte over fails ${name}`, () => {
      const decoder = new FrameDecoder({ maxFrameBytes: limit });
      assert.throws(() => feed(decoder, over, [...sizes]), (e: unknown) => {
        assert.ok(e instanceof FrameError && e.fatal);
        assert.equal(e.message, `Cannot decode frame: exceeds ${limit} bytes`);
        return true;
      });
    });
  }

  await t.step("an endless object never holds more than the limit", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: limit });
    decoder.push(utf8.encode('{"s":"'));
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) {
        decoder.push(utf8.encode("xxxxxxxx"));
        assert.ok(decoder.bufferedBytes <= limit);
      }
    }, FrameError);
  });

  await t.step("the default limit is 16 KiB", () => {
    const decoder = new FrameDecoder();
    assert.equal(decoder.maxFrameBytes, 16384);
    const big = utf8.encode(JSON.stringify({ s: "y".repeat(16384) }));
    assert.throws(() => decoder.push(big), /Cannot decode frame: exceeds 16384 bytes/);
  });
});

Deno.test("FrameDecoder.finish() rejects a stream that ends inside an object", () => {
  const decoder = new FrameDecoder();
  decoder.push(utf8.encode('{"a":1}{"b"'));
  assert.equal(decoder.idle, false);
  assert.throws(() => decoder.finish(), /stream ended inside an object/);
  const clean = new FrameDecoder();
  clean.push(utf8.encode('{"a":1}\n'));
  assert.equal(clean.idle, true);
  clean.finish();
});

Deno.test("JimDecoderStream decodes a chunked byte stream and errors on fatal input", async (t) => {
  const source = (chunks: Uint8Array[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });

  await t.step("objects and a non-fatal error pass through", async () => {
    const bytes = utf8.encode('{"a":"я"}{bad}\n{"b":2}');
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const frames = await Array.fromAsync(source(chunks).pipeThrough(new JimDecoderStream()));
    assert.equal(frames.length, 3);
    assert.deepEqual(frames[0], { ok: true, value: { a: "я" } });
    assert.equal(frames[1]?.ok, false);
    assert.deepEqual(frames[2], { ok: true, value: { b: 2 } });
  });

  await t.step("a fatal error errors the stream", async () => {
    const stream = source([utf8.encode('{"a":1}[')]).pipeThrough(new JimDecoderStream());
    await assert.rejects(Array.fromAsync(stream), FrameError);
  });

  await t.step("a truncated object errors the stream at its end", async () => {
    const stream = source([utf8.encode('{"a":')]).pipeThrough(new JimDecoderStream());
    await assert.rejects(Array.fromAsync(stream), /stream ended inside an object/);
  });
});

Deno.test("encodeFrame() writes compact JSON and a newline", () => {
  const text = new TextDecoder().decode(encodeFrame({ response: 200, alert: "Привет" }));
  assert.equal(text, '{"response":200,"alert":"Привет"}\n');
});

Deno.test("JimEncoderStream round-trips through JimDecoderStream", async () => {
  const messages = TRICKY;
  const encoded = ReadableStream.from(messages).pipeThrough(new JimEncoderStream());
  const frames = await Array.fromAsync(encoded.pipeThrough(new JimDecoderStream()));
  assert.deepEqual(values(frames), messages);
});
