import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
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
 * The child sets the V8 flags bin/ocipush.js sets before anything else loads: without
 * `--liftoff-only`, V8 may recompile undici's WebAssembly parser in the background while a push
 * runs (40 MB, later under load), and the figure would be a process users never run.
 */
export function cliPeakRss(args: string[]): number {
  const flags = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'cli', 'runtime-flags.js')).href;
  const main = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')).href;
  const script = `
    import { readFileSync } from 'node:fs';
    await import(${JSON.stringify(flags)});
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

/** A layout whose image `v1` has one layer of `size` random bytes (the registry does not unpack layers). */
export async function randomLayerLayout(dir: string, size: number): Promise<string> {
  const data = `${dir}.bin`;
  writeRandomFile(data, size);
  const layout = await OciLayout.open(dir, { create: true });
  const writer = await layout.ingest();
  await pipeline(createReadStream(data), writer.stream);
  const { digest } = await writer.commit();
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest] } });
  const manifest = await layout.putJson(MediaType.OciManifest, {
    schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [{ mediaType: MediaType.OciLayerGzip, digest, size }],
  });
  await layout.tag(manifest, 'v1');
  return dir;
}
