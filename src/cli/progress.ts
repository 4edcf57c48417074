import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import { redact } from '../redact.js';
import { OcipushError } from '../errors.js';
import { escapeWithinLines, formatBytes, type Output } from './output.js';

/** How a finished transfer is told, per direction. */
export interface ProgressWords {
  /** `pushing` / `pulling`, for a transfer under way. */
  active: string;
  /** What an 'uploaded' outcome is called (`uploaded`, `downloaded`). */
  transferred: string;
}

interface Active {
  label: string;
  size: number;
  bytes: number;
  started: number;
}

const REDRAW_MS = 100;
/** Off a terminal (CI logs): the time between two progress lines of a build's layer or of the blobs in flight. */
export const LOG_PROGRESS_EVERY_MS = 10_000;

/** `OCIPUSH_PROGRESS_INTERVAL` (seconds between progress lines off a terminal), else the default. */
export function logProgressInterval(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.OCIPUSH_PROGRESS_INTERVAL;
  if (text === undefined || text === '') return LOG_PROGRESS_EVERY_MS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new OcipushError('EUSAGE', `OCIPUSH_PROGRESS_INTERVAL=${JSON.stringify(text)}: expected seconds (e.g. 10, or 0 for every step)`);
  }
  return seconds * 1000;
}

/** How often a log hears of the blobs in flight, and the clock (tests give their own). */
export interface TransferProgressOptions {
  logEveryMs?: number;
  now?: () => number;
}

/**
 * Progress of a copy on stderr. On a terminal: one bar per blob in flight, with bytes and rate,
 * redrawn in place, and a permanent line as each finishes. Elsewhere (CI logs): one line when a
 * blob starts and one when it ends, and every `logEveryMs` (OCIPUSH_PROGRESS_INTERVAL, as a
 * build's) a line per blob in flight, so a long upload is never silent (CI services end a job
 * that printed nothing for ten minutes). Nothing at all with --quiet.
 */
export class TransferProgress {
  private readonly active = new Map<string, Active>();
  private drawnLines = 0;
  private lastDraw = 0;
  private timer?: NodeJS.Timeout;
  private root?: { digest: string; tag: string };
  private readonly now: () => number;
  private readonly logEveryMs: number;
  private lastLog: number;

  constructor(private readonly out: Output, private readonly words: ProgressWords, private readonly stream: NodeJS.WriteStream = process.stderr, options: TransferProgressOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logEveryMs = options.logEveryMs ?? logProgressInterval();
    this.lastLog = this.now();
  }

  handle = (event: CopyEvent): void => {
    if (this.out.quiet) return;
    const digest = event.descriptor.digest;
    switch (event.type) {
      case 'start': {
        const label = `${event.kind} ${shortDigest(digest)}`;
        this.active.set(digest, { label, size: event.descriptor.size, bytes: 0, started: this.now() });
        if (!this.out.isTTY && event.kind !== 'manifest' && event.kind !== 'index') {
          this.out.info(`${this.words.active} ${label} (${formatBytes(event.descriptor.size)})`);
        }
        this.schedule();
        break;
      }
      case 'progress': {
        const entry = this.active.get(digest);
        if (entry) entry.bytes = event.bytes;
        if (!this.out.isTTY) this.logInFlight();
        this.schedule();
        break;
      }
      case 'notice':
        this.permanent(`${event.kind} ${shortDigest(digest)}: ${event.message.replace(`${digest}: `, '')}`);
        break;
      case 'done': {
        const entry = this.active.get(digest);
        this.active.delete(digest);
        this.permanent(this.doneLine(event.kind, digest, event.descriptor.size, event.outcome, entry));
        break;
      }
    }
  };

  /** The copy puts this manifest under `tag`: when it was there already, the line says it was tagged. */
  tagging(digest: string, tag: string | undefined): void {
    this.root = tag === undefined ? undefined : { digest, tag };
  }

  /** A line for the log (retries the HTTP layer reports). */
  notice(line: string): void {
    if (this.out.quiet) return;
    this.permanent(line);
  }

