import { useEffect, useMemo, useRef } from "preact/hooks";
import { Panel } from "../../components/mod.ts";
import { LIMITS_TEXT, MAX_TEXT_BYTES, MAX_TEXT_CHARS, measureText } from "../message_limits.ts";
import type { FocusRequest } from "../page/chat_page.ts";

/** Props of {@linkcode InputPanel}. */
export interface InputPanelProps {
  contact: string | null;
  /** The chat server connection: "connected", "reconnecting", ... */
  phase: string;
  /** The draft for the selected contact; kept by the page so nothing typed is lost. */
  value: string;
  /** Why the last Enter did not send, or why a send failed. */
  note: string | null;
  focus: FocusRequest | null;
  onInput(value: string): void;
  onSend(): void;
}

const n = (x: number) => x.toLocaleString("en-US");

function placeholder(contact: string | null, phase: string): string {
  if (contact === null) return "Select a contact, then type your message here";
  if (phase === "reconnecting") {
    return "Reconnecting to the server… type on: your message waits here until it is back";
  }
  if (phase !== "connected") {
    return `Not connected: connect first. What you type to ${contact} stays here`;
  }
  return `Message to ${contact} (Enter sends, Shift+Enter new line)`;
}

/**
 * The seed's Input panel: a multi-line field and Send. Enter sends, Shift+Enter starts a
 * new line (and Enter while an input method composes does nothing). The field clears the
 * moment Enter is pressed; the message waits in the outbox. Near either limit a counter
 * shows both, and past one Send is off and the note says which.
 *
 * @example
 * ```tsx
 * <InputPanel contact="bob" phase="connected" value={draft} note={null} focus={null}
 *   onInput={setDraft} onSend={send} />
 * ```
 */
export function InputPanel(props: InputPanelProps) {
  const field = useRef<HTMLTextAreaElement>(null);
  const measure = useMemo(() => measureText(props.value), [props.value]);
  const connected = props.phase === "connected";
  const canSend = connected && props.contact !== null && props.value.trim() !== "" &&
    measure.problem === null;

  const focusSeq = props.focus?.target === "input" ? props.focus.seq : 0;
  useEffect(() => {
    const el = field.current;
    if (focusSeq === 0 || !el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, [focusSeq]);

  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    // Not connected or too long: the page keeps the draft and says why.
    props.onSend();
  };
  const offline = props.contact !== null && !connected
    ? props.phase === "reconnecting"
      ? "Reconnecting to the server: what you type waits here until it is back"
      : "Not connected: what you type waits here until you connect"
    : null;
  const note = props.note ?? measure.problem ?? offline;
  return (
    <Panel title="Input" id="input" class="chat-input">
      <div class="input-row">
        <label class="sr-only" for="message-input">
          {props.contact ? `Message to ${props.contact}` : "Message"}
        </label>
        <textarea
          id="message-input"
          ref={field}
          rows={2}
          placeholder={placeholder(props.contact, props.phase)}
          value={props.value}
          disabled={props.contact === null}
          aria-describedby="input-error input-limits"
          aria-invalid={measure.problem ? "true" : undefined}
          onInput={(ev) => props.onInput((ev.target as HTMLTextAreaElement).value)}
          onKeyDown={onKeyDown}
        />
        <button type="button" id="send" disabled={!canSend} onClick={props.onSend}>
          Send
        </button>
      </div>
      <div class="input-foot">
        <p id="input-error" class="error-text" role="alert">{note ?? ""}</p>
        {measure.near && (
          <p class="counter" id="input-counter" data-over={measure.problem ? "yes" : "no"}>
            {n(measure.chars)} / {n(MAX_TEXT_CHARS)} characters · {n(measure.bytes)} /{" "}
            {n(MAX_TEXT_BYTES)} bytes
          </p>
        )}
        <p id="input-limits" class={measure.near ? "limits" : "sr-only"}>{LIMITS_TEXT}</p>
      </div>
    </Panel>
  );
}
