import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, requireTool, run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { runImage } from '../support/runc.js';
import { startCli } from './registry-support.js';
import { buildStaticHello, readImage, snapshotDir, validateLayout } from '../assemble/support.js';

function smallRootfs(dir: string): string {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'hostname'), 'ocipush\n');
  return dir;
}


function assertOk(r: RunResult): void {
  assert.equal(r.status, 0, `exit status (stderr: ${r.stderr})`);
}

function assertOneLineError(r: RunResult, pattern: RegExp, status = 1): void {
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  // Off a terminal a build logs each layer's start (`building layer 1/2 …`) before any error.
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('building layer '));
  assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

test('build prints the digest, size and tag; --json and --quiet as documented', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = smallRootfs(join(tmp.path, 'rootfs'));
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', rootfs, '--layout', layout]);
    assert.equal(r.status, 0, r.stderr);
    const image = readImage(layout);
    assert.match(r.stdout, new RegExp(`^tag: +latest$`, 'm'));
    assert.match(r.stdout, new RegExp(`^digest: +${image.digest}$`, 'm'));
    assert.match(r.stdout, /^size: +\d+$/m);
    assert.match(r.stderr, /^layer 1\/1 sha256:[0-9a-f]{64} /m);

    const q = runCli(['build', rootfs, '--layout', layout, '--tag', 'quiet', '--quiet']);
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout, '');
    assert.equal(q.stderr, '');

    const j = runCli(['build', rootfs, '--layout', layout, '--tag', 'json', '--json']);
    assert.equal(j.status, 0, j.stderr);
    const result = JSON.parse(j.stdout) as Record<string, any>;
    assert.deepEqual(Object.keys(result).sort(), ['config', 'digest', 'layers', 'layout', 'mediaType', 'size', 'tag']);
    assert.equal(result.digest, image.digest, 'the same rootfs gives the same image');
    assert.equal(result.tag, 'json');
    assert.equal(result.layout, layout);
    assert.equal(result.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(Object.keys(result.layers[0]).sort(), ['diffId', 'digest', 'mediaType', 'size', 'source', 'uncompressedSize']);
    assert.deepEqual(Object.keys(result.config).sort(), ['digest', 'size']);
    validateLayout(layout);
  } finally {
    await tmp.cleanup();
  }
});

test('with no --layout the build goes to ./oci-layout, or to $OCIPUSH_LAYOUT', async () => {
  const tmp = await tempDir();
  try {
    smallRootfs(join(tmp.path, 'rootfs'));
    const r = runCli(['build', 'rootfs', '-q'], { cwd: tmp.path, env: { OCIPUSH_LAYOUT: '' } });
    assert.equal(r.status, 0, r.stderr);
    validateLayout(join(tmp.path, 'oci-layout'));
    const e = runCli(['build', 'rootfs', '-q'], { cwd: tmp.path, env: { OCIPUSH_LAYOUT: join(tmp.path, 'from-env') } });
    assert.equal(e.status, 0, e.stderr);
    validateLayout(join(tmp.path, 'from-env'));
  } finally {
    await tmp.cleanup();
  }
});

test('ocipush build . leaves out the layout it writes into', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = smallRootfs(join(tmp.path, 'project'));
    const first = runCli(['build', '.', '--json'], { cwd: rootfs, env: { OCIPUSH_LAYOUT: '' } });
    assertOk(first);
    assert.match(first.stderr, /warning: layout .*oci-layout is inside rootfs .*project: left out of the layer/);
    const second = runCli(['build', '.', '--json', '--tag', 'again'], { cwd: rootfs, env: { OCIPUSH_LAYOUT: '' } });
    assertOk(second);
    const [a, b] = [first, second].map((r) => JSON.parse(r.stdout) as { layers: { diffId: string }[] });
    assert.equal(b!.layers[0]!.diffId, a!.layers[0]!.diffId, 'the layout (now existing) is not in the layer');
    validateLayout(join(rootfs, 'oci-layout'));
  } finally {
    await tmp.cleanup();
  }
});

