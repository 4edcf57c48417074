/**
 * The pattern side of BuildKit's shell lexer: `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}` turn a shell
 * wildcard into a regular expression and apply it as Go's regexp package would.
 */
import { OcipushError } from '../errors.js';

/**
 * A lexing failure; callers add the Dockerfile position. Exported (processWord throws it), so it
 * is an OcipushError with the code every other Dockerfile problem has: a caller matching on
 * `code` reads it as one, and the CLI reports one that escapes as a failure, not as a defect.
 */
export class ExpansionError extends OcipushError {
  constructor(message: string) {
    super('EDOCKERFILE', message);
    this.name = 'ExpansionError';
  }
}

/**
 * A shell wildcard (`?` one character, `*` any run) as a regular expression, following
 * BuildKit's convertShellPatternToRegex. Go's `.` excludes only "\n", hence `[^\n]`.
 */
export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i]!;
    switch (tok) {
      case '*':
        out += star;
        continue;
      case '?':
        out += '[^\\n]';
        continue;
      case '\\': {
        // An escaped } or / belongs to the ${} syntax, not to the pattern.
        const after = chars[i + 1];
        if (after === '}' || after === '/') continue;
        out += '\\';
        i++;
        tok = chars[i] ?? '';
        if (tok !== '*' && tok !== '?' && tok !== '\\') {
          throw new ExpansionError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${tok}'`);
        }
        break;
      }
      case '[': case ']': case '{': case '}': case '.': case '+': case '(': case ')': case '|': case '^': case '$':
        out += '\\';
        break;
    }
    out += tok;
  }
  return new RegExp(out, 'u');
}

export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** Reverses a pattern without splitting escapes: a\*c becomes c\*a. */
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last;) {
    const tok = runes[i]!;
    const outIdx = last - i;
    if (tok === '\\' && i !== last) {
      out[outIdx - 1] = tok;
      out[outIdx] = runes[i + 1]!;
      i += 2;
    } else {
      out[outIdx] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // A regex finds the leftmost match only, so the rightmost one is found on reversed text.
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Go's Regexp.ReplaceAllString: skips empty matches right after a match, expands $0/$$ in the template. */
export function goReplaceAll(src: string, re: RegExp, template: string): string {
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    global.lastIndex = searchPos;
    const m = global.exec(src);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expandGoTemplate(template, m[0]);
    lastMatchEnd = end;
    const width = searchPos < src.length ? (src.codePointAt(searchPos)! > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}

/** Go's Regexp.Expand for a pattern without groups: $0/${0} is the match, $$ is $, other names are empty. */
function expandGoTemplate(template: string, match: string): string {
  const NAME = /^[\p{L}\p{Nd}_]+/u;
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let consumed = 0;
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      const inner = close > 0 ? rest.slice(1, close) : '';
      if (inner !== '' && NAME.exec(inner)?.[0] === inner) {
        name = inner;
        consumed = close + 1;
      }
    } else {
      const m = NAME.exec(rest);
      if (m) {
        name = m[0];
        consumed = m[0].length;
      }
    }
    if (name === undefined) {
      out += '$';
      continue;
    }
    if (name === '0') out += match;
    i += consumed;
  }
  return out;
}
