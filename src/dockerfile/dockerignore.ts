import { OcipushError } from '../errors.js';
import { cleanPath, trimGoSpace } from './go-text.js';

/**
 * `.dockerignore` as docker build (BuildKit + fsutil) applies it:
 * - reading (moby/patternmatcher/ignorefile.ReadAll): a line starting with `#` is a comment, blank
 *   lines are skipped, surrounding whitespace is trimmed, patterns are path.Clean'ed and a leading
 *   `/` is dropped, `!` marks an exception that re-includes;
 * - matching (moby/patternmatcher): `*` and `?` never cross `/`, `[...]` classes, `\` escapes,
 *   `**` spans any number of directories, the last matching pattern wins, and a pattern that
 *   matches a parent directory excludes everything under it;
 * - walking (tonistiigi/fsutil): children are matched using their parents' results, and an
 *   excluded directory is only entered when an exception could re-include something inside.
 */

export interface IgnorePattern {
  /** The cleaned pattern, without the leading `!`. */
  pattern: string;
  /** True for `!pattern`: an exception that re-includes what earlier patterns excluded. */
  exclusion: boolean;
  /** 1-based line in the .dockerignore file, when read from one. */
  line?: number;
}

export interface IgnoreMatcher {
  /**
   * True when the context path (relative, `/`-separated, e.g. `src/app.js`) is excluded. `isDir`
   * changes nothing (Docker patterns do not distinguish directories) and is accepted for callers.
   */
  (relativePath: string, isDir?: boolean): boolean;
  readonly patterns: readonly IgnorePattern[];
  /** True when some pattern is an `!` exception. */
  readonly hasExceptions: boolean;
  /**
   * For an excluded directory: whether a walker must still descend into it because an exception
   * may re-include something inside (fsutil's rule). When this is false the whole directory can be
   * skipped. A directory entered this way belongs in the context only if something inside it is
   * included (fsutil emits it just before its first included child).
   */
  mayReinclude(relativeDir: string): boolean;
}

const IGNORE_FILE = '.dockerignore';

function ignoreError(message: string, line: number | undefined, source = IGNORE_FILE): OcipushError {
  const where = line === undefined ? source : `${source}:${line}:1`;
  return new OcipushError('EDOCKERFILE', `${where}: ${message}`, { path: source, ...(line !== undefined && { line, column: 1 }) });
}

export interface IgnoreMatcherOptions {
  /** What the patterns came from, for error messages (default `.dockerignore`; e.g. `--exclude`). */
  source?: string;
  /** A string starting with `#` is a comment (default true); not for --exclude, where `#*#` (autosaves) is a pattern in BuildKit. */
  comments?: boolean;
}

/** Reads .dockerignore text into patterns, validating each (bad syntax throws EDOCKERFILE). */
export function parseDockerignore(text: string): IgnorePattern[] {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const patterns: IgnorePattern[] = [];
  lines.forEach((rawLine, index) => {
    const pattern = patternFromLine(rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine, index + 1);
    if (pattern) patterns.push(pattern);
  });
  return patterns;
}

