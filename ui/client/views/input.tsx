import { Panel } from "../../components/mod.ts";

/** Props of {@linkcode InputPanel}. */
export interface InputPanelProps {
  contact: string | null;
  connected: boolean;
  sending: boolean;
  /** The draft for the selected contact; kept by the parent so nothing typed is lost. */
  value: string;
  onInput(value: string): void;
  onSend(): void;
  error: string | null;
}

/**
 * The seed's Input panel: a multi-line field and Send. Enter sends, Shift+Enter starts a
 * new line (and Enter while an input method composes does nothing).
 *
 * @example
 * ```tsx
 * <InputPanel contact="bob" connected sending={false} value={draft} onInput={setDraft}
 *   onSend={send} error={null} />
 * ```
 */
export function InputPanel(props: InputPanelProps) {
  const canSend = props.connected && props.contact !== null && !props.sending &&
    props.value.trim() !== "";
  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    if (canSend) props.onSend();
  };
  return (
    <Panel title="Input" id="input" class="chat-input">
      <div class="input-row">
        <label class="sr-only" for="message-input">
          {props.contact ? `Message to ${props.contact}` : "Message"}
        </label>
        <textarea
          id="message-input"
          rows={3}
          placeholder={props.contact
            ? `Type your message to ${props.contact} here (Enter sends, Shift+Enter new line)`
            : "Select a contact, then type your message here"}
          value={props.value}
          aria-describedby="input-error"
          onInput={(ev) => props.onInput((ev.target as HTMLTextAreaElement).value)}
          onKeyDown={onKeyDown}
        />
        <button type="button" id="send" disabled={!canSend} onClick={props.onSend}>
          Send
        </button>
      </div>
      <p id="input-error" class="error-text" role="alert">{props.error ?? ""}</p>
    </Panel>
  );
}
