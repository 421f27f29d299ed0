/**
 * Browser entry of the admin GUI; bundled by tasks/build.ts into admin.js.
 *
 * @module
 */
import { render } from "preact";
import { followTheme } from "../theme.ts";
import { ServiceFeed } from "./page/service_feed.ts";
import { AdminApp } from "./views/admin_app.tsx";

followTheme();
const root = document.getElementById("app");
if (root) render(<AdminApp feed={new ServiceFeed()} />, root);