/** One .dockerignore line as ignorefile.ReadAll reads it; undefined for comments and blanks. */
function patternFromLine(raw: string, line: number | undefined, source = IGNORE_FILE, comments = true): IgnorePattern | undefined {
  if (comments && raw.startsWith('#')) return undefined;
  let pattern = trimGoSpace(raw);
  if (pattern === '') return undefined;
  const invert = pattern.startsWith('!');
  if (invert) pattern = trimGoSpace(pattern.slice(1));
  if (pattern.length > 0) {
    pattern = cleanPath(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
  }
  return normalizePattern(invert ? '!' + pattern : pattern, line, source);
}

/** What patternmatcher.New does to each pattern string, with syntax checks. */
function normalizePattern(text: string, line: number | undefined, source: string): IgnorePattern {
  let p = cleanPath(trimGoSpace(text));
  let exclusion = false;
  if (p.startsWith('!')) {
    if (p.length === 1) throw ignoreError('illegal exclusion pattern: "!"', line, source);
    exclusion = true;
    p = p.slice(1);
  }
  const problem = globSyntaxProblem(p);
  if (problem) throw ignoreError(`syntax error in pattern ${JSON.stringify(p)}: ${problem}`, line, source);
  return { pattern: p, exclusion, ...(line !== undefined && { line }) };
}

/**
 * Builds the matcher from parsed patterns, or from strings read like .dockerignore lines
 * (`!` for exceptions, leading `/` dropped, `#` comments skipped unless `comments: false`). Pure: it never touches the
 * filesystem.
 */
export function createIgnoreMatcher(input: readonly (IgnorePattern | string)[], options: IgnoreMatcherOptions = {}): IgnoreMatcher {
  const source = options.source ?? IGNORE_FILE;
  const patterns: IgnorePattern[] = [];
  for (const item of input) {
    if (typeof item === 'string') {
      const pattern = patternFromLine(item, undefined, source, options.comments ?? true);
      if (pattern) patterns.push(pattern);
    } else {
      patterns.push(item);
    }
  }
  const compiled = patterns.map((p) => compilePattern(p, source));
  const hasExceptions = patterns.some((p) => p.exclusion);
  // fsutil walks into every excluded directory as soon as one exception uses a wildcard.
  const onlyPrefixExceptions = !patterns.some((p) => p.exclusion && /[*[\]?^\\]/.test(withoutTrailingGlob(p.pattern)));

  // The ancestors of the last path asked about, with their per-pattern results: walkers ask in
  // depth-first order, so consecutive paths share most of their ancestry.
  let chain: { path: string; info: boolean[] }[] = [];

  const infoFor = (path: string): { matched: boolean; info: boolean[] } => {
    const parts = path.split('/');
    let depth = 0;
    while (depth < chain.length && depth < parts.length - 1 && chain[depth]!.path === parts.slice(0, depth + 1).join('/')) depth++;
    chain = chain.slice(0, depth);
    for (let d = depth; d < parts.length - 1; d++) {
      const dir = parts.slice(0, d + 1).join('/');
      const parent = d === 0 ? undefined : chain[d - 1]!.info;
      chain.push({ path: dir, info: matchUsingParent(compiled, dir, parent).info });
    }
    const parent = parts.length > 1 ? chain[parts.length - 2]!.info : undefined;
    return matchUsingParent(compiled, path, parent);
  };

  const matcher = (relativePath: string): boolean => {
    const path = normalizeQueryPath(relativePath);
    if (path === '.' || compiled.length === 0) return false;
    return infoFor(path).matched;
  };
  const mayReinclude = (relativeDir: string): boolean => {
    if (!hasExceptions) return false;
    if (!onlyPrefixExceptions) return true;
    const dirSlash = normalizeQueryPath(relativeDir) + '/';
    return patterns.some((p) => p.exclusion && (withoutTrailingGlob(p.pattern) + '/').startsWith(dirSlash));
  };
  return Object.assign(matcher, { patterns, hasExceptions, mayReinclude });
}

/** A context path as fsutil hands it to the matcher; on Linux a backslash is a plain character of a name. */
function normalizeQueryPath(p: string): string {
  let s = p;
  while (s.startsWith('/')) s = s.slice(1);
  return cleanPath(s);
}

function withoutTrailingGlob(p: string): string {
  let s = p;
  if (s.endsWith('/**')) s = s.slice(0, -3);
  if (s.endsWith('/*')) s = s.slice(0, -2);
  return s;
}

interface Compiled {
  exclusion: boolean;
  match(path: string): boolean;
}

/** patternmatcher's MatchesUsingParentResults; without parent info it also tests every ancestor. */
function matchUsingParent(patterns: readonly Compiled[], file: string, parentInfo: boolean[] | undefined): { matched: boolean; info: boolean[] } {
  let matched = false;
  const info = new Array<boolean>(patterns.length).fill(false);
  patterns.forEach((p, i) => {
    let match = parentInfo ? parentInfo[i]! : false;
    if (!match) {
      // An inclusion cannot change an already excluded path, an exception an included one.
      if (p.exclusion !== matched) return;
      match = p.match(file);
      if (!match && !parentInfo) {
        const slash = file.lastIndexOf('/');
        if (slash > 0) {
          const dirs = file.slice(0, slash).split('/');
          for (let k = 1; k <= dirs.length && !match; k++) match = p.match(dirs.slice(0, k).join('/'));
        }
      }
    }
    info[i] = match;
    if (match) matched = !p.exclusion;
  });
  return { matched, info };
}

/**
 * patternmatcher's MatchesOrParentMatches: whether the patterns exclude a path, or one of its
 * parent directories, the path taken as given (a leading `/` kept). BuildKit's CopyIgnoredFile.
 */
export function parentMatcher(patterns: readonly IgnorePattern[]): (file: string) => boolean {
  const compiled = patterns.map((p) => compilePattern(p, IGNORE_FILE));
  return (file) => {
    const slash = file.lastIndexOf('/');
    const dirs = slash < 0 ? [] : (slash === 0 ? '/' : file.slice(0, slash)).split('/');
    let matched = false;
    for (const c of compiled) {
      if (c.exclusion !== matched) continue;
      let match = c.match(file);
      for (let i = 0; !match && i < dirs.length; i++) match = c.match(dirs.slice(0, i + 1).join('/'));
      if (match) matched = !c.exclusion;
    }
    return matched;
  };
}

/** patternmatcher's Pattern.compile: exact text, a prefix (trailing double star), a suffix (leading double star) or a regexp. */
function compilePattern(p: IgnorePattern, source: string): Compiled {
  const pattern = p.pattern;
  // Why Go's regexp would refuse what the pattern becomes (patternmatcher then answers
  // filepath.ErrBadPattern, "syntax error in pattern", when the pattern is first used).
  let problem: string | undefined;
  const chars = Array.from(pattern);
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let re = '^';
  let idx = 0;
  for (let i = 0; idx < chars.length; i++) {
    const ch = chars[idx++]!;
    if (ch === '*') {
      if (chars[idx] === '*') {
        idx++;
        if (chars[idx] === '/') idx++;
        if (idx >= chars.length) {
          // A trailing ** accepts everything below, as in .gitignore.
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '.*';
            kind = 'regexp';
          }
        } else {
          re += '(?:.*/)?';
          kind = 'regexp';
        }
        if (i === 0) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if ('.+()$'.includes(ch)) {
      // patternmatcher escapes only these: its table of bytes to escape (8 bytes indexed by
      // b%8, bit b/8) cannot hold `|`, `{` and `}`, so they reach RE2 as regexp syntax.
      re += '\\' + ch;
    } else if (ch === '{') {
      const repeat = goRepeat(chars, idx);
      if (repeat === undefined) re += '\\{';
      else {
        if (repeat.problem) problem ??= repeat.problem;
        // RE2 lets an anchor repeat; JavaScript only a group.
        if (re === '^') re = '(?:^)';
        re += repeat.text;
        idx = repeat.end;
      }
    } else if (ch === '}') {
      re += '\\}';
    } else if (ch === '\\') {
      if (idx < chars.length) {
        const escaped = escapedForRegex(chars[idx++]!);
        if (escaped === undefined) problem ??= `unsupported escape \\${chars[idx - 1]}`;
        re += escaped ?? '';
        kind = 'regexp';
      } else {
        re += '\\\\';
      }
    } else if (ch === '[') {
      const cls = readClass(chars, idx);
      re += cls.regex;
      idx = cls.end;
      if (cls.reversed) problem ??= `invalid character class range ${cls.reversed}`;
      kind = 'regexp';
    } else if (ch === ']') {
      re += '\\]';
      kind = 'regexp';
    } else if (ch === '\ufffd' || (ch >= '\udc80' && ch <= '\udcff')) {
      // A byte that is not UTF-8 (kept as U+DC00 + byte) reaches Go's regexp as U+FFFD, which
      // matches any such byte of a name, and U+FFFD itself.
      re += '[\\udc80-\\udcff\\ufffd]';
    } else {
      re += ch;
    }
  }

  const exclusion = p.exclusion;
  switch (kind) {
    case 'exact':
      return { exclusion, match: (path) => path === pattern };
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return { exclusion, match: (path) => path.startsWith(prefix) };
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      return { exclusion, match: (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1)) };
    }
    default: {
      let regex: RegExp | undefined;
      if (problem === undefined) {
        try {
          regex = new RegExp(re + '$', 'u');
        } catch (err) {
          problem = (err as Error).message;
        }
      }
      if (!regex) {
        const error = ignoreError(`syntax error in pattern ${JSON.stringify(pattern)}: ${problem}`, p.line, source);
        return { exclusion, match: () => { throw error; } };
      }
      const compiledRegex = regex;
      return { exclusion, match: (path) => compiledRegex.test(path) };
    }
  }
}

