import assert from "node:assert/strict";
import { linkSegments, type TextSegment } from "./linkify.ts";

const text = (t: string): TextSegment => ({ kind: "text", text: t });
const link = (t: string, href = t): TextSegment => ({ kind: "link", text: t, href });

Deno.test("linkSegments() links http and https URLs and leaves the rest as typed", async (t) => {
  await t.step("plain text is one segment", () => {
    assert.deepEqual(linkSegments("hello <b>there</b>"), [text("hello <b>there</b>")]);
    assert.deepEqual(linkSegments(""), []);
  });
  await t.step("a URL among words, trailing punctuation left out", () => {
    assert.deepEqual(linkSegments("see https://deno.com/docs, or http://x.org."), [
      text("see "),
      link("https://deno.com/docs"),
      text(", or "),
      link("http://x.org", "http://x.org/"),
      text("."),
    ]);
  });
  await t.step("brackets the URL opened stay; one around it does not", () => {
    assert.deepEqual(linkSegments("(https://en.wikipedia.org/wiki/Deno_(software))"), [
      text("("),
      link("https://en.wikipedia.org/wiki/Deno_(software)"),
      text(")"),
    ]);
  });
  await t.step("other schemes stay text", () => {
    for (
      const s of [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://example.com/",
        "mailto:a@b.c",
        "//example.com/path",
        "https:/only-one-slash",
      ]
    ) {
      assert.deepEqual(linkSegments(s), [text(s)], s);
    }
  });
  await t.step("javascript: before an http URL leaves the scheme as text", () => {
    assert.deepEqual(linkSegments("javascript:window.open('http://evil.example/')"), [
      text("javascript:window.open('"),
      link("http://evil.example/"),
      text("')"),
    ]);
  });
  await t.step("a URL glued to a word is not one, an empty host is not one", () => {
    assert.deepEqual(linkSegments("xhttps://a.b"), [text("xhttps://a.b")]);
    assert.deepEqual(linkSegments("http://"), [text("http://")]);
  });
  await t.step("segments join back into the text", () => {
    const s = 'a https://a.b/c?d=1&e=<2> "https://q.r" end';
    assert.equal(linkSegments(s).map((x) => x.text).join(""), s);
  });
});
