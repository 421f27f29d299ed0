import { assert } from "./_assert.ts";
import { formatMessage } from "./_format.ts";
import {
  type InputDevice,
  InputText,
  LineEditor,
  Painter,
  PlainLineReader,
  readHiddenLine,
  Screen,
  useColor,
} from "./_terminal.ts";

/** Keyboard input delivered chunk by chunk, as a terminal would. */
class Keys implements InputDevice {
  #chunks: Uint8Array[];
  raw: boolean[] = [];
  constructor(...chunks: (string | Uint8Array)[]) {
    this.#chunks = chunks.map((c) => typeof c === "string" ? new TextEncoder().encode(c) : c);
  }
  read(buffer: Uint8Array): Promise<number | null> {
    const chunk = this.#chunks.shift();
    if (!chunk) return Promise.resolve(null);
    buffer.set(chunk);
    return Promise.resolve(chunk.length);
  }
  setRaw(mode: boolean): void {
    this.raw.push(mode);
  }
}

/** Collects what the screen writes. */
class Sink {
  text = "";
  write(bytes: Uint8Array): Promise<number> {
    this.text += new TextDecoder().decode(bytes);
    return Promise.resolve(bytes.length);
  }
}

async function editLines(...chunks: (string | Uint8Array)[]): Promise<(string | null)[]> {
  const editor = new LineEditor(new Screen(new Sink(), true), new InputText(new Keys(...chunks)));
  const out: (string | null)[] = [];
  for (;;) {
    const line = await editor.readLine();
    out.push(line);
    if (line === null) return out;
  }
}

Deno.test("LineEditor edits a line with the usual keys", async (t) => {
  await t.step("typing, Backspace and Enter", async () => {
    assert.deepEqual(await editLines("helo\x7flo\r"), ["hello", null]);
  });
  await t.step("arrows, Home/End, Delete", async () => {
    assert.deepEqual(await editLines("wrld", "\x1b[H", "\x1b[Cxo\x1b[D\x1b[D\x1b[3~\x1b[F!\r"), [
      "world!",
      null,
    ]);
  });
  await t.step("an escape sequence split across reads", async () => {
    assert.deepEqual(await editLines("ab\x1b", "[D", "X\r"), ["aXb", null]);
  });
  await t.step("Ctrl-U, Ctrl-W, Ctrl-A, Ctrl-E", async () => {
    assert.deepEqual(await editLines("junk\x15one two\x17three\x01>\x05<\r"), [
      ">one three<",
      null,
    ]);
  });
  await t.step("Up recalls earlier lines", async () => {
    assert.deepEqual(await editLines("first\r", "\x1b[A!\r"), ["first", "first!", null]);
  });
  await t.step("several lines in one chunk, multi-byte text split mid-character", async () => {
    const bytes = new TextEncoder().encode("привет\rb\r");
    assert.deepEqual(await editLines(bytes.subarray(0, 3), bytes.subarray(3)), [
      "привет",
      "b",
      null,
    ]);
  });
  await t.step("Ctrl-C clears, then ends on an empty line; Ctrl-D ends", async () => {
    assert.deepEqual(await editLines("abc\x03", "\x03"), [null]);
    assert.deepEqual(await editLines("x\r\x04"), ["x", null]);
  });
  await t.step("control characters are not inserted", async () => {
    assert.deepEqual(await editLines("a\x07\x1bxb\r"), ["ab", null]);
  });
});

