import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { callers, slices, summarize, type CpuProfile } from '../../scripts/bench/cpuprofile.js';
import { REPO_ROOT, tempDir } from '../support/tools.js';

/** root → main → hash, and root → (idle); five samples 1 ms apart: hash, hash, main, idle, hash. */
const PROFILE: CpuProfile = {
  startTime: 0,
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
    { id: 2, callFrame: { functionName: 'main', url: 'file:///repo/dist/src/cli/main.js', lineNumber: 9 }, children: [3] },
    { id: 3, callFrame: { functionName: 'hash', url: 'file:///repo/dist/src/oci/digest.js', lineNumber: 35 } },
    { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
  ],
  samples: [3, 3, 2, 4, 3],
  timeDeltas: [0, 1000, 1000, 1000, 1000],
};

test('self and inclusive time per function, over the run or a window of it', () => {
  const all = summarize(PROFILE);
  assert.equal(all.total, 4);
  assert.deepEqual(all.self, [
    { name: 'hash oci/digest.js:36', ms: 2 },
    { name: '(idle)', ms: 1 },
    { name: 'main cli/main.js:10', ms: 1 },
  ]);
  assert.deepEqual(all.inclusive.map((t) => [t.name, t.ms]), [['(root)', 4], ['main cli/main.js:10', 3], ['hash oci/digest.js:36', 2], ['(idle)', 1]]);
  const window = summarize(PROFILE, { from: 1.5, to: 3.5 });
  assert.equal(window.total, 2);
  assert.deepEqual(window.self.map((t) => t.name).sort(), ['(idle)', 'main cli/main.js:10']);
});

test('slices say how busy the thread was and what ran; callers give the stacks that led to a function', () => {
  assert.deepEqual(slices(PROFILE, 2).map((s) => [s.from, s.busy, s.functions.map((f) => f.name)]), [
    [0, 1, ['hash oci/digest.js:36']],
    [2, 0.5, ['main cli/main.js:10']],
    [4, 0, ['hash oci/digest.js:36']],
  ]);
  assert.deepEqual(callers(PROFILE, 'hash'), [{ name: 'hash oci/digest.js:36 < main cli/main.js:10 < (root)', ms: 2 }]);
});

test('reads a profile Node wrote, and finds the function that burned the time', async () => {
  const tmp = await tempDir('ocipush-cpuprofile-');
  try {
    // A fixed amount of work, not a time: tens of milliseconds on any machine, so many 1 ms samples.
    const burn = 'function burnCpu() { let x = 0; for (let i = 0; i < 5e7; i++) x += Math.sqrt(x + i); return x; } console.log(burnCpu());';
    assert.equal(spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', tmp.path, '-e', burn]).status, 0);
    const file = join(tmp.path, readdirSync(tmp.path)[0]!);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    assert.ok(summarize(profile).inclusive.some((t) => t.name.startsWith('burnCpu') && t.ms > 0));
    const cli = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bench', 'cpuprofile.js'), file, '--top', '5'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^inclusive:$/m);
    assert.match(cli.stdout, /burnCpu/);
  } finally {
    await tmp.cleanup();
  }
});