  /** Clears the bars; call once the copy ended, well or not. */
  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.active.clear();
    this.erase();
  }

  private doneLine(kind: NodeKind, digest: string, size: number, outcome: CopyOutcome, entry: Active | undefined): string {
    const what = `${kind} ${shortDigest(digest)} (${formatBytes(size)})`;
    switch (outcome) {
      // A root that was put under its tag started; one whose tag already named it did not.
      case 'exists': return this.root?.digest === digest && entry ? `${what} tagged ${this.root.tag} (the manifest was already there)` : `${what} already there`;
      case 'mounted': return `${what} mounted`;
      case 'skipped': return `${what} skipped (foreign layer)`;
      case 'uploaded': {
        const seconds = entry ? (this.now() - entry.started) / 1000 : 0;
        return seconds >= 0.5 ? `${what} ${this.words.transferred} in ${seconds.toFixed(1)} s` : `${what} ${this.words.transferred}`;
      }
    }
  }

  /** Off a terminal, once per interval: how far each blob in flight has come. */
  private logInFlight(): void {
    const at = this.now();
    if (at - this.lastLog < this.logEveryMs) return;
    this.lastLog = at;
    for (const entry of this.active.values()) {
      if (entry.bytes === 0) continue;
      const rate = formatBytes(entry.bytes / Math.max(0.001, (at - entry.started) / 1000));
      this.out.info(`${this.words.active} ${entry.label}: ${formatBytes(entry.bytes)} / ${formatBytes(entry.size)} (${rate}/s)`);
    }
  }

  private permanent(line: string): void {
    if (!this.out.isTTY) {
      this.out.info(line);
      return;
    }
    this.erase();
    // As Output.info writes it off a terminal: a registry's words in a notice (why an upload
    // starts again) neither carry a credential nor drive the terminal.
    this.stream.write(`${escapeWithinLines(redact(line))}\n`);
    this.draw();
  }

  private schedule(): void {
    if (!this.out.isTTY || this.timer) return;
    const wait = Math.max(0, REDRAW_MS - (Date.now() - this.lastDraw));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.erase();
      this.draw();
    }, wait);
    this.timer.unref();
  }

  private erase(): void {
    if (this.drawnLines > 0) {
      this.stream.write(`\x1b[${this.drawnLines}A\r\x1b[J`);
      this.drawnLines = 0;
    }
  }

  private draw(): void {
    this.lastDraw = Date.now();
    // Never wider than the terminal: a bar that wraps takes two rows, and the redraw, which moves
    // up one row per bar, leaves the first of them behind, a copy at every redraw.
    const width = Math.max(1, (this.stream.columns || 100) - 1);
    const lines: string[] = [];
    for (const entry of this.active.values()) lines.push(barLine(entry, width));
    if (lines.length === 0) return;
    // Never taller either: the cursor cannot move up past the top of the screen, so bars above it
    // (--concurrency 32 in 24 rows) were never erased. The rest are counted in one line.
    const room = Math.max(2, (this.stream.rows || 50) - 1);
    if (lines.length > room) lines.splice(room - 1, lines.length, `… and ${lines.length - room + 1} more`.slice(0, width));
    this.out.clearLive();
    this.stream.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }
}

function barLine(entry: Active, width: number): string {
  const seconds = Math.max(0.001, (Date.now() - entry.started) / 1000);
  const rate = `${formatBytes(entry.bytes / seconds)}/s`;
  const amount = `${formatBytes(entry.bytes)} / ${formatBytes(entry.size)}`;
  const text = ` ${amount}  ${rate}`;
  const barWidth = Math.max(10, Math.min(30, width - entry.label.length - text.length - 3));
  const filled = entry.size > 0 ? Math.min(barWidth, Math.round((entry.bytes / entry.size) * barWidth)) : barWidth;
  const bar = `[${'='.repeat(filled)}${' '.repeat(barWidth - filled)}]`;
  const line = `${entry.label} ${bar}${text}`;
  return line.length > width ? line.slice(0, width) : line;
}

/** `sha256:` and 12 hex digits, as docker shows layer ids. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

/** `, 1 foreign layer left at its URLs`: what a pull or copy leaves out, as crane and skopeo do. */
export function foreignNote(count: number): string {
  return count === 0 ? '' : `, ${count} foreign layer${count === 1 ? '' : 's'} left at ${count === 1 ? 'its' : 'their'} URLs`;
}
