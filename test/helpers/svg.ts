/**
 * Reads the SVG our pictures write (src/util/svg.ts): checks that it is well formed (one root,
 * every tag closed in order, attributes quoted) and lists its elements with their attributes and
 * the classes of the groups they sit in, so a test can assert what a picture shows.
 */
import assert from 'node:assert/strict';

export interface SvgElement {
  name: string;
  attrs: Record<string, string>;
  /** `data-label` of the enclosing `<g class="label">`, if any. */
  label?: string;
  /** Text content (for `<text>` and `<title>`). */
  text: string;
}

const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

export function parseSvg(svg: string): SvgElement[] {
  assert.match(
    svg,
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
  );
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<\?xml[^>]*\?>|([^<]+)/gy;
  const stack: { el: SvgElement }[] = [];
  const out: SvgElement[] = [];
  let roots = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = tag.exec(svg)) !== null) {
    pos = tag.lastIndex;
    if (m[5] !== undefined) {
      if (stack.length > 0) stack[stack.length - 1]!.el.text += unescape(m[5]);
      else assert.match(m[5], /^\s*$/, 'text outside the root element');
      continue;
    }
    if (m[2] === undefined) continue; // the XML declaration
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      assert.equal(open?.el.name, name, `</${name}> closes <${open?.el.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.ok(!(a[1]! in attrs), `attribute ${a[1]} given twice on <${name}>`);
      attrs[a[1]!] = unescape(a[2]!);
    }
    const group = [...stack].reverse().find((s) => s.el.name === 'g' && s.el.attrs.class === 'label');
    const el: SvgElement = { name: name, attrs, text: '' };
    if (group) el.label = group.el.attrs['data-label']!;
    out.push(el);
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push({ el });
  }
  assert.equal(pos, svg.length, `unparsable SVG at offset ${pos}: ${svg.slice(pos, pos + 60)}`);
  assert.equal(stack.length, 0, 'every element closed');
  assert.equal(roots, 1, 'one root element');
  assert.equal(out[0]!.name, 'svg');
  return out;
}

/** Elements whose class list contains every one of `classes`. */
export function withClass(els: readonly SvgElement[], ...classes: string[]): SvgElement[] {
  return els.filter((e) => {
    const have = (e.attrs.class ?? '').split(/\s+/);
    return classes.every((c) => have.includes(c));
  });
}

/** A polyline's points as numbers. */
export function points(el: SvgElement): { x: number; y: number }[] {
  return (el.attrs.points ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => {
      const [x, y] = p.split(',').map(Number);
      return { x: x!, y: y! };
    });
}
