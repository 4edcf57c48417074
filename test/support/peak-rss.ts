import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, run } from './tools.js';
import { readImage } from '../assemble/support.js';

/** Helpers for the memory tests: big incompressible files, and the peak RSS of a CLI run. */

export const MB = 1024 * 1024;

export const mib = (bytes: number): string => `${(bytes / MB).toFixed(0)} MiB`;

/**
 * Writes `size` random bytes to `path`, a MiB at a time: incompressible, so the blob is as large
 * as the file, and the test process never holds it whole.
 */
export function writeRandomFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(MB);
    for (let left = size; left > 0; left -= chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `ocipush ARGS` in a child process and returns its peak resident memory (VmHWM: every
 * thread, the compression workers included), read by the child itself once the command is done.
 */
export function cliPeakRss(args: string[]): number {
  const main = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')).href;
  const script = `
    import { readFileSync } from 'node:fs';
    const { main } = await import(${JSON.stringify(main)});
    const code = await main(${JSON.stringify(args)});
    const kb = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1];
    process.stdout.write(kb + '\\n');
    process.exitCode = code;`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ocipush ${args.join(' ')} failed: ${r.stderr}`);
  return Number(r.stdout.trim()) * 1024;
}

/** Asserts that the image tagged `latest` has one gzip layer in which GNU tar lists `name` with `size` bytes. */
export function assertOneLayerHolds(layout: string, name: string, size: number): void {
  const { manifest, blob } = readImage(layout);
  assert.equal(manifest.layers.length, 1, 'one layer');
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(run('tar', ['-tvzf', blob(manifest.layers[0]!.digest)]), new RegExp(` ${size} .* ${escaped}\\n$`));
}
