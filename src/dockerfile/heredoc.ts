import { TOKEN_WHITESPACE, trimGoSpace } from './go-text.js';
import { ExpansionError, processWord, type EscapeToken } from './lex.js';
import { extractFlags, parseJsonArray } from './words.js';

/**
 * Heredocs as BuildKit's parser reads them (frontend/dockerfile/parser/parser.go): the words
 * (`<<EOF`, `<<-EOF`, `3<<"EOF"`) of a RUN, COPY or ADD line (or of the one an ONBUILD holds),
 * unless it is in JSON form; the lines after it up to each terminator are its bodies.
 */

/** A heredoc word: the terminator `name`, whether the body is expanded and whether `<<-` strips tabs. */
export interface HeredocWord {
  /** The word as it stands in the line. */
  word: string;
  name: string;
  /** No quote in the word (`<<EOF`): ARG and ENV values are substituted in the body. */
  expand: boolean;
  /** `<<-`: leading tabs go from each line of the body, and from the terminator's line. */
  chomp: boolean;
}

/** A heredoc with its body: every line up to its terminator, each with its line ending as written. */
export interface Heredoc extends HeredocWord {
  content: string;
}

// parser.go reHeredoc; Go's \s is [\t\n\f\r ].
const HEREDOC = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const NO_ENV = (): undefined => undefined;

/**
 * BuildKit's ParseHeredoc: the heredoc a word is, or undefined. The terminator is the word after
 * `<<` with quotes removed (unset variables kept as written); any quote in it turns expansion off.
 * Throws ExpansionError for a word the lexer refuses.
 */
export function parseHeredocWord(word: string): HeredocWord | undefined {
  const m = HEREDOC.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  const words = processWord(rest, NO_ENV, { escape: '\\', skipUnsetEnv: true }).words;
  if (words.length !== 1) return undefined;
  const raw = processWord(rest, NO_ENV, { escape: '\\', skipUnsetEnv: true, rawQuotes: true }).words;
  if (raw.length !== words.length) throw new ExpansionError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string): number => s.split(/['"]/).length - 1;
  return { word, name: words[0]!, expand: quotes(words[0]!) === quotes(raw[0]!), chomp: m[2] === '-' };
}

/** BuildKit's MustParseHeredoc: as parseHeredocWord, a word the lexer refuses being no heredoc. */
export function heredocWord(word: string): HeredocWord | undefined {
  try {
    return parseHeredocWord(word);
  } catch (err) {
    if (err instanceof ExpansionError) return undefined;
    throw err;
  }
}

/**
 * The heredocs of one logical line whose bodies follow it (parser.go canContainHeredoc and
 * heredocsFromLine): RUN, COPY and ADD, alone or after ONBUILD, not in JSON form; the words are
 * split with the default escape token whatever `# escape=` says, as BuildKit does (its flags, as
 * the instruction's, with the `# escape=` one). Throws ExpansionError when a heredoc word cannot
 * be read.
 */
export function heredocsOfLine(line: string, escape: EscapeToken): HeredocWord[] {
  if (!line.includes('<<') || !canContainHeredoc(line, escape)) return [];
  let words: string[];
  try {
    words = processWord(line, NO_ENV, { escape: '\\', rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch (err) {
    if (err instanceof ExpansionError) return [];
    throw err;
  }
  const found: HeredocWord[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) found.push(heredoc);
  }
  return found;
}

function canContainHeredoc(line: string, escape: EscapeToken): boolean {
  let { keyword, args } = splitKeyword(line, escape);
  if (keyword === 'ONBUILD') ({ keyword, args } = splitKeyword(args, escape));
  if (keyword !== 'RUN' && keyword !== 'COPY' && keyword !== 'ADD') return false;
  try {
    return parseJsonArray(args) === undefined;
  } catch {
    // An array of non-strings: the instruction's own parse refuses it.
    return false;
  }
}

function splitKeyword(line: string, escape: EscapeToken): { keyword: string; args: string } {
  const trimmed = trimGoSpace(line);
  const sep = TOKEN_WHITESPACE.exec(trimmed);
  if (!sep) return { keyword: trimmed.toUpperCase(), args: '' };
  return { keyword: trimmed.slice(0, sep.index).toUpperCase(), args: trimGoSpace(extractFlags(trimmed.slice(sep.index + sep[0].length), escape).rest.text) };
}

/** BuildKit's ChompHeredocContent: tabs at the start of every line go (`^` after `\n` only, as in Go). */
export function chompHeredoc(content: string): string {
  return content.replace(/(^|\n)\t+/g, '$1');
}
