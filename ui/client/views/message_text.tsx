import { linkSegments } from "../page/linkify.ts";

/**
 * A message's text as typed, line breaks kept, with http and https URLs as links that open
 * in a new tab without telling the site where they came from. Nothing else is interpreted.
 *
 * @example
 * ```tsx
 * <MessageText text="see https://deno.com" />
 * ```
 */
export function MessageText({ text }: { text: string }) {
  return (
    <div class="msg-text">
      {linkSegments(text).map((s, i) =>
        s.kind === "link"
          ? (
            <a key={i} href={s.href} target="_blank" rel="noopener noreferrer">
              {s.text}
            </a>
          )
          : s.text
      )}
    </div>
  );
}
