/**
 * Reads the SVG our pictures write (src/cli/plots.ts: vega-lite rendered by vega): checks that it
 * is well formed (one root, every tag closed in order, attributes quoted, nothing unparsable),
 * lists its elements with the vega mark group each sits in, and returns the vega-lite spec the
 * picture carries in its metadata, so a test can assert both what was asked for and what was drawn.
 */
import assert from 'node:assert/strict';

export interface SvgElement {
  name: string;
  attrs: Record<string, string>;
  /** Class of the enclosing vega mark group (`mark-line role-mark p0_score_marks`), if any. */
  markGroup?: string;
  /** Text content (for `<text>`, `<title>`, `<metadata>`). */
  text: string;
}

export interface ParsedSvg {
  elements: SvgElement[];
  /** The vega-lite spec from `<metadata id="vega-lite-spec">`, data values included. */
  spec: Record<string, unknown>;
  title: string;
}

const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');

export function parseSvg(svg: string): ParsedSvg {
  assert.match(
    svg,
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
  );
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<\?xml[^>]*\?>|([^<]+)/gy;
  const stack: SvgElement[] = [];
  const out: SvgElement[] = [];
  let roots = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = tag.exec(svg)) !== null) {
    pos = tag.lastIndex;
    if (m[5] !== undefined) {
      assert.doesNotMatch(m[5], /&(?!(lt|gt|amp|quot|apos|#\d+);)/, 'a bare & in text');
      if (stack.length > 0) stack[stack.length - 1]!.text += unescape(m[5]);
      else assert.match(m[5], /^\s*$/, 'text outside the root element');
      continue;
    }
    if (m[2] === undefined) continue; // the XML declaration
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      assert.equal(open?.name, name, `</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.ok(!(a[1]! in attrs), `attribute ${a[1]} given twice on <${name}>`);
      attrs[a[1]!] = unescape(a[2]!);
    }
    const group = [...stack].reverse().find((s) => s.name === 'g' && /^mark-/.test(s.attrs.class ?? ''));
    const el: SvgElement = { name: name, attrs, text: '' };
    if (group) el.markGroup = group.attrs.class!;
    out.push(el);
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(el);
  }
  assert.equal(pos, svg.length, `unparsable SVG at offset ${pos}: ${svg.slice(pos, pos + 60)}`);
  assert.equal(stack.length, 0, 'every element closed');
  assert.equal(roots, 1, 'one root element');
  assert.equal(out[0]!.name, 'svg');
  assert.ok(Number(out[0]!.attrs.width) > 0 && Number(out[0]!.attrs.height) > 0, 'a size');
  const metadata = out.filter((e) => e.name === 'metadata' && e.attrs.id === 'vega-lite-spec');
  assert.equal(metadata.length, 1, 'the vega-lite spec in <metadata>');
  const spec = JSON.parse(metadata[0]!.text) as Record<string, unknown>;
  const title = out.find((e) => e.name === 'title');
  assert.ok(title, 'a <title>');
  // vega drew something: the root frame and at least one data mark.
  assert.ok(out.some((e) => e.attrs.class === 'mark-group role-frame root'));
  assert.ok(out.some((e) => e.attrs.role === 'graphics-symbol' && / role-mark /.test(e.markGroup ?? '')));
  return { elements: out, spec, title: title.text };
}

/**
 * The drawn marks (`role="graphics-symbol"`) of the vega-lite layer named `name`, in data order.
 */
export function marks(svg: ParsedSvg, name: string): SvgElement[] {
  return svg.elements.filter(
    (e) =>
      e.attrs.role === 'graphics-symbol' &&
      (e.markGroup ?? '').split(/\s+/).includes(`${name}_marks`) &&
      / role-mark /.test(e.markGroup ?? ''),
  );
}

/** The fields vega wrote into a mark's `aria-label` ("startS: 1.5; endS: 4; ..."). */
export function ariaFields(el: SvgElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (el.attrs['aria-label'] ?? '').split('; ')) {
    const i = part.indexOf(': ');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 2);
  }
  return out;
}

/** The points of a line mark's path (`M x,y L x,y …`). */
export function pathPoints(el: SvgElement): { x: number; y: number }[] {
  const d = el.attrs.d ?? '';
  assert.match(d, /^M[\d.,eL-]+$/, `a polyline path: ${d.slice(0, 60)}`);
  return d
    .slice(1)
    .split('L')
    .map((p) => {
      const [x, y] = p.split(',').map(Number);
      return { x: x!, y: y! };
    });
}

/** A rule mark's vertical position (vega writes `transform="translate(x,y)"`). */
export function translateY(el: SvgElement): number {
  const m = /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(el.attrs.transform ?? '');
  assert.ok(m, `a translate on <${el.name}>`);
  return Number(m[2]);
}
