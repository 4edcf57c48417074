import { redact, redactHeld } from '../redact.js';

/**
 * Where a command's words go: results on stdout (JSON with --json), progress and warnings on
 * stderr, nothing but errors with --quiet (and a reading verb's answer, `data`). Progress redraws a line on a TTY and prints plain
 * start/end lines otherwise (TERM=dumb included), so CI logs stay readable.
 */
export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly isTTY: boolean;
  private liveLine = false;

  constructor(options: OutputOptions = {}, private readonly stdout: NodeJS.WriteStream = process.stdout, private readonly stderr: NodeJS.WriteStream = process.stderr) {
    this.json = Boolean(options.json);
    this.quiet = Boolean(options.quiet);
    // TERM=dumb (Emacs' shell, an editor's terminal pane) is a terminal that cannot move the
    // cursor or erase a line: it gets the plain lines a CI log gets, not escape sequences.
    this.isTTY = Boolean(stderr.isTTY) && process.env.TERM !== 'dumb' && !this.quiet;
  }

  /** Writes a JSON document on stdout as it is (an error report), secrets taken out. */
  writeJson(value: unknown): void {
    this.stdout.write(`${redact(JSON.stringify(value))}\n`);
  }

  /**
   * The command's result: a JSON document with --json, else the text lines. No lines (an empty
   * list) print nothing, as `umoci ls` and `crane ls` do: an empty line would be read by a
   * script's `while read` as one empty name.
   */
  result(text: string, data?: unknown): void {
    // What an image says (an Env value with a URL's user:password, a label) is shown as it is, as
    // `config` prints it: only the credentials ocipush holds are taken out of a result.
    if (this.json) this.stdout.write(`${redactHeld(JSON.stringify(data ?? text, null, 2))}\n`);
    else if (!this.quiet) this.lines(text);
  }

  private lines(text: string): void {
    if (text !== '') this.stdout.write(escapeWithinLines(redactHeld(text.endsWith('\n') ? text : `${text}\n`)));
  }

  /**
   * What a reading verb (`digest`, `ls`, `inspect`, …) was asked for: printed under --quiet too,
   * as `manifest`, `config` and `blob` print their bytes; -q silences the lines about it, never
   * the answer (`d=$(ocipush digest -q REF)` got an empty string and status 0).
   */
  data(text: string, data?: unknown): void {
    if (this.json) this.result(text, data);
    else this.lines(text);
  }

  /** A result in another tool's format (verify's -o, as cosign prints it), written as it is, held credentials taken out; silenced by --quiet as any result. */
  document(text: string): void {
    if (!this.quiet) this.stdout.write(redactHeld(text));
  }

  /** Information for a person (stderr), silenced by --quiet. */
  info(line: string): void {
    if (this.quiet) return;
    this.clearLive();
    this.stderr.write(`${escapeWithinLines(redact(line))}\n`);
  }

  warn(line: string): void {
    this.clearLive();
    this.stderr.write(`ocipush: warning: ${escapeControl(redact(line))}\n`);
  }

  /** One line, always: a newline or escape sequence inside (a user's value, a registry's words) is shown escaped. */
  error(line: string): void {
    this.clearLive();
    this.stderr.write(`ocipush: ${escapeControl(redact(line))}\n`);
  }

  /** A progress line that replaces itself on a TTY; ignored elsewhere (callers log start/end with info). */
  live(line: string): void {
    if (!this.isTTY) return;
    line = redact(line);
    const width = this.stderr.columns ?? 100;
    this.stderr.write(`\r\x1b[K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
    this.liveLine = true;
  }

  clearLive(): void {
    if (this.liveLine) {
      this.stderr.write('\r\x1b[K');
      this.liveLine = false;
    }
  }
}

/** `1 file`, `2 files`: a count with its noun. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Control characters shown as escapes (`\n`, `\x1b`), so a message stays one line and cannot drive the terminal. */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * What an image or a registry says (a label, an env value, an annotation, a tag a registry lists, a
 * file name an artifact gives) reaches the lines printed for it: an escape sequence in it would
 * drive the reader's terminal (clear it, retitle it, write its clipboard: `inspect` of a hostile
 * image did). Each line keeps its place; a control character within it is shown escaped.
 */
export function escapeWithinLines(text: string): string {
  return text.split('\n').map(escapeControl).join('\n');
}

/** A message the argument parser wrapped over lines, joined into one. */
export function oneLine(text: string): string {
  return text.split(/\s*\n\s*/).filter(Boolean).join(' ');
}

/**
 * Ends the process on Ctrl-C or SIGTERM with the conventional status (130, 143) and one line
 * saying what was stopped; temp files are removed first (src/content/cleanup.ts), so what the
 * command writes into is left as it was.
 */
export async function onInterrupt(out: Output, what: string, after?: string): Promise<void> {
  const { installSignalCleanup } = await import('../content/cleanup.js');
  installSignalCleanup((signal) => {
    const message = `${what} interrupted by ${signal}${after === undefined ? '' : `; ${after}`}`;
    out.error(message);
    // A pipeline reading --json gets its error document, as for any other failure.
    if (out.json) out.writeJson({ error: { code: 'EABORTED', message } });
  });
}
