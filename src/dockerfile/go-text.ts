/**
 * The few Go standard-library text rules BuildKit's Dockerfile front end depends on. They differ
 * from JavaScript's own (`/\s/` also matches U+FEFF, `String.trim` trims more), and a Dockerfile
 * must split and trim exactly where `docker build` does.
 */

/** Go's `unicode.IsSpace`. */
export function isGoSpace(ch: string): boolean {
  switch (ch) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case '\u0085': case '\u00a0':
      return true;
  }
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x1680) return false;
  return code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029
    || code === 0x202f || code === 0x205f || code === 0x3000;
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function trimLeftGoSpace(s: string): string {
  let i = 0;
  while (i < s.length && isGoSpace(s[i]!)) i++;
  return s.slice(i);
}

/** Go's `strings.TrimSpace`. */
export function trimGoSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isGoSpace(s[end - 1]!)) end--;
  return trimLeftGoSpace(s.slice(0, end));
}

/** The separator BuildKit uses between a keyword and its arguments (`[\t\v\f\r ]+`). */
export const TOKEN_WHITESPACE = /[\t\v\f\r ]+/;

/** Go's `path.Clean` (also `filepath.Clean` on Linux). */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Go's `path.Join`: joins the non-empty elements and cleans the result. */
export function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : cleanPath(nonEmpty.join('/'));
}

/** Levenshtein distance, to suggest the instruction a typo meant. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * BuildKit's suggest.Search, case-sensitive: the option closest to `name` by edit distance, if
 * under 3; none when `name` is itself an option.
 */
export function suggestName(name: string, options: Iterable<string>): string | undefined {
  let match: string | undefined;
  let min = 3;
  for (const option of options) {
    if (option === name) return undefined;
    const d = editDistance(name, option);
    if (d < min) {
      match = option;
      min = d;
    }
  }
  return match;
}
