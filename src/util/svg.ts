/**
 * A few SVG building blocks for the command-line pictures (issue 17 item 9): `classify --plot`,
 * `eval-events --plot`, `eval --report`'s confusion matrices. SVG is written as text, so a
 * picture opens in any browser or image viewer and needs no plotting dependency; every element
 * carries a `class` (and `data-*` values) so tests and scripts can read what was drawn.
 */

export type Attrs = Record<string, string | number | undefined>;

/** Text made safe for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Numbers with at most 2 decimals: coordinates need no more, and files stay small. */
export function num(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/** One element; `children` is markup (already escaped) or, with `text`, plain text. */
export function el(name: string, attrs: Attrs, children = ''): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === 'number' ? num(v) : v!)}"`)
    .join('');
  return children === '' ? `<${name}${a}/>` : `<${name}${a}>${children}</${name}>`;
}

/** A `<text>` element with escaped content. */
export function text(attrs: Attrs, content: string): string {
  return el('text', attrs, escapeXml(content) || ' ');
}

/** A whole SVG document with a white background and a `<title>`. */
export function svgDocument(opts: { width: number; height: number; title: string }, body: string[]): string {
  const { width, height } = opts;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" ` +
    `viewBox="0 0 ${num(width)} ${num(height)}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">\n` +
    `<title>${escapeXml(opts.title)}</title>\n` +
    `${el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' })}\n` +
    body.join('\n') +
    `\n</svg>\n`
  );
}

/** Round tick values covering [min, max], about `count` of them. */
export function ticks(min: number, max: number, count = 8): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + 1e-9; v += step)
    out.push(Math.round(v / step) * step);
  return out;
}

/** A linear map from a data range onto a pixel range. */
export function scale(d0: number, d1: number, p0: number, p1: number): (x: number) => number {
  const k = d1 === d0 ? 0 : (p1 - p0) / (d1 - d0);
  return (x) => p0 + (x - d0) * k;
}
