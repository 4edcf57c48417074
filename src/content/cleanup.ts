import { rmSync } from 'node:fs';

/**
 * Temp files that must not outlive the process: on Ctrl-C or SIGTERM they are removed before
 * exiting, so an interrupted build leaves the layout as it was.
 */
const pending = new Set<string>();
const atSignal = new Set<() => void>();
let installed = false;
let reporter: ((signal: NodeJS.Signals) => void) | undefined;

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
 * Installs SIGINT/SIGTERM handlers that clean up and exit with the conventional status. The handlers
 * are installed once; `onSignal` (what says the command was interrupted) replaces the one given
 * before, so a command's own words take over from the CLI's general line.
 */
export function installSignalCleanup(onSignal?: (signal: NodeJS.Signals) => void): void {
  if (onSignal) reporter = onSignal;
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      removeTrackedTemps();
      for (const fn of atSignal) {
        try { fn(); } catch { /* best effort while exiting */ }
      }
      reporter?.(signal);
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
  process.once('exit', removeTrackedTemps);
}
