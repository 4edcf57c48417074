import { LocatedError, type SourcePosition } from './errors.js';
import type { EscapeToken } from './lex.js';
import { trimLeftGoSpace } from './go-text.js';
import { heredocsOfLine, type Heredoc } from './heredoc.js';
import { ExpansionError } from './lex.js';
import { checkOptions, parseLintOptions } from './lint-config.js';

/**
 * Splits Dockerfile text into logical lines the way BuildKit's parser.Parse does: parser
 * directives at the very top, full-line comments (only when `#` is the first non-blank
 * character), continuation lines ending in the escape token, and comment or blank lines inside a
 * continuation skipped; after a RUN, COPY or ADD line with heredocs, the lines of their bodies
 * (read as they are: never instructions, comments or directives). It keeps, for every character of
 * a logical line, where it came from.
 */

export interface ParserDirectives {
  /** `# syntax=` (the frontend image BuildKit would load; ocipush records it only). */
  syntax?: string;
  /** `# escape=`: the escape and line-continuation character. */
  escape: EscapeToken;
  /** `# check=` (BuildKit's build checks: `skip=Rule,…|all`, `error=true`; see lint-config.ts). */
  check?: string;
}

/** One instruction's text with continuations joined, and a map back to the source. */
export interface LogicalLine {
  text: string;
  startLine: number;
  endLine: number;
  /** True when blank lines sat inside the continuation (BuildKit warns: NoEmptyContinuation). */
  emptyContinuation: boolean;
  /** Segments: `text.slice(offset)` begins at `line:column` in the source. */
  segments: { offset: number; line: number; column: number }[];
  /** The heredocs of the line, in order, with their bodies (`endLine` is then their last terminator's). */
  heredocs?: Heredoc[];
  /**
   * The options of the first `# check=…` comment among those just above the line (BuildKit's
   * PrevComment: comment lines since the previous instruction, blank lines allowed, an empty `#`
   * starting over; the text is cut at its first space, so `# check=skip=X // why` works).
   */
  check?: string;
}

export interface LogicalLines {
  directives: ParserDirectives;
  lines: LogicalLine[];
  /** Number of physical lines. */
  lineCount: number;
}

const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;

/** BuildKit's scanLines: split after each "\n", each line with its ending (heredoc bodies keep it). */
function rawLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

/** parser.go trimNewline. */
function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function isComment(line: string): boolean {
  return trimLeftGoSpace(line).startsWith('#');
}

export function splitLogicalLines(input: string): LogicalLines {
  const text = input.startsWith('\ufeff') ? input.slice(1) : input;
  const withEndings = rawLines(text);
  const physical = withEndings.map(trimNewline);
  const directives: ParserDirectives = { escape: '\\' };
  const seen = new Set<string>();
  let directivesDone = false;
  let continuation = continuationRegex('\\');

  // Parser directives are `# key=value` comments before anything else, blank lines included.
  const parseDirective = (line: string, lineNo: number): void => {
    if (directivesDone) return;
    if (!line.startsWith('#')) {
      directivesDone = true;
      return;
    }
    const m = DIRECTIVE.exec(trimLeftGoSpace(line.slice(1)));
    const key = m?.[1]?.toLowerCase();
    if (!m || !key || !VALID_DIRECTIVES.has(key)) {
      directivesDone = true;
      return;
    }
    if (seen.has(key)) throw new LocatedError(`only one ${key} parser directive can be used`, { line: lineNo, column: 1 });
    seen.add(key);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') {
        throw new LocatedError(`invalid escape token '${value}' does not match \` or \\`, { line: lineNo, column: 1 });
      }
      directives.escape = value;
      continuation = continuationRegex(value);
    } else if (key === 'syntax') {
      directives.syntax = value;
    } else {
      // BuildKit reads it before the Dockerfile: a bad option fails the build (newRuleLinter).
      try {
        parseLintOptions(checkOptions(value));
      } catch (err) {
        throw new LocatedError(`failed to parse check options: ${(err as Error).message}`, { line: lineNo, column: 1 });
      }
      directives.check = value;
    }
  };

  const lines: LogicalLine[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < physical.length) {
    const raw = physical[i]!;
    const lineNo = i + 1;
    i++;
    const stripped = trimLeftGoSpace(raw);
    const wasDirective = !directivesDone && stripped.startsWith('#');
    parseDirective(stripped, lineNo);
    if (stripped.startsWith('#')) {
      // parser.go: the text after the line's first byte, trimmed; a directive is not a comment.
      const comment = raw.slice(1).trim();
      if (comment === '') comments = [];
      else if (!(wasDirective && !directivesDone)) comments.push(comment);
      continue;
    }
    if (stripped === '') continue;

    const startColumn = raw.length - stripped.length + 1;
    const first = trimContinuation(stripped, continuation);
    const logical: LogicalLine = {
      text: first.text,
      startLine: lineNo,
      endLine: lineNo,
      emptyContinuation: false,
      segments: [{ offset: 0, line: lineNo, column: startColumn }],
    };
    let ended = !first.continues;
    while (!ended && i < physical.length) {
      const next = physical[i]!;
      const nextNo = i + 1;
      i++;
      parseDirective(next, nextNo);
      logical.endLine = nextNo;
      if (isComment(next)) continue;
      if (trimLeftGoSpace(next) === '') {
        logical.emptyContinuation = true;
        continue;
      }
      const piece = trimContinuation(next, continuation);
      logical.segments.push({ offset: logical.text.length, line: nextNo, column: 1 });
      logical.text += piece.text;
      ended = !piece.continues;
    }
    i = readHeredocs(logical, withEndings, i, directives.escape);
    const check = checkComment(comments);
    if (check !== undefined) logical.check = check;
    comments = [];
    lines.push(logical);
  }
  return { directives, lines, lineCount: physical.length };
}

