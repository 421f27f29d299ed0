/**
 * WCAG contrast of every piece of text a page shows, measured in chromium from computed
 * styles: the text colour against the background it is painted on (the first opaque
 * background among its ancestors, with translucent layers blended in).
 *
 * @module
 */
import type { Page } from "playwright-core";

/** One piece of text and its contrast ratio. */
export interface ContrastSample {
  /** The text (cut to 40 characters), or `[placeholder] …` for a placeholder. */
  text: string;
  /** The element's tag, id and classes, to find it. */
  where: string;
  color: string;
  background: string;
  ratio: number;
}

/**
 * Measures all visible text of `page`. Disabled controls are left out: WCAG 1.4.3 exempts
 * inactive components.
 *
 * @example
 * ```ts
 * const low = (await measureContrast(page)).filter((s) => s.ratio < 4.5);
 * ```
 */
export function measureContrast(page: Page): Promise<ContrastSample[]> {
  return page.evaluate(() => {
    type Rgba = { r: number; g: number; b: number; a: number };
    const parse = (css: string): Rgba => {
      const m = /rgba?\(([^)]*)\)/.exec(css);
      if (!m) throw new Error(`Unexpected colour: ${css}`);
      const [r = 0, g = 0, b = 0, a = 1] = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const over = (top: Rgba, bottom: Rgba): Rgba => ({
      r: top.r * top.a + bottom.r * (1 - top.a),
      g: top.g * top.a + bottom.g * (1 - top.a),
      b: top.b * top.a + bottom.b * (1 - top.a),
      a: 1,
    });
    const luminance = ({ r, g, b }: Rgba) => {
      const f = (v: number) => {
        const c = v / 255;
        return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el: Element): Rgba => {
      const layers: Rgba[] = [];
      for (let e: Element | null = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.a > 0) layers.push(c);
        if (c.a >= 1) break;
      }
      let out: Rgba = { r: 255, g: 255, b: 255, a: 1 };
      for (const layer of layers.reverse()) out = over(layer, out);
      return out;
    };
    const shown = (el: Element) => {
      if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
      const box = el.getBoundingClientRect();
      // .sr-only text is 1 px wide and clipped: read by screen readers, never seen.
      return box.width > 1 && box.height > 1;
    };
    const inactive = (el: Element) =>
      el.closest("button:disabled, input:disabled, textarea:disabled, select:disabled") !== null;
    const where = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${
        [...el.classList].map((c) => `.${c}`).join("")
      }`;
    const samples: ContrastSample[] = [];
    const add = (el: Element, text: string, colorCss: string) => {
      const fg = parse(colorCss);
      const bg = background(el);
      const color = over(fg, bg);
      const [hi, lo] = [luminance(color), luminance(bg)].sort((x, y) => y - x) as [
        number,
        number,
      ];
      samples.push({
        text: text.slice(0, 40),
        where: where(el),
        color: colorCss,
        background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
        ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100,
      });
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.trim() ?? "";
      const el = node.parentElement;
      if (!text || !el || el.closest("script, style, option") || !shown(el) || inactive(el)) {
        continue;
      }
      add(el, text, getComputedStyle(el).color);
    }
    for (
      const el of document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>(
        "input:not([type=checkbox]):not([type=radio]), textarea",
      )
    ) {
      if (!shown(el) || el.disabled) continue;
      if (el.value) {
        add(el, el.type === "password" ? "[password]" : el.value, getComputedStyle(el).color);
      } else if (el.placeholder) {
        add(el, `[placeholder] ${el.placeholder}`, getComputedStyle(el, "::placeholder").color);
      }
    }
    for (const el of document.querySelectorAll("select")) {
      if (shown(el) && !el.disabled) {
        add(el, el.selectedOptions[0]?.text ?? "", getComputedStyle(el).color);
      }
    }
    return samples;
  });
}
