import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Last-resort cleanup when a test file ends without calling stop() (a failed assertion before
 * the `finally`, an uncaught error). Only synchronous work is possible in an 'exit' handler, so
 * children get SIGKILL and temp dirs are removed with rmSync.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function cleanupNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', cleanupNow);
  // A signal ends the process without 'exit' handlers; clean up, then die of the same signal
  // (the once-listener is gone by then, so the default action applies).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.kill(process.pid, signal);
    });
  }
}

export function killOnExit(child: ChildProcess): () => void {
  install();
  children.add(child);
  return () => children.delete(child);
}

export function removeOnExit(dir: string): () => void {
  install();
  dirs.add(dir);
  return () => dirs.delete(dir);
}
