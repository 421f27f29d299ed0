/**
 * The two pages the GUIs render on the server: the gate shown without a session, and the
 * shell that loads a GUI's browser bundle. They are Preact components, the GUIs' own view
 * library, rendered by preact-render-to-string, which escapes every text and attribute: a
 * title or message can never become markup.
 *
 * @module
 */
import type { ComponentChildren, VNode } from "preact";
import { renderToString } from "preact-render-to-string";

function Page(props: { title: string; stylesheet: string; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={props.stylesheet} />
      </head>
      <body>{props.children}</body>
    </html>
  );
}

function Notice(props: { title: string; message: string }) {
  return (
    <main class="gate">
      <h1>{props.title}</h1>
      <p role="alert">{props.message}</p>
    </main>
  );
}

function render(page: VNode): string {
  return `<!doctype html>\n${renderToString(page)}\n`;
}

/**
 * The page shown without a session: the title and one line saying where the URL is.
 *
 * @example
 * ```ts
 * const html = gatePage("JIM server", "Open the URL printed in the terminal.");
 * ```
 */
export function gatePage(title: string, message: string): string {
  return render(
    <Page title={title} stylesheet="/assets/styles.css">
      <Notice title={title} message={message} />
    </Page>,
  );
}

/** What {@linkcode shellPage} links. */
export interface ShellAssets {
  /** The stylesheet's content hash, for a cacheable URL; none when it is missing. */
  styleHash?: string;
  /** The bundle's content hash; none when the bundle is missing. */
  scriptHash?: string;
}

/**
 * The page that loads a GUI's browser bundle (`/assets/SCRIPT?v=HASH`) into `#app`, or says
 * that the bundle is missing.
 *
 * @example
 * ```ts
 * const html = shellPage("JIM server", "admin.js", { scriptHash: "abc", styleHash: "def" });
 * ```
 */
export function shellPage(title: string, script: string, assets: ShellAssets): string {
  const stylesheet = `/assets/styles.css${assets.styleHash ? `?v=${assets.styleHash}` : ""}`;
  const body = assets.scriptHash
    ? (
      <>
        <div id="app"></div>
        <script type="module" src={`/assets/${script}?v=${assets.scriptHash}`}></script>
      </>
    )
    : (
      <Notice
        title={title}
        message={`The browser bundle ${script} is missing: run "deno task build".`}
      />
    );
  return render(<Page title={title} stylesheet={stylesheet}>{body}</Page>);
}
