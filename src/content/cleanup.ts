import { setMaxListeners } from 'node:events';
import { rmSync } from 'node:fs';

/**
 * Temp files that must not outlive the process: on Ctrl-C or SIGTERM they are removed before
 * exiting, so an interrupted build leaves the layout as it was.
 */
const pending = new Set<string>();
const atSignal = new Set<() => void>();
let installed = false;
let reporter: ((signal: NodeJS.Signals) => void) | undefined;
/** The signal that is ending the process, once one has come. */
let endingBy: NodeJS.Signals | undefined;
/** Fired by the signal: work that left state elsewhere (an upload session in a registry) stops and undoes it. */
const interruption = new AbortController();
// Every upload in flight listens (copy --all-tags --jobs 4 runs 16): Node's warning past 10 would be no leak.
setMaxListeners(0, interruption.signal);
/** What the exit waits for after a signal: the DELETEs of the upload sessions the stopped uploads held. */
const holding = new Set<Promise<unknown>>();

/**
 * How long a signal's exit waits for that work, all of it: Ctrl-C must feel immediate, and a
 * session left behind only costs the registry until it purges stale uploads (each DELETE is
 * bounded to 2 s on its own, registry/blobs.ts).
 */
export const EXIT_GRACE_MS = 3000;

export function trackTemp(path: string): () => void {
  pending.add(path);
  return () => { pending.delete(path); };
}

export function removeTrackedTemps(): void {
  for (const path of pending) {
    try { rmSync(path, { force: true, recursive: true }); } catch { /* best effort while exiting */ }
  }
  pending.clear();
}

/** Runs `fn` (synchronous, best effort) when a signal ends the process, after the temps are removed. */
export function onSignalExit(fn: () => void): () => void {
  atSignal.add(fn);
  return () => { atSignal.delete(fn); };
}

/**
 * Aborted when a signal ends a process whose handlers `installSignalCleanup` installed (the CLI's);
 * a library user's process has none, and this never fires there.
 */
export function interruptSignal(): AbortSignal {
  return interruption.signal;
}

/** The signal ending the process, or undefined: a command's own failure after it is not reported. */
export function interruptedBy(): NodeJS.Signals | undefined {
  return endingBy;
}

/**
 * The exit on a signal waits for `work` to settle (at most EXIT_GRACE_MS for all of it): started
 * before the signal, it has seen `interruptSignal` fire and is undoing what it began.
 */
export function holdExitFor(work: Promise<unknown>): void {
  if (!installed) return;
  const held = work.then(() => {}, () => {});
  holding.add(held);
  void held.then(() => holding.delete(held));
}

/**
 * Installs SIGINT/SIGTERM handlers that clean up and exit with the conventional status. The handlers
 * are installed once; `onSignal` (what says the command was interrupted) replaces the one given
 * before, so a command's own words take over from the CLI's general line.
 */
export function installSignalCleanup(onSignal?: (signal: NodeJS.Signals) => void): void {
  if (onSignal) reporter = onSignal;
  if (installed) return;
  installed = true;
  const end = (status: number): never => {
    removeTrackedTemps();
    for (const fn of atSignal) {
      try { fn(); } catch { /* best effort while exiting */ }
    }
    return process.exit(status);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const status = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1);
      // A second Ctrl-C while upload sessions are being cancelled: no more waiting.
      if (endingBy !== undefined) end(status);
      endingBy = signal;
      reporter?.(signal);
      interruption.abort();
      if (holding.size === 0) end(status);
      // The temps and the lock go only at the exit: until then the command still runs, and no
      // new change to a layout starts (lock.ts refuses the lock once a signal came).
      setTimeout(() => end(status), EXIT_GRACE_MS);
      void Promise.all(holding).then(() => end(status));
    });
  }
  process.once('exit', removeTrackedTemps);
}
