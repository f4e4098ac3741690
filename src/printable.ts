/**
 * Text from devices and files made safe to show in health, logs and MQTT payloads: control
 * characters and U+FFFD (what garbage bytes decode to) become escapes, and the length is bounded
 * (issue 14: health `reason` quoted raw bytes of a noisy serial line).
 */

/** Longest `reason` a health message carries, in characters (before the "…" that marks a cut). */
export const MAX_REASON_CHARS = 200;

/**
 * `text` with C0/C1 control characters, U+FFFD and lone surrogates written as `\xNN` / `\uNNNN`,
 * cut to `maxChars` characters plus "…" when longer.
 */
export function printable(text: string, maxChars = MAX_REASON_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]|[\ud800-\udfff]/g, (c, i: number) => {
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) {
      // A well-formed pair is kept; only a lone half is escaped.
      const next = text.charCodeAt(i + 1);
      const prev = text.charCodeAt(i - 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return c;
      if (code >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff) return c;
    }
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  if (escaped.length <= maxChars) return escaped;
  let cut = escaped.slice(0, maxChars);
  // Never end on half of a surrogate pair.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}
