/**
 * How the chat page asks for attention: the unread count in the title and as a badge on the
 * favicon, and (when the user turned them on and the browser allows) desktop notifications
 * for messages the user cannot see.
 *
 * @module
 */

/** The app's name in the title. */
export const APP_TITLE = "JIM Messenger";

/**
 * The page title: `(3) erin — JIM Messenger`, without the count when nothing is unread and
 * without the user when nobody is logged in.
 *
 * @example
 * ```ts
 * pageTitle("erin", 3); // "(3) erin — JIM Messenger"
 * pageTitle(null, 0); // "JIM Messenger"
 * ```
 */
export function pageTitle(user: string | null, unread: number): string {
  const base = user ? `${user} — ${APP_TITLE}` : APP_TITLE;
  return unread > 0 ? `(${unread > 999 ? "999+" : unread}) ${base}` : base;
}

/**
 * The favicon as an SVG data URL: a speech bubble, with a red badge and the count (9+ past
 * nine) when something is unread.
 *
 * @example
 * ```ts
 * faviconHref(0); // "data:image/svg+xml,…" (no badge)
 * ```
 */
export function faviconHref(unread: number): string {
  const bubble = `<path d="M6 8h36a4 4 0 0 1 4 4v20a4 4 0 0 1-4 4H20l-9 8v-8H6a4 4 0 0 1-4-4V12` +
    ` a4 4 0 0 1 4-4z" fill="#0a5fb4"/>`;
  const badge = unread > 0
    ? `<circle cx="48" cy="16" r="15" fill="#c5221f" stroke="#fff" stroke-width="2"/>` +
      `<text x="48" y="22" font-family="Arial,sans-serif" font-size="${
        unread > 9 ? 15 : 18
      }" font-weight="700" text-anchor="middle" fill="#fff">${unread > 9 ? "9+" : unread}</text>`
    : "";
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${bubble}${badge}</svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

/** Writes the title and the favicon (the shell's `<link rel="icon">`, or a new one). */
export function showUnread(user: string | null, unread: number): void {
  const title = pageTitle(user, unread);
  if (document.title !== title) document.title = title;
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  const href = faviconHref(unread);
  if (link.getAttribute("href") !== href) {
    link.type = "image/svg+xml";
    link.href = href;
  }
  link.dataset.unread = String(unread);
}

/** Desktop notifications: off, on, refused by the browser, or not offered by it. */
export type NotifyMode = "off" | "on" | "blocked" | "unsupported";

const NOTIFY_KEY = "jim-chat:notify";

function supported(): boolean {
  return typeof Notification === "function";
}

/** The mode to start with: the user's last choice, if the browser still allows it. */
export function initialNotifyMode(): NotifyMode {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  let wanted = false;
  try {
    wanted = localStorage.getItem(NOTIFY_KEY) === "on";
  } catch {
    // Storage disabled: off.
  }
  return wanted && Notification.permission === "granted" ? "on" : "off";
}

/**
 * Turns notifications on (asking the browser's permission when needed) or off, keeps the
 * choice, and resolves with the mode now in force.
 */
export async function setNotifyMode(on: boolean): Promise<NotifyMode> {
  if (!supported()) return "unsupported";
  let mode: NotifyMode = "off";
  if (on) {
    const permission = Notification.permission === "default"
      ? await Notification.requestPermission()
      : Notification.permission;
    mode = permission === "granted" ? "on" : permission === "denied" ? "blocked" : "off";
  }
  try {
    localStorage.setItem(NOTIFY_KEY, mode === "on" ? "on" : "off");
  } catch {
    // Storage disabled: the choice lasts for this page.
  }
  return mode;
}

/**
 * Shows a desktop notification for a message from `from`. Clicking it brings the page
 * forward and calls `onClick`. Messages of one contact replace each other (one per contact).
 */
export function notifyDesktop(from: string, text: string, onClick: () => void): void {
  if (!supported() || Notification.permission !== "granted") return;
  const body = text.length > 200 ? `${text.slice(0, 199)}…` : text;
  const note = new Notification(from, { body, tag: `jim-chat:${from}` });
  note.onclick = () => {
    globalThis.focus();
    onClick();
    note.close();
  };
}
