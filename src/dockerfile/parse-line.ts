import { LocatedError, type SourcePosition } from './errors.js';
import { parseFlags, type FlagValues } from './flags.js';
import { TOKEN_WHITESPACE, trimGoSpace, isGoSpace } from './go-text.js';
import type {
  InstructionBase,
  ParsedFlag,
} from './instructions.js';
import type { EscapeToken } from './lex.js';
import { positionAt, type LogicalLine } from './logical-lines.js';
import { extractFlags, NotStringArrayError, parseJsonArray, splitWhitespace, type Piece } from './words.js';

/*
 * The first step of parsing one instruction, shared by every instruction's parser: a logical line
 * cut into keyword, flags and argument text with positions, and the argument shapes BuildKit's
 * instructions package knows (one argument, JSON or shell form, JSON or word list).
 */

/** One logical line cut into keyword, flags and argument text, with positions. */
export interface Split {
  line: LogicalLine;
  escape: EscapeToken;
  base: InstructionBase;
  written: string;
  flags: ParsedFlag[];
  args: string;
  argsOffset: number;
}

export function splitLine(line: LogicalLine, escape: EscapeToken): Split {
  const text = line.text;
  let start = 0;
  while (start < text.length && isGoSpace(text[start]!)) start++;
  const trimmed = trimGoSpace(text);
  const sep = TOKEN_WHITESPACE.exec(trimmed);
  const written = sep ? trimmed.slice(0, sep.index) : trimmed;
  const afterOffset = start + (sep ? sep.index + sep[0].length : trimmed.length);
  const after = sep ? trimmed.slice(sep.index + sep[0].length) : '';
  const { flags, rest } = extractFlags(after, escape);
  let argsOffset = afterOffset + rest.offset;
  while (argsOffset < text.length && isGoSpace(text[argsOffset]!)) argsOffset++;
  const at = positionAt(line, start);
  return {
    line,
    escape,
    base: { keyword: written.toUpperCase(), original: trimmed, line: at.line, column: at.column, endLine: line.endLine },
    written,
    flags: flags.map((f) => toParsedFlag(f, positionAt(line, afterOffset + f.offset))),
    args: trimGoSpace(rest.text),
    argsOffset,
  };
}

function toParsedFlag(piece: Piece, at: SourcePosition): ParsedFlag {
  const body = piece.text.slice(2);
  const eq = body.indexOf('=');
  return {
    name: eq < 0 ? body : body.slice(0, eq),
    value: eq < 0 ? undefined : body.slice(eq + 1),
    line: at.line,
    column: at.column,
  };
}

export function argsAt(s: Split, offset = 0): SourcePosition {
  return positionAt(s.line, s.argsOffset + offset);
}

export function flagsFor(s: Split, spec: Readonly<Record<string, 'bool' | 'string' | 'strings'>>): FlagValues {
  return parseFlags(s.base.keyword, s.flags, spec);
}

/** MAINTAINER, USER, WORKDIR, STOPSIGNAL: the whole rest of the line is the one argument. */
export function oneArgument(s: Split, checkFlags: boolean): string {
  if (s.args === '') throw new LocatedError(`${s.base.keyword} requires exactly one argument`, s.base);
  if (checkFlags) flagsFor(s, {});
  return s.args;
}

/** CMD, ENTRYPOINT, RUN, SHELL: a JSON array of strings, else the whole text (shell form). */
export function maybeJson(s: Split, text = s.args, offset = 0): { args: string[]; json: boolean } {
  if (text === '') return { args: [], json: false };
  try {
    const array = parseJsonArray(text);
    if (array !== undefined) return { args: array, json: true };
  } catch (err) {
    if (err instanceof NotStringArrayError) throw new LocatedError(err.message, argsAt(s, offset));
    throw err;
  }
  return { args: [text], json: false };
}

/** COPY, ADD, VOLUME: a JSON array of strings, else whitespace-separated words (quotes kept). */
export function maybeJsonList(s: Split): { args: string[]; json: boolean } {
  try {
    const array = parseJsonArray(s.args);
    if (array !== undefined) return { args: array, json: true };
  } catch (err) {
    if (err instanceof NotStringArrayError) throw new LocatedError(err.message, argsAt(s));
    throw err;
  }
  return { args: splitWhitespace(s.args).map((p) => p.text), json: false };
}

export function flagPosition(s: Split, name: string): SourcePosition {
  const flag = s.flags.find((f) => f.name === name);
  return flag ? { line: flag.line, column: flag.column } : s.base;
}
