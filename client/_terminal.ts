/**
 * Terminal I/O for the console client: a screen that prints above the line being typed, a
 * small line editor for raw TTY input, a plain line reader for pipes, and a no-echo password
 * prompt. Every write is awaited, in order.
 */

/** The parts of Deno.stdin the input side needs. */
export interface InputDevice {
  read(buffer: Uint8Array): Promise<number | null>;
  setRaw?(mode: boolean, options?: { cbreak: boolean }): void;
}

/** The parts of Deno.stdout the screen needs. */
export interface OutputDevice {
  write(bytes: Uint8Array): Promise<number>;
}

/** The longest input line kept; longer lines are cut (a message is at most 4096 characters). */
export const MAX_LINE_CHARS = 16 * 1024;

const encoder = new TextEncoder();

/** ANSI styles used by the console; plain text when color is off. */
export class Painter {
  readonly enabled: boolean;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  #wrap(code: string, text: string): string {
    return this.enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  bold(text: string): string {
    return this.#wrap("1", text);
  }
  dim(text: string): string {
    return this.#wrap("2", text);
  }
  red(text: string): string {
    return this.#wrap("31", text);
  }
  green(text: string): string {
    return this.#wrap("32", text);
  }
  cyan(text: string): string {
    return this.#wrap("36", text);
  }
  yellow(text: string): string {
    return this.#wrap("33", text);
  }
}

/** Whether to color output: only on a terminal, and never with NO_COLOR set (no-color.org). */
export function useColor(isTerminal: boolean, env: Record<string, string | undefined>): boolean {
  return isTerminal && !env.NO_COLOR;
}

/**
 * Prints lines. On a TTY it also shows the input line (prompt and what is being typed) and
 * keeps it intact: a printed line clears the input line, appears, and the input is redrawn
 * below it.
 */
export class Screen {
  readonly tty: boolean;
  /** The terminal width; read from the console when not set. */
  columns: number | undefined;
  readonly #out: OutputDevice;
  #prompt = "";
  #buffer = "";
  #cursor = 0;
  #inputShown = false;
  #chain: Promise<void> = Promise.resolve();

  constructor(out: OutputDevice, tty: boolean) {
    this.#out = out;
    this.tty = tty;
  }

  /** Prints text (one or more lines) above the input line. */
  print(text: string): Promise<void> {
    if (!this.tty) return this.#write(text + "\n");
    const lines = text.replaceAll("\r", "").replaceAll("\n", "\r\n");
    return this.#write(`\r\x1b[2K${lines}\r\n${this.#inputText()}`);
  }

  /** Shows the input line with the cursor at `cursor` (a code point index into `buffer`). */
  showInput(prompt: string, buffer: string, cursor: number): Promise<void> {
    this.#prompt = prompt;
    this.#buffer = buffer;
    this.#cursor = cursor;
    this.#inputShown = true;
    if (!this.tty) return Promise.resolve();
    return this.#write(`\r\x1b[2K${this.#inputText()}`);
  }

  /** Removes the input line (e.g. when it was submitted) and stops redrawing it. */
  hideInput(): Promise<void> {
    this.#inputShown = false;
    if (!this.tty) return Promise.resolve();
    return this.#write("\r\x1b[2K");
  }

  /** Writes raw text, e.g. a prompt on its own. */
  write(text: string): Promise<void> {
    return this.#write(text);
  }

  /** Resolves when everything written so far is out. */
  flush(): Promise<void> {
    return this.#chain;
  }

  #inputText(): string {
    if (!this.#inputShown) return "";
    const chars = [...this.#buffer];
    const widths = chars.map(charWidth);
    // A line that wrapped could not be cleared with one erase; scroll it sideways instead,
    // keeping the cursor in view. Widths count terminal columns (CJK and emoji take two).
    const room = Math.max(8, this.#columns() - columnsOf(this.#prompt) - 1);
    let start = 0;
    let end = chars.length;
    if (sum(widths, 0, chars.length) > room) {
      start = this.#cursor;
      end = this.#cursor;
      let used = 0;
      // Grow around the cursor: half the room to its left, the rest to its right.
      while (start > 0 && used + widths[start - 1]! <= room / 2) used += widths[--start]!;
      while (end < chars.length && used + widths[end]! <= room) used += widths[end++]!;
      while (start > 0 && used + widths[start - 1]! <= room) used += widths[--start]!;
    }
    const back = sum(widths, this.#cursor, end);
    return `${this.#prompt}${chars.slice(start, end).join("")}${back > 0 ? `\x1b[${back}D` : ""}`;
  }

  #columns(): number {
    if (this.columns !== undefined) return this.columns;
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  }

  #write(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    const out = this.#out;
    const next = this.#chain.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await out.write(bytes.subarray(offset));
    });
    this.#chain = next.catch(() => {});
    return next;
  }
}

