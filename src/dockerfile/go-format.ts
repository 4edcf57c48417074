/**
 * Go's fmt verbs as BuildKit uses them to write an image's `history[].created_by`
 * (`CMD %q`, `VOLUME %v`, `HEALTHCHECK %+v`): the text must match what `docker build` records.
 */

/** Go's `strconv.Quote`: `"…"` with Go escapes; printable Unicode is kept as it is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (isGoPrint(ch)) out += ch;
    else if (code < 0x80) out += '\\x' + code.toString(16).padStart(2, '0');
    else if (code < 0x10000) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += '\\U' + code.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isGoPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

/** `%q` of a `[]string`: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** `%v` of a `[]string`: `[a b]`. */
export function goList(list: readonly string[]): string {
  return `[${list.join(' ')}]`;
}

/** Go's `time.Duration.String()` of a duration in nanoseconds: `1m30s`, `1.5s`, `300ms`, `0s`. */
export function goDuration(nanoseconds: number): string {
  let u = BigInt(Math.round(Math.abs(nanoseconds)));
  const negative = nanoseconds < 0;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    let unit: string;
    let precision: number;
    if (u < 1_000n) { unit = 'ns'; precision = 0; }
    else if (u < 1_000_000n) { unit = 'µs'; precision = 3; }
    else { unit = 'ms'; precision = 6; }
    const [whole, frac] = splitFraction(u, precision);
    out = `${whole}${frac}${unit}`;
  } else {
    const [seconds, frac] = splitFraction(u, 9);
    u = seconds;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return negative ? '-' + out : out;
}

/** Go's fmtFrac: the integer part, and `.digits` without trailing zeros (empty when zero). */
function splitFraction(v: bigint, precision: number): [bigint, string] {
  if (precision === 0) return [v, ''];
  const scale = 10n ** BigInt(precision);
  const digits = (v % scale).toString().padStart(precision, '0').replace(/0+$/, '');
  return [v / scale, digits === '' ? '' : '.' + digits];
}
