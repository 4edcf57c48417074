import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags a program chose for its whole process (the CLI does; a program using ocipush as a
 * library chooses its own). Node resets V8's flags whenever a worker thread starts, so the code
 * that starts workers calls reapplyProcessFlags() once each is online.
 */
const chosen: string[] = [];

export function setProcessFlags(...flags: string[]): void {
  for (const flag of flags) {
    setFlagsFromString(flag);
    if (!chosen.includes(flag)) chosen.push(flag);
  }
}

export function reapplyProcessFlags(): void {
  for (const flag of chosen) setFlagsFromString(flag);
}

let fullCollections: 'no' | 'allowed' | (() => void) = 'no';

/**
 * The CLI lets its commands ask for a full garbage collection where they know most of the old
 * generation has just become garbage; a program using ocipush as a library keeps its collector to
 * itself (collectGarbage() does nothing there).
 */
export function allowFullCollections(): void {
  if (fullCollections === 'no') fullCollections = 'allowed';
}

/**
 * A full collection now, where the CLI allowed it. With the young generation kept small (the
 * CLI's `--semi-space-growth-factor=1`), what a large plan allocates is promoted and stays
 * until a full collection, which a process that then only streams bytes may never run.
 */
export function collectGarbage(): void {
  if (fullCollections === 'no') return;
  if (fullCollections === 'allowed') {
    // Node's way to reach V8's collector without starting with --expose-gc: a context made after the flag has `gc`.
    setFlagsFromString('--expose-gc');
    // node:vm loaded here, not at start-up: every CLI run imports this module, few ever collect.
    const { runInNewContext } = createRequire(import.meta.url)('node:vm') as typeof import('node:vm');
    fullCollections = runInNewContext('gc') as () => void;
  }
  fullCollections();
}