/**
 * Bytes from stdin as text chunks, with the ability to push back what a reader did not use,
 * so the password prompt and the line editor can share one stream.
 */
export class InputText {
  readonly device: InputDevice;
  #decoder = new TextDecoder();
  #buffer = new Uint8Array(4096);
  #pushedBack = "";
  #eof = false;

  constructor(device: InputDevice) {
    this.device = device;
  }

  /** The next chunk of text, or null at end of input. */
  async next(): Promise<string | null> {
    if (this.#pushedBack) {
      const text = this.#pushedBack;
      this.#pushedBack = "";
      return text;
    }
    while (!this.#eof) {
      const n = await this.device.read(this.#buffer);
      if (n === null) {
        this.#eof = true;
        const rest = this.#decoder.decode();
        return rest === "" ? null : rest;
      }
      const text = this.#decoder.decode(this.#buffer.subarray(0, n), { stream: true });
      if (text !== "") return text;
    }
    return null;
  }

  /** Returns unused text to the front of the stream. */
  unread(text: string): void {
    this.#pushedBack = text + this.#pushedBack;
  }
}

/** Reads lines from a pipe or file; "\r\n" and "\n" both end a line. */
export class PlainLineReader {
  readonly #input: InputText;
  #pending = "";
  #done = false;

  constructor(input: InputText) {
    this.#input = input;
  }

  /** The next line without its ending, or null at end of input. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const newline = this.#pending.indexOf("\n");
      if (newline >= 0) {
        const line = this.#pending.slice(0, newline).replace(/\r$/, "");
        this.#pending = this.#pending.slice(newline + 1);
        return line.slice(0, MAX_LINE_CHARS);
      }
      if (this.#done) {
        if (this.#pending === "") return null;
        const line = this.#pending;
        this.#pending = "";
        return line.slice(0, MAX_LINE_CHARS);
      }
      const chunk = await this.#input.next();
      if (chunk === null) this.#done = true;
      else {
        this.#pending += chunk;
        // Bound memory on a line that never ends: keep its head only.
        if (this.#pending.length > MAX_LINE_CHARS * 2 && !this.#pending.includes("\n")) {
          this.#pending = this.#pending.slice(0, MAX_LINE_CHARS);
        }
      }
    }
  }
}

/** What a key press did to the editor. */
type KeyResult = "submit" | "eof" | "interrupt" | undefined;

/**
 * A minimal line editor for a raw-mode TTY: printable input, Backspace, Delete, Left/Right,
 * Home/End (and Ctrl-A/Ctrl-E), Up/Down through earlier lines, Ctrl-U, Ctrl-W; Enter submits,
 * Ctrl-D on an empty line ends input, Ctrl-C clears the line or, on an empty one, ends input.
 */
export class LineEditor {
  readonly #screen: Screen;
  readonly #input: InputText;
  #chars: string[] = [];
  #cursor = 0;
  #escape = "";
  #history: string[] = [];
  #historyIndex = 0;
  #prompt = "";

  constructor(screen: Screen, input: InputText) {
    this.#screen = screen;
    this.#input = input;
  }

  /** Changes the prompt and redraws. */
  async setPrompt(prompt: string): Promise<void> {
    this.#prompt = prompt;
    await this.#render();
  }

  /** Reads one line, or null when input ends (Ctrl-D, Ctrl-C on an empty line, EOF). */
  async readLine(): Promise<string | null> {
    this.#chars = [];
    this.#cursor = 0;
    this.#historyIndex = this.#history.length;
    await this.#render();
    for (;;) {
      const chunk = await this.#input.next();
      if (chunk === null) {
        await this.#screen.hideInput();
        return null;
      }
      const text = this.#escape + chunk;
      this.#escape = "";
      const chars = [...text];
      for (let i = 0; i < chars.length; i++) {
        const c = chars[i]!;
        let result: KeyResult;
        if (c === "\x1b") {
          const consumed = this.#escapeSequence(chars, i);
          if (consumed === 0) {
            this.#escape = chars.slice(i).join("");
            break;
          }
          i += consumed - 1;
        } else {
          result = this.#key(c);
        }
        if (result === undefined) continue;
        // Anything typed after Enter belongs to the next line.
        this.#input.unread(chars.slice(i + 1).join(""));
        if (result === "submit") {
          const line = this.#chars.join("");
          if (line.trim() !== "" && this.#history.at(-1) !== line) {
            this.#history.push(line);
            if (this.#history.length > 500) this.#history.shift();
          }
          await this.#screen.hideInput();
          return line;
        }
        await this.#screen.hideInput();
        return null;
      }
      await this.#render();
    }
  }

  /** Length of the escape sequence at `i`, or 0 when it is still incomplete. */
  #escapeSequence(chars: string[], i: number): number {
    const next = chars[i + 1];
    if (next === undefined) return 0;
    if (next !== "[" && next !== "O") return 2; // Alt+key: ignored.
    let j = i + 2;
    while (j < chars.length && !/[@-~]/.test(chars[j]!)) j++;
    if (j >= chars.length) return 0;
    const sequence = chars.slice(i, j + 1).join("");
    this.#escapeKey(sequence);
    return j - i + 1;
  }

