import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, requireTool, tempDir } from '../support/tools.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'example.sh');
const ALL_STEPS = 'build, check by hand, oci-image-tool validate, umoci unpack, push, pull back, export + podman load, runc run, build -f Dockerfile';

// `npm run example` is the README's first command on a fresh machine. With every tool installed
// (as CI has them) and root, every step runs and the last line says so.
test('npm run example: build, check, validate, push, pull back, export, podman load and runc run the hello image', async () => {
  for (const tool of ['gcc', 'umoci', 'oci-image-tool', 'docker-registry', 'skopeo', 'podman', 'runc']) requireTool(tool);
  assert.equal(process.getuid?.(), 0, 'this test runs as root, as CI does');
  const tmp = await tempDir('ocipush-example-test-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp.path, OCIPUSH_EXAMPLE_INSTALL: 'no' };
    delete env.REGISTRY;
    delete env.KEEP;
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env, cwd: REPO_ROOT, timeout: 300_000 });
    assert.equal(r.status, 0, `example failed:\n${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    assert.match(out, /ok: .*\/rootfs\/hello \(\d+ bytes\) prints: hello world/);
    assert.match(out, /ok: \S+ = sha256:[0-9a-f]{64}/);
    assert.match(out, /ok: manifest, config and layer match their digests/);
    assert.match(out, /Validation succeeded/);
    assert.match(out, /ok: umoci unpacked/);
    assert.match(out, /ok: pushed 127\.0\.0\.1:\d+\/hello:0\.1 = sha256:[0-9a-f]{64}/);
    assert.match(out, /ok: ocipush pull: manifest, config and layer came back byte for byte/);
    assert.match(out, /ok: skopeo inspect docker:\/\/127\.0\.0\.1:\d+\/hello:0\.1: the same manifest/);
    assert.match(out, /Loaded image: localhost\/hello:0\.1/);
    assert.match(out, /ok: the container printed: hello world/);
    assert.match(out, /its layer is the rootfs build's/);
    assert.doesNotMatch(out, /NOT RUN|skipped/i);
    assert.equal(out.trimEnd().split('\n').at(-1), `    ok: the example ran end to end: ${ALL_STEPS}`);
    // Its work directory (and podman's runroot, made in TMPDIR too) is gone.
    assert.deepEqual(readdirSync(tmp.path), []);
  } finally {
    await tmp.cleanup();
  }
});

/** A directory of links to every command on PATH except `without`: PATH with those tools gone. */
function strippedPath(dir: string, without: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d || !existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      if (without.includes(name) || existsSync(join(dir, name))) continue;
      symlinkSync(join(d, name), join(dir, name));
    }
  }
  chmodSync(dir, 0o755);
  return dir;
}

// A machine without the registry (docker-registry gone from PATH, no Docker engine) where the
// script may not install: it stops before running anything, exit 1, with the one command that
// fixes it. Before, it skipped the push and ended "the example ran end to end", exit 0.
test('npm run example: a missing tool it may not install stops it before any step, with the command that installs it', async () => {
  const tmp = await tempDir('ocipush-example-test-');
  try {
    const path = strippedPath(join(tmp.path, 'bin'), ['docker-registry', 'docker']);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: path, TMPDIR: tmp.path };
    delete env.REGISTRY;
    delete env.OCIPUSH_EXAMPLE_INSTALL;
    const r = spawnSync('bash', [SCRIPT, '--no-install'], { encoding: 'utf8', env, cwd: REPO_ROOT, timeout: 60_000 });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^example: missing: (\S+ )*docker-registry\b.*installing is switched off/m);
    assert.match(r.stderr, /^ {4}apt-get update && apt-get install -y --no-install-recommends (\S+ )*docker-registry\b/m);
    assert.doesNotMatch(r.stdout, /==> ocipush build|ok: the example ran|ok: ran:/);
    assert.deepEqual(readdirSync(tmp.path), ['bin'], 'no work directory was made');

    // Not root: the same, the command through sudo. (The script alone is copied where any user
    // can read it: it stops at the tool check, before it needs the checkout.)
    if (process.getuid?.() === 0) {
      requireTool('setpriv');
      const copy = join(tmp.path, 'checkout', 'scripts');
      mkdirSync(copy, { recursive: true });
      copyFileSync(SCRIPT, join(copy, 'example.sh'));
      chmodSync(tmp.path, 0o755);
      const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', join(copy, 'example.sh')], {
        encoding: 'utf8', env: { ...env, HOME: tmp.path }, cwd: tmp.path, timeout: 60_000,
      });
      assert.equal(nobody.status, 1, `${nobody.stdout}\n${nobody.stderr}`);
      assert.match(nobody.stderr, /not running as root, so nothing was run/);
      assert.match(nobody.stderr, /^ {4}sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends (\S+ )*docker-registry\b.*'$/m);
    }
  } finally {
    await tmp.cleanup();
  }
});
