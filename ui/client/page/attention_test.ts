import assert from "node:assert/strict";
import { faviconHref, pageTitle } from "./attention.ts";

Deno.test("pageTitle() carries the unread count and the user", () => {
  assert.equal(pageTitle("erin", 3), "(3) erin — JIM Messenger");
  assert.equal(pageTitle("erin", 0), "erin — JIM Messenger");
  assert.equal(pageTitle(null, 2), "(2) JIM Messenger");
  assert.equal(pageTitle(null, 0), "JIM Messenger");
  assert.equal(pageTitle("erin", 5000), "(999+) erin — JIM Messenger");
});

Deno.test("faviconHref() draws a badge only when something is unread", () => {
  const svg = (n: number) =>
    decodeURIComponent(faviconHref(n).replace(/^data:image\/svg\+xml,/, ""));
  assert.ok(faviconHref(0).startsWith("data:image/svg+xml,"));
  assert.doesNotMatch(svg(0), /<circle/);
  assert.match(svg(3), /<circle[^>]*fill="#c5221f"/);
  assert.match(svg(3), />3<\/text>/);
  assert.match(svg(12), />9\+<\/text>/);
});
