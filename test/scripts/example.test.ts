import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, requireTool, tempDir } from '../support/tools.js';

// `npm run example` is the README's first command on a fresh machine: it must keep working as the
// commands land. With every tool installed (as CI has them), no tool step may be skipped.
test('npm run example: build, check, validate, push, export, podman load and runc run the hello image', async () => {
  for (const tool of ['gcc', 'umoci', 'oci-image-tool', 'docker-registry', 'skopeo', 'podman', 'runc']) requireTool(tool);
  const tmp = await tempDir('ocipush-example-test-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp.path };
    delete env.REGISTRY;
    delete env.KEEP;
    const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'example.sh')], { encoding: 'utf8', env, cwd: REPO_ROOT, timeout: 300_000 });
    assert.equal(r.status, 0, `example failed:\n${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    assert.match(out, /ok: .*\/rootfs\/hello \(\d+ bytes\) prints: hello world/);
    assert.match(out, /ok: \S+ = sha256:[0-9a-f]{64}/);
    assert.match(out, /ok: manifest, config and layer match their digests/);
    assert.match(out, /Validation succeeded/);
    assert.match(out, /ok: umoci unpacked/);
    const commands = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'ocipush.js'), '--help'], { encoding: 'utf8' }).stdout;
    if (/^ {2}ocipush push /m.test(commands)) assert.match(out, /ok: skopeo inspect docker:\/\/127\.0\.0\.1:\d+\/hello:0\.1: the same manifest/);
    if (/^ {2}ocipush export /m.test(commands)) assert.match(out, /Loaded image: localhost\/hello:0\.1/);
    assert.match(out, /ok: the container printed: hello world/);
    assert.match(out, /ok: the example ran end to end/);
    const skipped = out.split('\n').filter((l) => l.includes('skipped:'));
    for (const line of skipped) assert.match(line, /this checkout('s build)? has no/, `a tool step was skipped: ${line}`);
    // Its work directory (and podman's runroot, made in TMPDIR too) is gone.
    assert.deepEqual(readdirSync(tmp.path), []);
  } finally {
    await tmp.cleanup();
  }
});
