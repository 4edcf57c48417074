import { OcipushError } from '../errors.js';
import { isGoSpace } from './go-text.js';
import { goQuote } from './go-format.js';
import { ExpansionError, goReplaceAll, shellPatternToRegex, trimPrefix, trimSuffix } from './shell-pattern.js';

/**
 * Variable substitution and quote removal exactly as BuildKit's shell lexer does it
 * (frontend/dockerfile/shell/lex.go): `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`,
 * `${VAR+w}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}`,
 * `${VAR/p/r}`, `${VAR//p/r}`; single quotes suppress expansion, double quotes allow it, the
 * escape token escapes one character, and quotes are removed from the result. It never runs a
 * shell: `$(…)` and backticks are plain text.
 */

export type EscapeToken = '\\' | '`';

/** Variables for expansion: a Map, a plain object, or a lookup (undefined = unset). */
export type EnvSource =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((name: string) => string | undefined);

export interface LexOptions {
  /** The Dockerfile's escape token (`# escape=` directive); backslash by default. */
  escape?: EscapeToken;
  /** Keep quote characters in the result (BuildKit's RawQuotes). */
  rawQuotes?: boolean;
  /** Keep escape tokens in the result (BuildKit's RawEscapes). */
  rawEscapes?: boolean;
  /** Treat quotes as plain characters (BuildKit's SkipProcessQuotes). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (BuildKit's SkipUnsetEnv). */
  skipUnsetEnv?: boolean;
}

export interface ExpansionResult {
  /** The word after expansion and quote removal (BuildKit's ProcessWord). */
  value: string;
  /** The same input split into words after expansion (BuildKit's ProcessWords). */
  words: string[];
  /** Variables the word referred to that were set. */
  matched: Set<string>;
  /** Variables the word referred to that were not set. */
  unmatched: Set<string>;
}

export { ExpansionError };

type Lookup = (name: string) => string | undefined;

function toLookup(env: EnvSource): Lookup {
  if (typeof env === 'function') return env;
  if (env instanceof Map) return (name) => env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined);
}

/** Expands one word: the full result, its word split, and which variables it used. Throws ExpansionError. */
export function processWord(word: string, env: EnvSource, options: LexOptions = {}): ExpansionResult {
  const sw = new ShellWord(word, toLookup(env), options);
  let value: string;
  let words: string[];
  try {
    [value, words] = sw.processStopOn(undefined, options.rawEscapes ?? false);
  } catch (err) {
    // errors.Wrapf(err, "failed to process %q", source): the word quoted as Go quotes it.
    if (err instanceof ExpansionError) throw new ExpansionError(`failed to process ${goQuote(word)}: ${err.message}`);
    throw err;
  }
  return { value, words, matched: sw.matched, unmatched: sw.unmatched };
}

/**
 * Expands `$VAR`/`${VAR…}` in one word and removes quotes, as Docker does for ENV, LABEL, COPY,
 * ADD, WORKDIR, USER, VOLUME, STOPSIGNAL and FROM. Unset variables expand to "".
 */
export function expandVariables(word: string, env: EnvSource, options: { escape?: EscapeToken } = {}): string {
  return publicErrors(() => processWord(word, env, { escape: options.escape }).value);
}

/**
 * Expands then splits on unquoted whitespace, as Docker does for EXPOSE: `"$PORTS"` stays one
 * word, `$PORTS` holding "80 443" becomes two.
 */
export function expandWords(word: string, env: EnvSource, options: { escape?: EscapeToken } = {}): string[] {
  return publicErrors(() => processWord(word, env, { escape: options.escape }).words);
}

function publicErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ExpansionError) throw new OcipushError('EDOCKERFILE', err.message);
    throw err;
  }
}

/** BuildKit's wordsStruct: whitespace from variable values splits words, quoted text never does. */
class WordCollector {
  private readonly words: string[] = [];
  private buf = '';
  private inWord = false;