/** linter.WithMergedConfigFromComments: the first comment that reads as a `check` directive. */
function checkComment(comments: readonly string[]): string | undefined {
  for (const comment of comments) {
    const m = DIRECTIVE.exec(trimLeftGoSpace(comment));
    if (m && m[1]!.toLowerCase() === 'check') return checkOptions(m[2]!);
  }
  return undefined;
}

/**
 * Reads the bodies of the line's heredocs from physical line `i` on (parser.go Parse): each ends
 * at the first line that is its name (after its tabs, for `<<-`); returns the next line's index.
 */
function readHeredocs(logical: LogicalLine, raw: readonly string[], i: number, escape: EscapeToken): number {
  let words;
  try {
    words = heredocsOfLine(logical.text, escape);
  } catch (err) {
    if (err instanceof ExpansionError) throw new LocatedError(err.message, positionAt(logical, 0));
    throw err;
  }
  if (words.length === 0) return i;
  logical.heredocs = [];
  for (const word of words) {
    let content = '';
    let terminated = false;
    while (i < raw.length) {
      const line = raw[i]!;
      i++;
      logical.endLine = i;
      let candidate = trimNewline(line);
      if (word.chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === word.name) {
        terminated = true;
        break;
      }
      content += line;
    }
    if (!terminated) {
      throw new LocatedError(`unterminated heredoc ${word.word}: no line ${JSON.stringify(word.name)} ends it before the end of the file`, wordAt(logical, word.word));
    }
    logical.heredocs.push({ ...word, content });
  }
  return i;
}

function wordAt(line: LogicalLine, word: string): SourcePosition {
  return positionAt(line, Math.max(0, line.text.indexOf(word)));
}

/**
 * BuildKit's continuation test: the escape token, then only spaces or tabs, at the end of the
 * line, and not itself escaped (`foo \\` ends with an escaped backslash: no continuation).
 */
function continuationRegex(escape: EscapeToken): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimContinuation(line: string, re: RegExp): { text: string; continues: boolean } {
  if (!re.test(line)) return { text: line, continues: false };
  return { text: line.replace(re, '$1'), continues: true };
}

/** Where `offset` of a logical line came from in the source. */
export function positionAt(line: LogicalLine, offset: number): SourcePosition {
  let seg = line.segments[0]!;
  for (const s of line.segments) {
    if (s.offset <= offset) seg = s;
    else break;
  }
  return { line: seg.line, column: seg.column + Math.max(0, offset - seg.offset) };
}

