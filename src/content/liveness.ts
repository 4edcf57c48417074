import { readFileSync, readlinkSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LEGACY_TEMP_MAX_AGE_MS } from './layout-files.js';

/**
 * Whether the owner of a lock or of an ingest session (another ocipush process, perhaps in
 * another container sharing the layout through a volume) is still there.
 *
 * Every owner writes who it is ({@link Owner}) and keeps the file's mtime fresh (a heartbeat,
 * {@link keepAlive}). Another process judges it:
 * - in the same PID namespace of the same boot (the `scope`), by its PID and that process's start
 *   time, so a killed owner is seen at once and a reused PID is not mistaken for it;
 * - anywhere else (another container, another host, an owner written by an older ocipush), by the
 *   heartbeat alone: gone once the file has not been touched for `staleMs`.
 */
export interface Owner {
  /** Unique per lock or session. */
  token: string;
  pid: number;
  host: string;
  /** boot id + PID namespace: where `pid` means something. */
  scope?: string;
  /** The process's start time (clock ticks since boot), against PID reuse. */
  start?: string;
}

export interface LivenessOptions {
  /** The clock heartbeats are judged by (ms since the epoch); tests move it. Default Date.now. */
  now?: () => number;
  /** An owner whose heartbeat is older than this is gone. Default {@link DEFAULT_STALE_MS}. */
  staleMs?: number;
}

export const DEFAULT_STALE_MS = 30_000;
/** How often a live owner touches its file: many times within the stale threshold. */
export const HEARTBEAT_MS = 3_000;

let selfScope: { scope?: string; start?: string } | undefined;

function ownScope(): { scope?: string; start?: string } {
  if (selfScope) return selfScope;
  selfScope = {};
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidns = readlinkSync('/proc/self/ns/pid');
    selfScope.scope = `${boot}/${pidns}`;
    const start = startTime(process.pid);
    if (start !== undefined) selfScope.start = start;
  } catch {
    // Not Linux, or /proc hidden: heartbeats only.
  }
  return selfScope;
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function newToken(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
}

/** This process, as an owner with a fresh token. */
export function currentOwner(token = newToken()): Owner {
  const { scope, start } = ownScope();
  return { token, pid: process.pid, host: hostname(), ...(scope ? { scope } : {}), ...(start ? { start } : {}) };
}

/** Parses an owner file; undefined for anything else (empty, half-written, an older format). */
export function parseOwner(text: string): Owner | undefined {
  try {
    const v = JSON.parse(text) as Partial<Owner>;
    if (typeof v?.token === 'string' && Number.isSafeInteger(v.pid) && typeof v.host === 'string') return v as Owner;
  } catch { /* not an owner */ }
  return undefined;
}

/**
 * Whether the owner is gone. `owner` undefined (an unreadable or foreign marker) and owners from
 * another scope are judged by the heartbeat `mtimeMs` alone.
 */
export function ownerGone(owner: Owner | undefined, mtimeMs: number, options: LivenessOptions = {}): boolean {
  const own = ownScope();
  if (judgedByPid(owner)) {
    if (owner.pid === process.pid) return owner.start !== undefined && own.start !== undefined && owner.start !== own.start;
    if (processGone(owner.pid)) return true;
    const start = startTime(owner.pid);
    // Alive, unless the PID now belongs to another process.
    return start !== undefined && owner.start !== undefined && start !== owner.start;
  }
  const now = (options.now ?? Date.now)();
  return now - mtimeMs > (options.staleMs ?? DEFAULT_STALE_MS);
}

/** Whether no process of this PID namespace has `pid` (a signal 0 to it finds none). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether the writer of a temp file or directory named with its PID (`.NAME.tmp-PID-HEX`), whose
 * heartbeat last touched it at `mtimeMs`, is gone: silent for the stale period and its PID gone,
 * or silent for an hour whatever its PID (another container's means nothing here).
 */
export function tempWriterGone(pid: number, mtimeMs: number, now = Date.now()): boolean {
  const silent = now - mtimeMs;
  return silent > DEFAULT_STALE_MS && (silent > LEGACY_TEMP_MAX_AGE_MS || processGone(pid));
}

/** Whether `owner` is judged by its PID (this PID namespace of this boot), not by its heartbeat alone. */
export function judgedByPid(owner: Owner | undefined): owner is Owner {
  return owner?.scope !== undefined && owner.scope === ownScope().scope;
}

/** `pid N on HOST` for messages. */
export function describeOwner(owner: Owner | undefined): string {
  return owner ? `pid ${owner.pid} on ${owner.host}` : 'an unknown process';
}

const beating = new Set<string>();
let timer: NodeJS.Timeout | undefined;

/**
 * Touches `path` every {@link HEARTBEAT_MS} until the returned function is called. The timer
 * never keeps the process alive.
 */
export function keepAlive(path: string): () => void {
  beating.add(path);
  if (!timer) {
    timer = setInterval(() => {
      const now = new Date();
      for (const p of beating) utimes(p, now, now).catch(() => {});
    }, HEARTBEAT_MS);
    timer.unref();
  }
  return () => {
    beating.delete(path);
    if (beating.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