/**
 * RE2's `{n}`, `{n,}` or `{n,m}` starting at `chars[start]` (just after the `{`), as Go's
 * regexp/syntax parseRepeat reads it; undefined when it is not one (the `{` is then a literal
 * character, as for `{js,ts}` or a number with a leading zero). `problem` is why RE2 refuses it
 * (a count above 1000, or min above max).
 */
function goRepeat(chars: string[], start: number): { text: string; end: number; problem?: string } | undefined {
  let i = start;
  const number = (): number | undefined => {
    const from = i;
    while (i < chars.length && chars[i]! >= '0' && chars[i]! <= '9') i++;
    if (i === from || (i - from > 1 && chars[from] === '0')) return undefined;
    return Number(chars.slice(from, i).join(''));
  };
  const min = number();
  if (min === undefined) return undefined;
  let max: number | undefined = min;
  if (chars[i] === ',') {
    i++;
    if (chars[i] === '}') max = undefined;
    else if ((max = number()) === undefined) return undefined;
  }
  if (chars[i] !== '}') return undefined;
  const text = chars.slice(start - 1, i + 1).join('');
  const problem = min > 1000 || (max !== undefined && (max > 1000 || min > max)) ? `invalid repeat count ${text}` : undefined;
  return { text, end: i + 1, ...(problem !== undefined && { problem }) };
}