  #escapeKey(sequence: string): void {
    const body = sequence.slice(1);
    switch (body) {
      case "[D":
      case "OD":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "[C":
      case "OC":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        break;
      case "[H":
      case "OH":
      case "[1~":
      case "[7~":
        this.#cursor = 0;
        break;
      case "[F":
      case "OF":
      case "[4~":
      case "[8~":
        this.#cursor = this.#chars.length;
        break;
      case "[3~":
        this.#chars.splice(this.#cursor, 1);
        break;
      case "[A":
      case "OA":
        this.#recall(-1);
        break;
      case "[B":
      case "OB":
        this.#recall(1);
        break;
    }
  }

  #recall(step: number): void {
    const index = this.#historyIndex + step;
    if (index < 0 || index > this.#history.length) return;
    this.#historyIndex = index;
    this.#chars = [...(this.#history[index] ?? "")];
    this.#cursor = this.#chars.length;
  }

  #key(c: string): KeyResult {
    switch (c) {
      case "\r":
      case "\n":
        return "submit";
      case "\x04": // Ctrl-D
        if (this.#chars.length === 0) return "eof";
        this.#chars.splice(this.#cursor, 1);
        return undefined;
      case "\x03": // Ctrl-C
        if (this.#chars.length === 0) return "interrupt";
        this.#chars = [];
        this.#cursor = 0;
        return undefined;
      case "\x7f":
      case "\b":
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return undefined;
      case "\x01":
        this.#cursor = 0;
        return undefined;
      case "\x05":
        this.#cursor = this.#chars.length;
        return undefined;
      case "\x15": // Ctrl-U
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return undefined;
      case "\x17": { // Ctrl-W
        let start = this.#cursor;
        while (start > 0 && this.#chars[start - 1] === " ") start--;
        while (start > 0 && this.#chars[start - 1] !== " ") start--;
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return undefined;
      }
    }
    if (c < " " || c === "\x7f") return undefined; // Other control keys.
    if (this.#chars.length >= MAX_LINE_CHARS) return undefined;
    this.#chars.splice(this.#cursor++, 0, c);
    return undefined;
  }

  #render(): Promise<void> {
    return this.#screen.showInput(this.#prompt, this.#chars.join(""), this.#cursor);
  }
}

/**
 * Asks for a password on a TTY without echoing it. Ctrl-C or Ctrl-D cancels (returns null).
 * Raw mode is switched on only for the prompt. The prompt waits for what `options.after`
 * (another screen on the same terminal, such as stdout beside stderr) has still to write:
 * each of its lines begins by clearing the line it lands on, so a line that came out after
 * the prompt would erase it, and the user would face a blank line that waits for a password.
 *
 * @example
 * ```ts ignore
 * import { InputText, readHiddenLine, Screen } from "./_terminal.ts";
 * const out = new Screen(Deno.stdout, true);
 * const err = new Screen(Deno.stderr, true);
 * const password = await readHiddenLine(err, new InputText(Deno.stdin), "Password: ", { after: out });
 * ```
 */
export async function readHiddenLine(
  screen: Screen,
  input: InputText,
  prompt: string,
  options: { after?: Screen } = {},
): Promise<string | null> {
  await options.after?.flush();
  const device = input.device;
  device.setRaw?.(true);
  try {
    await screen.write(prompt);
    const chars: string[] = [];
    for (;;) {
      const chunk = await input.next();
      if (chunk === null) return null;
      const all = [...chunk];
      for (let i = 0; i < all.length; i++) {
        const c = all[i]!;
        if (c === "\r" || c === "\n") {
          input.unread(all.slice(i + 1).join("").replace(/^\n/, ""));
          return chars.join("");
        }
        if (c === "\x03" || c === "\x04") return null;
        if (c === "\x7f" || c === "\b") chars.pop();
        else if (c === "\x15") chars.length = 0;
        else if (c >= " " && chars.length < 4096) chars.push(c);
      }
    }
  } finally {
    device.setRaw?.(false);
    await screen.write("\r\n");
  }
}

function sum(values: number[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += values[i]!;
  return total;
}

/** Terminal columns a text takes. */
export function columnsOf(text: string): number {
  let total = 0;
  for (const c of text) total += charWidth(c);
  return total;
}

/**
 * Terminal columns of one code point: 0 for combining marks and zero-width characters, 2 for
 * East Asian wide and fullwidth characters and most emoji, 1 otherwise. An approximation of
 * wcwidth that covers the common ranges.
 */
export function charWidth(c: string): number {
  const cp = c.codePointAt(0)!;
  if (
    (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x20e3
  ) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x1fa70 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}
