import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { progressReporter } from '../../src/cli/build-report.js';
import { Output } from '../../src/cli/output.js';
import { clockAheadEnv, runCli, tempDir } from '../support/tools.js';
import { pseudoRandom } from '../assemble/support.js';

function capture(isTTY = false): { stream: NodeJS.WriteStream; lines: () => string[] } {
  let text = '';
  const stream = { isTTY, columns: 100, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

test('off a terminal, a build logs each layer\'s start, then a progress line at a steady interval (injected clock)', () => {
  const err = capture();
  const out = new Output({}, capture().stream, err.stream);
  let now = 1_000_000;
  const report = progressReporter(out, { now: () => now, logEveryMs: 10_000 });
  const step = (layer: number, ms: number, bytes: number) => {
    now += ms;
    report({ layer, layers: 2, source: layer === 0 ? './big' : './app', bytes, entries: bytes / 1024 });
  };
  step(0, 0, 0);
  step(0, 4_000, 4 * 1024 * 1024);
  step(0, 5_999, 8 * 1024 * 1024); // 9.999 s after the start: not yet
  step(0, 1, 10 * 1024 * 1024); // 10 s
  step(0, 9_000, 12 * 1024 * 1024);
  step(0, 1_000, 20 * 1024 * 1024); // 20 s
  step(1, 500, 0);
  step(1, 100, 1024);
  assert.deepEqual(err.lines(), [
    'building layer 1/2 ./big',
    'layer 1/2 ./big: 10.0 MiB, 10240 entries (1.0 MiB/s)',
    'layer 1/2 ./big: 20.0 MiB, 20480 entries (1.0 MiB/s)',
    'building layer 2/2 ./app',
  ]);
});

test('--quiet: no progress at all', () => {
  const err = capture();
  const report = progressReporter(new Output({ quiet: true }, capture().stream, err.stream), { now: () => 0, logEveryMs: 0 });
  report({ layer: 0, layers: 1, source: '.', bytes: 0 });
  report({ layer: 0, layers: 1, source: '.', bytes: 10 });
  assert.deepEqual(err.lines(), []);
});

test('ocipush build in CI prints a line when each layer starts and progress lines (OCIPUSH_PROGRESS_INTERVAL)', async () => {
  const tmp = await tempDir();
  try {
    const one = join(tmp.path, 'one');
    const two = join(tmp.path, 'two');
    for (const dir of [one, two]) {
      mkdirSync(dir);
      writeFileSync(join(dir, 'data.bin'), pseudoRandom(3 * 1024 * 1024, dir));
    }
    const r = runCli(['build', one, two, '--layout', join(tmp.path, 'layout')], { env: { OCIPUSH_PROGRESS_INTERVAL: '0' } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n');
    assert.equal(lines.filter((l) => l === `building layer 1/2 ${one}`).length, 1, r.stderr);
    assert.equal(lines.filter((l) => l === `building layer 2/2 ${two}`).length, 1, r.stderr);
    assert.ok(lines.some((l) => l.startsWith(`layer 1/2 ${one}: `) && l.endsWith('/s)')), r.stderr);
    assert.ok(lines.indexOf(`building layer 1/2 ${one}`) < lines.indexOf(`building layer 2/2 ${two}`));
    const bad = runCli(['build', one, '--layout', join(tmp.path, 'layout')], { env: { OCIPUSH_PROGRESS_INTERVAL: 'soon' } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^ocipush: OCIPUSH_PROGRESS_INTERVAL="soon": expected seconds/);
  } finally {
    await tmp.cleanup();
  }
});

test('--no-cache skips reading the layer cache but writes it; a hit is shown in the output and in --json (source)', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'data.bin'), pseudoRandom(256 * 1024));
    // The cache trusts no tree changed in the 2 s before a build: the builds' clock is ahead.
    const env = clockAheadEnv();
    const layout = join(tmp.path, 'layout');
    const cold = runCli(['build', rootfs, '--layout', layout, '--no-cache', '--json'], { env });
    assert.equal(cold.status, 0, cold.stderr);
    assert.equal((JSON.parse(cold.stdout) as { layers: { source: string }[] }).layers[0]!.source, 'built');
    assert.doesNotMatch(cold.stderr, /from the layer cache/);
    const again = runCli(['build', rootfs, '--layout', layout, '--no-cache', '--json'], { env });
    assert.equal((JSON.parse(again.stdout) as { layers: { source: string }[] }).layers[0]!.source, 'built', '--no-cache never reads it');
    const warm = runCli(['build', rootfs, '--layout', layout, '--json'], { env });
    assert.equal(warm.status, 0, warm.stderr);
    assert.equal((JSON.parse(warm.stdout) as { layers: { source: string }[] }).layers[0]!.source, 'local-cache', 'the --no-cache build recorded its layer');
    assert.match(warm.stderr, /^layer 1\/1 sha256:[0-9a-f]{64} .*, from the layer cache\)$/m);
  } finally {
    await tmp.cleanup();
  }
});