test('ocipush build -t app . beside a Dockerfile, as docker build is typed: the directory is layered, with a line naming build -f', async () => {
  const tmp = await tempDir();
  try {
    const project = smallRootfs(join(tmp.path, 'project'));
    writeFileSync(join(project, 'Dockerfile'), 'FROM scratch\nCOPY etc /etc\n');
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', '-t', 'app', '.', '--layout', layout], { cwd: project });
    assertOk(r);
    assert.match(r.stderr, /^ocipush: warning: Dockerfile: \. is built as a root filesystem, its Dockerfile a file in the layer; to build from the Dockerfile: ocipush build -f Dockerfile \.$/m);
    // As documented: the directory is the layer, its Dockerfile one of its files (umoci unpacks it).
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:app`, bundle]);
    assert.ok(existsSync(join(bundle, 'rootfs', 'Dockerfile')));
    assert.doesNotMatch(runCli(['build', '-t', 'quiet', '.', '--layout', layout, '-q'], { cwd: project }).stderr, /warning/);
    assert.doesNotMatch(runCli(['build', '-t', 'two', '.', join(project, 'etc'), '--layout', layout], { cwd: project }).stderr, /Dockerfile/);
    assert.doesNotMatch(runCli(['build', '-t', 'file', '-f', 'Dockerfile', '.', '--layout', layout], { cwd: project }).stderr, /warning/);
    // A lowercase dockerfile, which docker build and BuildKit read when there is no Dockerfile: the same line, naming it.
    const lower = smallRootfs(join(tmp.path, 'lower'));
    writeFileSync(join(lower, 'dockerfile'), 'FROM scratch\nCOPY etc /etc\n');
    const l = runCli(['build', '-t', 'lower', '.', '--layout', layout], { cwd: lower });
    assertOk(l);
    assert.match(l.stderr, /^ocipush: warning: dockerfile: \. is built as a root filesystem, its dockerfile a file in the layer; to build from the dockerfile: ocipush build -f dockerfile \.$/m);
    assertOk(runCli(['build', '-t', 'lower-file', '-f', 'dockerfile', '.', '--layout', layout], { cwd: lower }));
  } finally {
    await tmp.cleanup();
  }
});

test('run settings from flags land in the image config and manifest', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = smallRootfs(join(tmp.path, 'rootfs'));
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'registry.example/app:1.0',
      '--entrypoint', '["/bin/app", "--config", "/etc/app conf"]', '--cmd', 'serve --port 80',
      '--env', 'A=1', '--env', 'B=x=y', '--workdir', '/srv', '--user', 'nobody',
      '--label', 'org.opencontainers.image.title=app', '--expose', '80', '--expose', '53/udp', '--expose', '8080-8081',
      '--platform', 'linux/arm/v7', '--created', '2024-01-02T03:04:05Z',
      '--annotation', 'org.opencontainers.image.revision=abc123', '--owner', '0:0', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const { config, manifest } = readImage(layout, 'registry.example/app:1.0');
    assert.deepEqual(config.config.Entrypoint, ['/bin/app', '--config', '/etc/app conf']);
    assert.deepEqual(config.config.Cmd, ['serve', '--port', '80']);
    assert.deepEqual(config.config.Env, ['A=1', 'B=x=y']);
    assert.equal(config.config.WorkingDir, '/srv');
    assert.equal(config.config.User, 'nobody');
    assert.deepEqual(config.config.Labels, { 'org.opencontainers.image.title': 'app' });
    // A range is each of its ports, as docker's EXPOSE 8080-8081 writes them.
    assert.deepEqual(config.config.ExposedPorts, { '53/udp': {}, '80/tcp': {}, '8080/tcp': {}, '8081/tcp': {} });
    assert.equal(config.architecture, 'arm');
    assert.equal(config.variant, 'v7');
    assert.equal(config.created, '2024-01-02T03:04:05Z');
    assert.equal(manifest.annotations?.['org.opencontainers.image.revision'], 'abc123');
    assert.equal(manifest.annotations?.['org.opencontainers.image.created'], '2024-01-02T03:04:05Z');
  } finally {
    await tmp.cleanup();
  }
});

test('--env given twice for one name is set once, to the last value, as docker ENV and build --base write it', async () => {
  requireTool('skopeo');
  const tmp = await tempDir();
  try {
    const rootfs = smallRootfs(join(tmp.path, 'rootfs'));
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--env', 'MODE=debug', '--env', 'B=x', '--env', 'MODE=production', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:app`])) as { config: { Env: string[] } };
    assert.deepEqual(config.config.Env, ['MODE=production', 'B=x']);
  } finally {
    await tmp.cleanup();
  }
});