Deno.test("Screen prints above the input line and redraws it", async () => {
  const sink = new Sink();
  const screen = new Screen(sink, true);
  await screen.showInput("bob> ", "hello wor", 9);
  sink.text = "";
  await screen.print("[12:00:00] bob: ping");
  assert.equal(sink.text, "\r\x1b[2K[12:00:00] bob: ping\r\nbob> hello wor");
  sink.text = "";
  await screen.showInput("bob> ", "hello wor", 6);
  assert.equal(sink.text, "\r\x1b[2Kbob> hello wor\x1b[3D");
  screen.columns = 20;
  sink.text = "";
  await screen.showInput("> ", "0123456789abcdefghijklmnop", 26);
  assert.equal(sink.text, "\r\x1b[2K> 9abcdefghijklmnop", "the end stays in view");
  sink.text = "";
  await screen.showInput("> ", "0123456789abcdefghijklmnop", 0);
  assert.equal(sink.text, "\r\x1b[2K> 0123456789abcdefg\x1b[17D", "the start, cursor on it");
  sink.text = "";
  screen.columns = 80;
  await screen.showInput("> ", "日本🤝ab", 2);
  assert.equal(sink.text, "\r\x1b[2K> 日本🤝ab\x1b[4D", "wide characters take two columns");
  const plain = new Sink();
  const piped = new Screen(plain, false);
  await piped.showInput("> ", "typed", 5);
  await piped.print("line");
  assert.equal(plain.text, "line\n");
});

Deno.test("PlainLineReader splits lines across chunks and handles CRLF", async () => {
  const reader = new PlainLineReader(new InputText(new Keys("a\r\nb", "c\n", "last")));
  assert.deepEqual(
    [await reader.readLine(), await reader.readLine(), await reader.readLine()],
    ["a", "bc", "last"],
  );
  assert.equal(await reader.readLine(), null);
});

Deno.test("readHiddenLine() echoes nothing and leaves raw mode", async () => {
  const sink = new Sink();
  const keys = new Keys("se", "cx\x7fret\rnext line\n");
  const input = new InputText(keys);
  const secret = await readHiddenLine(new Screen(sink, true), input, "Password: ");
  assert.equal(secret, "secret");
  assert.equal(sink.text, "Password: \r\n");
  assert.deepEqual(keys.raw, [true, false]);
  assert.equal(await new PlainLineReader(input).readLine(), "next line");
  assert.equal(
    await readHiddenLine(new Screen(sink, true), new InputText(new Keys("\x03")), ""),
    null,
  );
});

Deno.test("readHiddenLine() writes its prompt after what the other screen still has to write", async (t) => {
  // One terminal behind two screens, as stdout and stderr are; stdout's write is slow.
  let terminal = "";
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const slowOut = {
    async write(bytes: Uint8Array): Promise<number> {
      await released;
      terminal += new TextDecoder().decode(bytes);
      return bytes.length;
    },
  };
  const errDevice = {
    write(bytes: Uint8Array): Promise<number> {
      terminal += new TextDecoder().decode(bytes);
      return Promise.resolve(bytes.length);
    },
  };
  await t.step("with after: the line comes out first, the prompt stays visible", async () => {
    terminal = "";
    const out = new Screen(slowOut, true);
    const printed = out.print("* Connected to 127.0.0.1:7777");
    const secret = readHiddenLine(
      new Screen(errDevice, true),
      new InputText(new Keys("pw\r")),
      "Password: ",
      { after: out },
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(terminal, "", "nothing may pass the slow line");
    release();
    assert.equal(await secret, "pw");
    await printed;
    // The prompt is written after the line, on a line of its own that nothing clears.
    const prompt = terminal.lastIndexOf("Password: ");
    assert.ok(prompt > terminal.lastIndexOf("\x1b[2K"), JSON.stringify(terminal));
  });
});

Deno.test("useColor() only on a terminal and never with NO_COLOR", () => {
  assert.equal(useColor(true, {}), true);
  assert.equal(useColor(false, {}), false);
  assert.equal(useColor(true, { NO_COLOR: "1" }), false);
  assert.equal(useColor(true, { NO_COLOR: "" }), true);
});

Deno.test("formatMessage() neutralises terminal control characters from the wire", () => {
  const line = formatMessage(
    {
      id: 1,
      contact: "eve",
      direction: "in",
      text: "hi\x1b[2J\x1b]0;owned\x07\u009b1m",
      time: 0,
      status: "delivered",
    },
    "alice",
    new Painter(false),
  );
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(line), JSON.stringify(line));
  assert.match(line, /eve: hi\uFFFD\[2J\uFFFD\]0;owned\uFFFD\uFFFD1m$/);
});
