/**
 * Go's `path/filepath.Match`, which BuildKit (fsutil) uses for wildcards in COPY/ADD sources:
 * `*` is any run of characters but `/`, `?` one character but `/`, `[abc]`, `[a-z]`, `[^a]`
 * classes, `\` escapes the next character. A malformed pattern matches nothing (Go returns
 * ErrBadPattern, which fsutil treats as no match), and so does a reversed range such as `[z-a]`
 * (Go compares `lo <= c && c <= hi`, which no character satisfies).
 */

/** fsutil's `containsWildcards`: `*`, `?` or `[` not escaped by `\`. */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

const cache = new Map<string, RegExp | null>();

export function goMatch(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    cache.set(pattern, re);
  }
  return re !== null && re.test(name);
}

/** One character as itself. With the `u` flag only syntax characters may be escaped outside a class (`\\-` is an error there). */
function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
}

/** One character as itself inside a class, where `-` is syntax too. */
function escapeInClass(ch: string): string {
  return ch === '-' ? '\\-' : escapeRegExp(ch);
}

function compile(pattern: string): RegExp | null {
  const chars = Array.from(pattern);
  let re = '^';
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i++]!;
    if (ch === '*') {
      re += '[^/]*';
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '\\') {
      if (i >= chars.length) return null;
      re += escapeRegExp(chars[i++]!);
    } else if (ch === '[') {
      let cls = '[';
      if (chars[i] === '^') {
        cls += '^';
        i++;
      }
      let n = 0;
      for (;;) {
        if (i >= chars.length) return null;
        if (chars[i] === ']' && n > 0) {
          i++;
          break;
        }
        const lo = classChar();
        if (lo === null) return null;
        let item = escapeInClass(lo);
        if (chars[i] === '-') {
          i++;
          const hi = classChar();
          if (hi === null) return null;
          // A reversed range is valid syntax for Go and contains nothing: leave it out.
          item = lo.codePointAt(0)! > hi.codePointAt(0)! ? '' : `${item}-${escapeInClass(hi)}`;
        }
        cls += item;
        n++;
      }
      // A class never matches the separator.
      re += `(?!/)${cls}]`;
    } else {
      re += escapeRegExp(ch);
    }
  }
  return new RegExp(re + '$', 'u');

  function classChar(): string | null {
    let ch = chars[i];
    if (ch === undefined || ch === '-' || ch === ']') return null;
    i++;
    if (ch === '\\') {
      ch = chars[i++];
      if (ch === undefined) return null;
    }
    return ch;
  }
}