  addChar(ch: string): void {
    if (isGoSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isGoSpace(ch)) {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  done(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: string;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(word: string, private readonly lookup: Lookup, private readonly options: LexOptions) {
    this.chars = Array.from(word);
    this.escape = options.escape ?? '\\';
    this.rawEscapes = options.rawEscapes ?? false;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  /** Processes up to `stop` (consumed) or the end of input; returns the text and its word split. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): [string, string[]] {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      while (this.peek() !== undefined) {
        let ch = this.peek()!;
        if (stop !== undefined && ch === stop) {
          this.next();
          return [result, words.done()];
        }
        if (ch === '<') {
          // BuildKit's processPossibleHeredoc: `<<` and the blanks after it stay one word.
          const tmp = this.processPossibleHeredoc();
          result += tmp;
          words.addRawString(tmp);
          continue;
        }
        const special = ch === '$' || (!this.options.skipProcessQuotes && (ch === "'" || ch === '"'));
        if (special) {
          const tmp = ch === '$' ? this.processDollar() : ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        ch = this.next()!;
        if (ch === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          const escaped = this.next();
          // An escape token at the very end is dropped.
          if (escaped === undefined) break;
          ch = escaped;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
      if (stop !== undefined) throw new ExpansionError(`unexpected end of statement while looking for matching ${stop}`);
      return [result, words.done()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** `<` alone, or `<<` with the tabs, carriage returns and spaces after it (Go's isWhitespace). */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let result = '<<';
    for (let ch = this.peek(); ch === ' ' || ch === '\t' || ch === '\r'; ch = this.peek()) result += this.next()!;
    return result;
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a single quote cannot be escaped inside.
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ExpansionError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ and the escape token, which escapes only ", $ and itself.
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) throw new ExpansionError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        if (this.options.rawQuotes) result += '"';
        return result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === this.escape) ch = this.next()!;
      }
      result += ch;
    }
  }

  private getEnv(name: string): [string, boolean] {
    const value = this.lookup(name);
    if (value !== undefined) {
      this.matched.add(name);
      return [value, true];
    }
    this.unmatched.add(name);
    return ['', false];
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.options.skipUnsetEnv) return '$' + name;
      return value;
    }

    this.next();
    const first = this.peek();
    if (first === undefined) throw new ExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ExpansionError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new ExpansionError("syntax error: missing '}'");
    let modifier = ch;

    if (ch === '}') {
      const [value, set] = this.getEnv(name);
      if (!set && this.options.skipUnsetEnv) return `\${${name}}`;
      return value;
    }

    if (ch === '/') return this.processReplace(name);

    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch ?? '';
    } else if (!'+-?#%'.includes(ch)) {
      throw new ExpansionError(`unsupported modifier (${modifier}) in substitution`);
    }

    const rawEscapes = ch === '#' || ch === '%';
    if (nullIsUnset && rawEscapes) throw new ExpansionError(`unsupported modifier (${modifier}) in substitution`);
    const word = this.processNested('}', rawEscapes, "syntax error: missing '}'");

    const [value, set] = this.getEnv(name);
    if (this.options.skipUnsetEnv && !set) return `\${${name}${modifier}${word}}`;
    const unsetOrNull = !set || (nullIsUnset && value === '');

    switch (ch) {
      case '-':
        return unsetOrNull ? word : value;
      case '+':
        return unsetOrNull ? '' : word;
      case '?':
        if (!set) throw new ExpansionError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new ExpansionError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        return value;
      case '%':
      case '#': {
        // %/# remove the shortest match, %%/## the longest.
        let pattern = word;
        let greedy = false;
        if (pattern.length > 0 && pattern[0] === ch) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return ch === '%' ? trimSuffix(pattern, value, greedy) : trimPrefix(pattern, value, greedy);
      }
      default:
        throw new ExpansionError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  private processReplace(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    const pattern = this.processNested('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.processNested('}', true, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (this.options.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternToRegex(pattern, true, false);
    if (replaceAll) return goReplaceAll(value, re, replacement);
    const m = re.exec(value);
    if (!m) return value;
    return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
  }

  /** A nested word inside `${…}`; an unterminated one reports the missing delimiter. */
  private processNested(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes)[0];
    } catch (err) {
      if (err instanceof ExpansionError && this.peek() === undefined) throw new ExpansionError(missing);
      throw err;
    }
  }

  private processName(): string {
    // A name is letters, digits and _; a leading digit reads digits only ($1); special
    // parameters ($@ $* $# $? $- $$ $!) are one character.
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) {
        this.next();
        return ch;
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }
}

const DIGIT = /^\p{Nd}$/u;
const LETTER = /^\p{L}$/u;
function isDigit(ch: string): boolean {
  return DIGIT.test(ch);
}
function isLetter(ch: string): boolean {
  return LETTER.test(ch);
}