const JS_SYNTAX = '^$\\.*+?()[]{}|/';

/**
 * `\x` in a pattern: Go hands it to RE2, where `\d`, `\w`, `\s` are classes and punctuation is
 * literal; undefined for an escape RE2 refuses.
 */
function escapedForRegex(ch: string): string | undefined {
  switch (ch) {
    case 'd': case 'D': case 'w': case 'W': case 'b': case 'B':
      return '\\' + ch;
    case 's': return '[\\t\\n\\f\\r ]';
    case 'S': return '[^\\t\\n\\f\\r ]';
    case 't': return '\\t';
    case 'n': return '\\n';
    case 'r': return '\\r';
    case 'f': return '\\f';
    case 'v': return '\\v';
    case 'a': return '\\x07';
  }
  if (/^[\p{L}\p{N}]$/u.test(ch)) return undefined;
  return JS_SYNTAX.includes(ch) ? '\\' + ch : ch;
}

/**
 * A `[...]` class (filepath.Match syntax, already validated) as a JavaScript class, and its first
 * reversed range (`z-a`): filepath.Match accepts one, but RE2, which patternmatcher compiles the
 * pattern into, refuses it.
 */
function readClass(chars: string[], start: number): { regex: string; end: number; reversed?: string } {
  let i = start;
  let out = '[';
  if (chars[i] === '^') {
    out += '^';
    i++;
  }
  let n = 0;
  let reversed: string | undefined;
  const item = (): string => {
    let ch = chars[i++]!;
    if (ch === '\\') ch = chars[i++]!;
    return ch;
  };
  const quote = (ch: string): string => ('\\^-[]'.includes(ch) ? '\\' + ch : ch);
  while (!(chars[i] === ']' && n > 0)) {
    const lo = item();
    if (chars[i] === '-') {
      i++;
      const hi = item();
      if (lo.codePointAt(0)! > hi.codePointAt(0)!) reversed ??= `${lo}-${hi}`;
      else out += `${quote(lo)}-${quote(hi)}`;
    } else {
      out += quote(lo);
    }
    n++;
  }
  return { regex: out + ']', end: i + 1, ...(reversed !== undefined && { reversed }) };
}

/** Why Go's filepath.Match would reject the pattern (ErrBadPattern), or undefined. */
function globSyntaxProblem(pattern: string): string | undefined {
  const chars = Array.from(pattern);
  let i = 0;
  const esc = (): string | undefined => {
    const ch = chars[i];
    if (ch === undefined || ch === '-' || ch === ']') return 'malformed character class';
    i++;
    if (ch === '\\') {
      if (chars[i] === undefined) return 'malformed character class';
      i++;
    }
    if (chars[i] === undefined) return 'unterminated character class';
    return undefined;
  };
  while (i < chars.length) {
    const ch = chars[i++]!;
    if (ch === '\\') {
      if (i >= chars.length) return 'trailing backslash';
      i++;
    } else if (ch === '[') {
      if (chars[i] === '^') i++;
      let n = 0;
      for (;;) {
        if (chars[i] === ']' && n > 0) {
          i++;
          break;
        }
        const problem = esc();
        if (problem) return problem;
        if (chars[i] === '-') {
          i++;
          const hi = esc();
          if (hi) return hi;
        }
        n++;
      }
    }
  }
  return undefined;
}