test('bad flags are usage errors (exit 2) naming the flag', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = smallRootfs(join(tmp.path, 'rootfs'));
    const layout = join(tmp.path, 'layout');
    const cases: [string[], RegExp][] = [
      [['--env', 'NOEQUALS'], /--env "NOEQUALS": expected KEY=VALUE/],
      [['--label', 'x'], /--label "x": expected KEY=VALUE/],
      [['--owner', 'root'], /--owner "root": expected UID:GID/],
      [['--created', 'yesterday'], /--created "yesterday": expected an RFC 3339 time/],
      [['--created', '1969-07-20T20:17:00Z'], /^ocipush: --created "1969-07-20T20:17:00Z": before 1970-01-01T00:00:00Z; a build time is a unix time, as SOURCE_DATE_EPOCH$/],
      // One word names an os or an architecture (docker's --platform arm64); a slip names neither.
      [['--platform', 'amd46'], /--platform "amd46": "amd46" is neither an os nor an architecture/],
      [['--expose', '99999'], /--expose "99999"/],
      [['--expose', '9-8'], /--expose "9-8"/],
      [['--tag', 'no spaces'], /--tag "no spaces"/],
      [['--entrypoint', '["unclosed"'], /--entrypoint: .* is not a valid JSON array/],
      [['--level', '12'], /compression level 12/],
    ];
    for (const [flags, pattern] of cases) {
      assertOneLineError(runCli(['build', rootfs, '--layout', layout, ...flags]), pattern, 2);
    }
    const env = runCli(['build', rootfs, '--layout', layout], { env: { SOURCE_DATE_EPOCH: 'soon' } });
    assertOneLineError(env, /SOURCE_DATE_EPOCH="soon": expected a unix time/, 2);
    assert.deepEqual(snapshotDir(layout), { '(missing)': '' }, 'nothing written');
  } finally {
    await tmp.cleanup();
  }
});

test('a built image copies with skopeo and runs with runc: a static hello prints hello world', async () => {
  requireTool('skopeo');
  const tmp = await tempDir();
  try {
    const hello = buildStaticHello(join(tmp.path, 'src'));
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    copyFileSync(hello, join(rootfs, 'hello'));
    chmodSync(join(rootfs, 'hello'), 0o755);
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'hello', '--entrypoint', '/hello', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const ran = runImage(layout, 'hello');
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout, 'hello world\n');

    const copy = join(tmp.path, 'copy');
    run('skopeo', ['copy', `oci:${layout}:hello`, `oci:${copy}:copied`]);
    validateLayout(copy);
    assert.equal(runImage(copy, 'copied').stdout, 'hello world\n');
  } finally {
    await tmp.cleanup();
  }
});

test('failures leave the layout exactly as it was: missing rootfs, not a tar, unreadable file, corrupt layout', async () => {
  requireTool('setpriv');
  const tmp = await tempDir();
  try {
    const layout = join(tmp.path, 'layout');
    const good = smallRootfs(join(tmp.path, 'good'));
    assertOk(runCli(['build', good, '--layout', layout, '-q']));
    const before = snapshotDir(layout);

    assertOneLineError(runCli(['build', good, join(tmp.path, 'nope'), '--layout', layout]), /^ocipush: rootfs .*nope: no such file or directory$/);
    const text = join(tmp.path, 'readme.txt');
    writeFileSync(text, 'not an archive\n');
    assertOneLineError(runCli(['build', text, '--layout', layout]), /^ocipush: rootfs .*readme\.txt: neither a directory nor a tar file$/);

    // Unreadable for a user without CAP_DAC_OVERRIDE (root reads anything, so drop that power).
    const locked = smallRootfs(join(tmp.path, 'locked'));
    writeFileSync(join(locked, 'etc', 'shadow'), 'secret\n');
    chmodSync(join(locked, 'etc', 'shadow'), 0o000);
    const dropped = spawnSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--inh-caps', '-dac_override,-dac_read_search',
      process.execPath, CLI, 'build', good, locked, '--layout', layout], { encoding: 'utf8' });
    assertOneLineError({ status: dropped.status, stdout: dropped.stdout, stderr: dropped.stderr }, /^ocipush: cannot read .*locked\/etc\/shadow: permission denied$/);
    assert.deepEqual(snapshotDir(layout), before, 'no blob of the good layer either');

    writeFileSync(join(layout, 'index.json'), '{"schemaVersion": 2, "manif');
    const corrupt = snapshotDir(layout);
    assertOneLineError(runCli(['build', good, '--layout', layout]), /^ocipush: .*layout.*index\.json.*corrupt layout/);
    assert.deepEqual(snapshotDir(layout), corrupt);

    const notLayout = join(tmp.path, 'src-dir');
    mkdirSync(notLayout);
    writeFileSync(join(notLayout, 'main.c'), 'int main;\n');
    assertOneLineError(runCli(['build', good, '--layout', notLayout]), /not an OCI image layout .* refusing to write into it/);
    assert.deepEqual(readdirSync(notLayout), ['main.c']);
  } finally {
    await tmp.cleanup();
  }
});

