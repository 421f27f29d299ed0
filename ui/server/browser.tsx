/**
 * Browser entry of the admin GUI; bundled by tasks/build.ts into admin.js.
 *
 * @module
 */
import { render } from "preact";
import { AdminApp } from "./views/admin_app.tsx";

const root = document.getElementById("app");
if (root) render(<AdminApp />, root);
