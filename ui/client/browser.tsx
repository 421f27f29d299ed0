/**
 * Browser entry of the chat GUI, bundled by tasks/build.ts into chat.js.
 *
 * @module
 */
import { render } from "preact";
import { ChatApp } from "./views/chat_app.tsx";

const root = document.getElementById("app");
if (root) render(<ChatApp />, root);
