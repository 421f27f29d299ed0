/**
 * Browser entry of the chat GUI, bundled by tasks/build.ts into chat.js.
 *
 * @module
 */
import { render } from "preact";
import { followTheme } from "../theme.ts";
import { ChatPage } from "./page/chat_page.ts";
import { ChatApp } from "./views/chat_app.tsx";

followTheme();
const root = document.getElementById("app");
if (root) render(<ChatApp page={new ChatPage()} />, root);
