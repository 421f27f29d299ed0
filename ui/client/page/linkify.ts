/**
 * Splits message text into plain text and web links. Only `http:` and `https:` URLs become
 * links; nothing else in a message is interpreted (no markup, no other schemes), so a
 * `javascript:` URL stays text.
 *
 * @module
 */

/** A piece of a message: text as typed, or a link with the URL it opens. */
export type TextSegment =
  | { kind: "text"; text: string }
  | { kind: "link"; text: string; href: string };

// Up to the next space or a character no URL holds unescaped; trailing punctuation is trimmed
// below, so "see https://example.com." links without the full stop.
const CANDIDATE = /\bhttps?:\/\/[^\s<>"'`\p{Cc}]+/giu;
const TRAILING = /[.,;:!?'")\]}>]+$/u;

/** Closing brackets stay when the URL opened them: https://en.wikipedia.org/wiki/Deno_(software). */
function trimTrailing(url: string): string {
  let out = url.replace(TRAILING, "");
  const tail = url.slice(out.length);
  for (const ch of tail) {
    const open = ch === ")" ? "(" : ch === "]" ? "[" : ch === "}" ? "{" : null;
    if (open === null) break;
    const opens = out.split(open).length - 1;
    const closes = out.split(ch).length - 1;
    if (opens <= closes) break;
    out += ch;
  }
  return out;
}

function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.hostname === "") return null;
  return url.href;
}

/**
 * The segments of `text`, in order; joined, their texts are `text` again.
 *
 * @example
 * ```ts
 * linkSegments("see https://deno.com.");
 * // [{ kind: "text", text: "see " },
 * //  { kind: "link", text: "https://deno.com", href: "https://deno.com/" },
 * //  { kind: "text", text: "." }]
 * linkSegments("javascript:alert(1)"); // [{ kind: "text", text: "javascript:alert(1)" }]
 * ```
 */
export function linkSegments(text: string): TextSegment[] {
  const out: TextSegment[] = [];
  let last = 0;
  const push = (segment: TextSegment) => {
    const prev = out[out.length - 1];
    if (segment.kind === "text" && prev?.kind === "text") prev.text += segment.text;
    else if (segment.text !== "") out.push(segment);
  };
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const raw = trimTrailing(match[0]);
    const href = safeHref(raw);
    if (href === null) continue;
    push({ kind: "text", text: text.slice(last, start) });
    push({ kind: "link", text: raw, href });
    last = start + raw.length;
  }
  push({ kind: "text", text: text.slice(last) });
  return out;
}
