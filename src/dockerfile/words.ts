import { isGoSpace, trimLeftGoSpace } from './go-text.js';
import type { EscapeToken } from './lex.js';

/**
 * The argument splitters of BuildKit's parser (split_command.go, line_parsers.go). Each keeps the
 * offset where a piece started so errors can name a column.
 */

export interface Piece {
  text: string;
  offset: number;
}

/**
 * Leading `--name[=value]` words (BuildKit's extractBuilderFlags): quotes are removed and the
 * escape token escapes one character; a word not starting with `--` ends the flags, as does a
 * bare `--`. The token is the `# escape=` one, as in BuildKit since dockerfile 1.15: under `# escape=\``,
 * `--exclude=a\b` keeps its backslash.
 */
export function extractFlags(line: string, escape: EscapeToken): { flags: Piece[]; rest: Piece } {
  const flags: Piece[] = [];
  let inWord = false;
  let inQuote = false;
  let quote = '';
  let word = '';
  let start = 0;
  let blankOK = false;

  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos]! : '';
    if (!inWord && !inQuote) {
      if (pos === line.length) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { flags, rest: { text: line.slice(pos), offset: pos } };
      inWord = true;
      start = pos;
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push({ text: word, offset: start });
      break;
    }
    if (inQuote) {
      if (ch === quote) {
        inQuote = false;
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) {
          inQuote = false;
          continue;
        }
        pos++;
        ch = line[pos]!;
      }
      word += ch;
      continue;
    }
    if (isGoSpace(ch)) {
      inWord = false;
      if (word === '--') return { flags, rest: { text: line.slice(pos), offset: pos } };
      if (blankOK || word.length > 0) flags.push({ text: word, offset: start });
      word = '';
      blankOK = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOK = true;
      inQuote = true;
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) continue;
      pos++;
      ch = line[pos]!;
    }
    word += ch;
  }
  return { flags, rest: { text: '', offset: line.length } };
}

/**
 * Splits on whitespace but keeps quoted strings (quotes included) together (BuildKit's
 * parseWords, used for ARG, ENV and LABEL). The escape token keeps the next character in the word.
 */
export function parseWords(rest: string, escape: EscapeToken): Piece[] {
  const words: Piece[] = [];
  const chars = Array.from(rest);
  const offsets: number[] = [];
  let offset = 0;
  for (const c of chars) {
    offsets.push(offset);
    offset += c.length;
  }
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let start = 0;
  let quote = '';
  let blankOK = false;

  for (let i = 0; i <= chars.length; i++) {
    const atEnd = i === chars.length;
    let ch = atEnd ? '' : chars[i]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
      start = offsets[i]!;
    }
    if (atEnd) {
      if (blankOK || word.length > 0) words.push({ text: word, offset: start });
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push({ text: word, offset: start });
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        // An escape at the end of the line is dropped; otherwise it stays with the next character.
        if (i + 1 === chars.length) continue;
        word += ch;
        i++;
        ch = chars[i]!;
      }
      word += ch;
      continue;
    }
    // Inside quotes; the escape token has no power inside single quotes.
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      i++;
      ch = chars[i]!;
    }
    word += ch;
  }
  return words;
}

/** Splits on runs of `[\t\v\f\r ]` (BuildKit's parseStringsWhitespaceDelimited). */
export function splitWhitespace(rest: string): Piece[] {
  if (rest === '') return [];
  const out: Piece[] = [];
  const re = /[\t\v\f\r ]+/g;
  let last = 0;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    out.push({ text: rest.slice(last, m.index), offset: last });
    last = m.index + m[0].length;
  }
  out.push({ text: rest.slice(last), offset: last });
  return out;
}

export class NotStringArrayError extends Error {
  constructor() {
    super('when using JSON array syntax, arrays must be comprised of strings only');
  }
}

/**
 * The exec form: a JSON array of strings filling the whole argument (BuildKit's parseJSON). Any
 * other text, invalid JSON included, is not JSON (the instruction falls back to its shell form);
 * an array holding a non-string is an error.
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const trimmed = trimLeftGoSpace(rest);
  if (!trimmed.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) throw new NotStringArrayError();
  return value as string[];
}
