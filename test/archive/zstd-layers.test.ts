import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zstdAvailable } from '../../src/layer/codec.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { envWith } from '../cli/copy-support.js';
import { podman } from './support.js';

/**
 * Images whose layers are zstd (`application/vnd.oci.image.layer.v1.tar+zstd`), as `podman push
 * --compression-format zstd` publishes them. Where ocipush must read the layers (rootfs, flatten,
 * validate, sbom), Node's zlib reads zstd from 22.15 on; on Node 20 the `zstd` command does, as
 * it already does for a zstd archive and for `COPY --from` such an image.
 */
describe('an image with zstd layers (podman push --compression-format zstd)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let gz: string;
  let zst: string;
  const env = envWith();

  before(async () => {
    requireTool('zstd');
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    const lower = join(tmp.path, 'lower');
    const upper = join(tmp.path, 'upper');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    mkdirSync(join(upper, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'gone'), 'removed by the upper layer\n');
    writeFileSync(join(lower, 'etc', 'kept'), 'x'.repeat(300_000));
    writeFileSync(join(upper, 'etc', 'added'), 'added\n');
    const layout = join(tmp.path, 'layout');
    assertOk(await runCliAsync(['build', lower, upper, '--remove', '/etc/gone', '--layout', layout, '--tag', 'app', '-q']));
    gz = `${registry.host}/zstd/gzip:1`;
    zst = `${registry.host}/zstd/zstd:1`;
    assertOk(await runCliAsync(['push', gz, '--layout', layout, '--tag', 'app', '-q'], { env }));
    const exported = join(tmp.path, 'app.tar');
    assertOk(await runCliAsync(['export', '--layout', layout, 'app=localhost/app:1', '-o', exported, '-q']));
    const p = podman(join(tmp.path, 'podman'));
    try {
      p.run(['load', '-q', '-i', exported]);
      p.run(['push', '-q', '--tls-verify=false', '--compression-format', 'zstd', 'localhost/app:1', `docker://${zst}`]);
    } finally {
      p.cleanup();
    }
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${zst}`])) as { layers: { mediaType: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd']);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** The files a filesystem tar holds, extracted, with their contents. */
  function files(tarFile: string, name: string): Record<string, string> {
    const dir = join(tmp.path, name);
    mkdirSync(dir);
    run('tar', ['-C', dir, '-xf', tarFile]);
    const names = run('tar', ['-tf', tarFile]).split('\n').filter((n) => n && !n.endsWith('/')).sort();
    return Object.fromEntries(names.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
  }

  it('rootfs writes the filesystem the gzip image has; validate checks each layer against its diff_id', async () => {
    const fromGzip = join(tmp.path, 'gzip-fs.tar');
    const fromZstd = join(tmp.path, 'zstd-fs.tar');
    assertOk(await runCliAsync(['rootfs', gz, '-o', fromGzip, '-q'], { env }));
    assertOk(await runCliAsync(['rootfs', zst, '-o', fromZstd, '-q'], { env }));
    const want = files(fromGzip, 'gzip-fs');
    assert.deepEqual(Object.keys(want), ['etc/added', 'etc/kept']);
    assert.deepEqual(files(fromZstd, 'zstd-fs'), want);
    const checked = await runCliAsync(['validate', zst, '--json'], { env });
    assertOk(checked);
    assert.equal((JSON.parse(checked.stdout) as { valid: boolean }).valid, true);
  });

  it('flatten makes one layer of them, which skopeo reads and whose filesystem is the same; sbom lists their files', async () => {
    const flat = `${registry.host}/zstd/flat:1`;
    assertOk(await runCliAsync(['flatten', zst, flat, '-q'], { env }));
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${flat}`])) as { layers: unknown[] };
    assert.equal(manifest.layers.length, 1);
    const out = join(tmp.path, 'flat-fs.tar');
    assertOk(await runCliAsync(['rootfs', flat, '-o', out, '-q'], { env }));
    assert.deepEqual(Object.keys(files(out, 'flat-fs')), ['etc/added', 'etc/kept']);
    const sbom = await runCliAsync(['sbom', zst, '--sbom-format', 'spdx'], { env });
    assertOk(sbom);
    const names = (JSON.parse(sbom.stdout) as { files: { fileName: string }[] }).files.map((f) => f.fileName).sort();
    assert.deepEqual(names, ['/etc/added', '/etc/kept']);
  });

  it('on Node 20 without the zstd command: one line naming the layer and what would read it, and no file', async () => {
    if (zstdAvailable()) return; // Node reads zstd itself
    const out = join(tmp.path, 'none.tar');
    const noTools = { ...env, PATH: join(tmp.path, 'no-such-bin') };
    assertOneLineError(await runCliAsync(['rootfs', zst, '-o', out], { env: noTools }),
      /^ocipush: 127\.0\.0\.1:\d+\/zstd\/zstd:1 linux\/amd64 layer sha256:[0-9a-f]{64}: zstd-compressed data needs Node\.js >= 22\.15 or the `zstd` command to be read \(this is Node\.js v20\.[\d.]+, and no `zstd` command is installed\)$/);
    assert.equal(existsSync(out), false);
  });
});