test('a full disk fails with one line and leaves the layout as it was', async () => {
  requireTool('mount');
  const tmp = await tempDir();
  const mnt = join(tmp.path, 'small-disk');
  mkdirSync(mnt);
  run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  try {
    const layout = join(mnt, 'layout');
    assertOk(runCli(['build', smallRootfs(join(tmp.path, 'good')), '--layout', layout, '-q']));
    const before = snapshotDir(layout);
    const big = join(tmp.path, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'random.bin'), randomBytes(8 * 1024 * 1024)); // incompressible, twice the disk
    assertOneLineError(runCli(['build', big, '--layout', layout]), /^ocipush: cannot write to layout .*: no space left on device$/);
    assert.deepEqual(snapshotDir(layout), before);
  } finally {
    spawnSync('umount', [mnt]);
    await tmp.cleanup();
  }
});

test('Ctrl-C stops the build, removes its temp files and leaves the layout as it was', async () => {
  const tmp = await tempDir();
  try {
    const layout = join(tmp.path, 'layout');
    assertOk(runCli(['build', smallRootfs(join(tmp.path, 'good')), '--layout', layout, '-q']));
    const before = snapshotDir(layout);
    const big = join(tmp.path, 'big');
    mkdirSync(big);
    for (let i = 0; i < 16; i++) writeFileSync(join(big, `random-${i}.bin`), randomBytes(16 * 1024 * 1024));
    const { child, done } = startCli(['build', big, '--layout', layout, '--threads', '1']);
    // The build's ingest session (never blobs/) holds the layer being written.
    const ingest = join(layout, '.ocipush', 'ingest');
    const staged = () => {
      try {
        return existsSync(ingest) && readdirSync(ingest, { recursive: true }).some((n) => String(n).includes('.tmp-'));
      } catch (err) {
        // The session's directory, made as .new-… and renamed, met mid-rename: not yet.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    };
    // Wait until the layer is being written (for as long as the build runs: a loaded machine may
    // take more than any fixed bound to start it), then interrupt it as a terminal would.
    while (!staged() && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    assert.ok(staged(), 'a staged layer appeared');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.status, 130, `exit status (stderr: ${r.stderr})`);
    assert.deepEqual(snapshotDir(layout), before, 'no temp file, no blob, same index');
  } finally {
    await tmp.cleanup();
  }
});

test('two builds into one layout at once both land, and the layout stays valid', async () => {
  const tmp = await tempDir();
  try {
    // An empty directory: both stage their blobs in it while neither has made it a layout yet.
    const layout = join(tmp.path, 'layout');
    mkdirSync(layout);
    const roots = ['one', 'two'].map((name) => {
      const root = join(tmp.path, name);
      mkdirSync(root);
      writeFileSync(join(root, `${name}.bin`), randomBytes(4 * 1024 * 1024));
      writeFileSync(join(root, 'shared.txt'), 'the same in both\n');
      return root;
    });
    const runs = await Promise.all(roots.map((root, i) => startCli(['build', root, '--layout', layout, '--tag', `t${i}`, '-q']).done));
    for (const r of runs) assert.equal(r.status, 0, r.stderr);
    const names = readImage(layout, 't0').index.manifests.map((d) => d.annotations?.['org.opencontainers.image.ref.name']).sort();
    assert.deepEqual(names, ['t0', 't1']);
    readImage(layout, 't1');
    validateLayout(layout);
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')).filter((n) => n.startsWith('.')), [], 'no temp files left');
  } finally {
    await tmp.cleanup();
  }
});
