import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, readSync, closeSync, writeFileSync, writeSync, rmSync, cpSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, tempDir, type RunResult } from '../support/tools.js';
import { makeHelloLayout, type HelloLayout } from './fixtures.js';
import { layoutConfigFor, tempFilesIn } from './support.js';

/** Every failure is exactly one line on stderr, prefixed like every ocipush error. */
function assertOneLineError(r: RunResult, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  assert.match(lines[0]!, /^ocipush: /);
  assert.match(lines[0]!, pattern);
}

describe('ocipush export: bad input fails with one line and writes nothing', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let fx: HelloLayout;
  let outDir: string;
  let n = 0;
  /** A fresh copy of the fixture layout, for tests that damage it. */
  const damagedCopy = () => {
    const copy = join(tmp.path, `layout-${++n}`);
    cpSync(fx.layout, copy, { recursive: true });
    return copy;
  };

  before(async () => {
    tmp = await tempDir('ocipush-export-errors-');
    fx = makeHelloLayout(join(tmp.path, 'fixture'));
    outDir = join(tmp.path, 'out');
    mkdirSync(outDir);
  });
  after(() => tmp.cleanup());

  const assertNothingWritten = (out: string) => {
    assert.ok(!existsSync(out), `${out} must not exist`);
    assert.deepEqual(tempFilesIn(outDir), []);
  };

  it('an unknown tag names what the layout has', () => {
    const out = join(outDir, 'unknown.tar');
    const r = runCli(['export', '--layout', fx.layout, 'nope=hello:nope', '-o', out]);
    assertOneLineError(r, 1, /no image tagged "nope" \(the layout has: scratch, alpine\)/);
    assertNothingWritten(out);
  });

  it('a bare name without --repository is named NAME:latest, as docker names it, and says so', () => {
    const out = join(outDir, 'bare.tar');
    const r = runCli(['export', '--layout', fx.layout, 'scratch', '-o', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { images: { repoTags: string[] }[] }).images.map((i) => i.repoTags), [['scratch:latest']]);
    assert.match(r.stderr, /^image "scratch" is named scratch:latest in the archive, as docker names it \(--repository NAME gives NAME:scratch/m);
  });

  it('a directory that is not a layout, and a corrupt index.json', () => {
    const out = join(outDir, 'corrupt.tar');
    assertOneLineError(runCli(['export', '--layout', outDir, '--repository', 'x', '-o', out]), 1, /not an OCI image layout \(no oci-layout file\)/);
    const layout = damagedCopy();
    writeFileSync(join(layout, 'index.json'), '{"schemaVersion": 2, "manifests": [');
    assertOneLineError(runCli(['export', '--layout', layout, '--repository', 'x', '-o', out]), 1, /index\.json: corrupt layout \(index\.json is not valid JSON\)/);
    assertNothingWritten(out);
  });

  it('a missing layer blob fails before any output', () => {
    const layout = damagedCopy();
    const layer = layoutConfigFor(layout, 'alpine').manifest.layers[0]!.digest;
    rmSync(join(layout, 'blobs', 'sha256', layer.slice('sha256:'.length)));
    const out = join(outDir, 'missing.tar');
    const r = runCli(['export', '--layout', layout, '--repository', 'hello', '-o', out]);
    assertOneLineError(r, 1, new RegExp(`blob ${layer} is missing`));
    assertNothingWritten(out);
    // stdout gets nothing either: the check runs before the first byte.
    const piped = spawnSync(process.execPath, [CLI, 'export', '--layout', layout, '--repository', 'hello']);
    assert.equal(piped.status, 1);
    assert.equal(piped.stdout.length, 0);
  });

  it('a corrupted layer (same size, other bytes) fails the digest check and keeps the old archive', () => {
    const layout = damagedCopy();
    const layer = layoutConfigFor(layout, 'alpine').manifest.layers[0]!.digest;
    const path = join(layout, 'blobs', 'sha256', layer.slice('sha256:'.length));
    const fd = openSync(path, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 1000);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 1000);
    closeSync(fd);
    const out = join(outDir, 'kept.tar');
    writeFileSync(out, 'previous archive');
    const r = runCli(['export', '--layout', layout, '--repository', 'hello', '-o', out]);
    assertOneLineError(r, 1, new RegExp(`blob ${layer} in .*: content has digest sha256:[0-9a-f]{64}, expected ${layer}`));
    assert.equal(readFileSync(out, 'utf8'), 'previous archive');
    assert.deepEqual(tempFilesIn(outDir), []);
  });

  it('copy to an archive: a small blob with other bytes (its config) is one line, not a crash, and keeps the old archive', () => {
    const layout = damagedCopy();
    const config = layoutConfigFor(layout, 'alpine').manifest.config.digest;
    const path = join(layout, 'blobs', 'sha256', config.slice('sha256:'.length));
    const bytes = readFileSync(path);
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
    writeFileSync(path, bytes);
    for (const transport of ['oci-archive', 'docker-archive']) {
      const out = join(outDir, `small-${transport}.tar`);
      writeFileSync(out, 'previous archive');
      const r = runCli(['copy', `oci:${layout}:alpine`, `${transport}:${out}`, '-q']);
      assertOneLineError(r, 1, new RegExp(`blob ${config} in .*: content has digest sha256:[0-9a-f]{64}, expected ${config}$`));
      assert.equal(readFileSync(out, 'utf8'), 'previous archive');
    }
    assert.deepEqual(tempFilesIn(outDir), []);
  });

  it('an output directory that does not exist', () => {
    const out = join(outDir, 'no-such-dir', 'a.tar');
    const r = runCli(['export', '--layout', fx.layout, '--repository', 'hello', '-o', out]);
    assertOneLineError(r, 1, new RegExp(`cannot write ${out}: no such file or directory`));
  });

  it('an archive named as an existing directory is named as typed: -o DIR for export, docker-archive:DIR for copy', () => {
    const dir = join(outDir, 'a-directory');
    mkdirSync(dir);
    assertOneLineError(runCli(['export', '--layout', fx.layout, '--repository', 'hello', '-o', dir]), 2, new RegExp(`^ocipush: -o ${dir}: is a directory, expected a file name$`));
    for (const transport of ['docker-archive', 'oci-archive']) {
      const r = runCli(['copy', `oci:${fx.layout}:scratch`, `${transport}:${dir}`]);
      assertOneLineError(r, 2, new RegExp(`^ocipush: ${transport}:${dir}: is a directory, expected a file name$`));
    }
  });

  it('a write that fails half way (file size limit) leaves no partial file', () => {
    const out = join(outDir, 'too-big.tar');
    // 100 KiB limit, SIGXFSZ ignored so that write() fails with EFBIG instead of killing node.
    const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 100; exec "$0" "$@"`, process.execPath, CLI,
      'export', '--layout', fx.layout, '--repository', 'hello', '-o', out], { encoding: 'utf8' });
    assertOneLineError(r, 1, new RegExp(`cannot write ${out}: .*file too large`, 'i'));
    assertNothingWritten(out);
  });

  it('a full device (/dev/full) is written in place, not replaced, and reported', () => {
    const r = runCli(['export', '--layout', fx.layout, '--repository', 'hello', '-o', '/dev/full']);
    assertOneLineError(r, 1, /cannot write \/dev\/full: no space left on device/);
    assert.ok(statSync('/dev/full').isCharacterDevice(), '/dev/full must still be the device');
    const again = runCli(['export', '--layout', fx.layout, '--repository', 'hello', '-o', '/dev/null']);
    assert.equal(again.status, 0, again.stderr);
  });

  it('usage errors: a bad platform, an empty rename, an invalid name, --json to stdout', () => {
    assertOneLineError(runCli(['export', '--layout', fx.layout, '--platform', 'linux/', '-o', join(outDir, 'p.tar')]), 2, /invalid platform "linux\/"/);
    assertOneLineError(runCli(['export', '--layout', fx.layout, 'scratch=', '-o', join(outDir, 'p.tar')]), 2, /the new name is missing/);
    assertOneLineError(runCli(['export', '--layout', fx.layout, 'scratch=Hello:1', '-o', join(outDir, 'p.tar')]), 2, /invalid repository name/);
    assertOneLineError(runCli(['export', '--layout', fx.layout, '--repository', 'hello:1', '-o', join(outDir, 'p.tar')]), 2, /--repository hello:1: expected a repository without tag/);
    assertOneLineError(runCli(['export', '--layout', fx.layout, '--repository', 'hello', '--json']), 2, /--json needs -o FILE/);
    // Images named with their layout (oci:DIR:NAME) name one layout, the one --layout names if given.
    assertOneLineError(runCli(['export', `oci:${fx.layout}:scratch`, `oci:${outDir}:other`, '-o', join(outDir, 'p.tar')]), 2, /export reads one layout/);
    assertOneLineError(runCli(['export', '--layout', outDir, `oci:${fx.layout}:scratch`, '-o', join(outDir, 'p.tar')]), 2, /name the layout once/);
    assertOneLineError(runCli(['export', `oci:${fx.layout}=hello:1`, '-o', join(outDir, 'p.tar')]), 2, /name the image to rename/);
    assertNothingWritten(join(outDir, 'p.tar'));
  });
});
