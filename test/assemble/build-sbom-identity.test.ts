import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockAheadEnv, run, runCli, tempDir } from '../support/tools.js';
import { buildGoHello } from '../support/sbom.js';

/**
 * build --sbom hashes the files of the layers it writes while it writes them; `ocipush sbom`
 * streams the same layers back from the layout. Both must give the same SBOM bytes (apart from
 * the name each was asked for), for a directory build, a tar-file layer and a build -f.
 */
describe('build --sbom gives the bytes `ocipush sbom` gives for the same image', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layers: { lower: string; upper: string };
  // The layer cache trusts no tree changed in the 2 s before a build: the builds' clock is ahead.
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', ...clockAheadEnv() };

  before(async () => {
    tmp = await tempDir('ocipush-sbom-identity-');
    const lower = join(tmp.path, 'lower');
    const upper = join(tmp.path, 'upper');
    for (const d of ['var/lib/dpkg', 'etc', 'usr/bin', 'gone', 'data/kept']) mkdirSync(join(lower, d), { recursive: true });
    writeFileSync(join(lower, 'var/lib/dpkg/status'), 'Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\nDescription: greets\n\n');
    writeFileSync(join(lower, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    writeFileSync(join(lower, 'etc/motd'), 'lower\n');
    writeFileSync(join(lower, 'etc/replaced-by-link'), 'a file, then a symlink\n');
    writeFileSync(join(lower, 'gone/file'), 'removed by a whiteout\n');
    writeFileSync(join(lower, 'data/kept/old'), 'removed by an opaque directory\n');
    writeFileSync(join(lower, 'removed-by-flag'), 'removed by --remove\n');
    // Larger than a tar chunk (1 MiB): its bytes cross chunk boundaries while hashed.
    writeFileSync(join(lower, 'usr/bin/blob'), randomBytes(3 * 1024 * 1024 + 17));
    writeFileSync(join(lower, 'empty'), '');
    writeFileSync(join(lower, 'usr/bin/empty-exec'), '');
    chmodSync(join(lower, 'usr/bin/empty-exec'), 0o755);
    copyFileSync('/bin/true', join(lower, 'usr/bin/true'));
    linkSync(join(lower, 'usr/bin/true'), join(lower, 'usr/bin/true-hardlink'));
    // A Go binary: its build info is found in the bytes as they stream by.
    buildGoHello(join(lower, 'usr/bin/hello'), tmp.path);

    const long = join(upper, 'app', 'node_modules', `${'deep-'.repeat(24)}pkg`);
    for (const d of [long, 'etc', 'data/kept', 'gone', 'café/ünïcode'].map((d) => (d.startsWith('/') ? d : join(upper, d)))) mkdirSync(d, { recursive: true });
    writeFileSync(join(long, 'package.json'), JSON.stringify({ name: 'deep-pkg', version: '1.0.0' }));
    writeFileSync(join(upper, 'etc/motd'), 'upper wins\n');
    symlinkSync('motd', join(upper, 'etc/replaced-by-link'));
    writeFileSync(join(upper, 'gone/.wh.file'), '');
    writeFileSync(join(upper, 'data/kept/.wh..wh..opq'), '');
    writeFileSync(join(upper, 'data/kept/new'), 'after the opaque marker\n');
    writeFileSync(join(upper, 'café/ünïcode/fichier'), 'non-ASCII path\n');
    layers = { lower, upper };
  });
  after(async () => {
    await tmp?.cleanup();
  });

  /** The SBOM the build stored, and the one `ocipush sbom` streams from the layout, name aside. */
  function compare(layout: string, built: { sbom: { digest: string } }, tag: string, buildName: string, format = 'spdx'): void {
    const blob = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    const manifest = JSON.parse(blob(built.sbom.digest).toString());
    const fromBuild = blob(manifest.layers[0].digest).toString('utf8');
    const streamedName = `oci:${layout}:${tag}`;
    const streamed = runCli(['sbom', streamedName, '--sbom-format', format], { env });
    assert.equal(streamed.status, 0, streamed.stderr);
    assert.ok(fromBuild.includes('usr/bin/blob'), 'the files are listed');
    assert.equal(fromBuild.split(JSON.stringify(buildName)).join(JSON.stringify(streamedName)), streamed.stdout);
  }

  it('a directory build of two trees with whiteouts, an opaque directory, links, a Go binary and --remove (SPDX and CycloneDX)', () => {
    for (const format of ['spdx', 'cyclonedx']) {
      const layout = join(tmp.path, `layout-dir-${format}`);
      const r = runCli(['build', layers.lower, layers.upper, '--remove', '/removed-by-flag', '--layout', layout, '--tag', 'dir:1', '--sbom', '--sbom-format', format, '--json', '--no-cache'], { env });
      assert.equal(r.status, 0, r.stderr);
      const built = JSON.parse(r.stdout);
      const doc = readFileSync(join(layout, 'blobs', 'sha256', JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', built.sbom.digest.slice(7))).toString()).layers[0].digest.slice(7)), 'utf8');
      assert.ok(doc.includes('example.com/hello'), 'the Go module is listed');
      assert.ok(doc.includes('deep-pkg'), 'the npm package under a long path is listed');
      compare(layout, built, 'dir:1', 'dir:1', format);
      // Built again, every layer a layer-cache hit: those are read back from the layout instead.
      const again = runCli(['build', layers.lower, layers.upper, '--remove', '/removed-by-flag', '--layout', layout, '--tag', 'dir:1', '--sbom', '--sbom-format', format, '--json'], { env });
      assert.equal(again.status, 0, again.stderr);
      const rebuilt = JSON.parse(again.stdout);
      assert.deepEqual(rebuilt.layers.slice(0, 2).map((l: { source: string }) => l.source), ['local-cache', 'local-cache'], 'the tree layers come from the layer cache');
      assert.equal(rebuilt.sbom.digest, built.sbom.digest);
    }
  });

  it('a build whose layers are tar files (plain and gzip)', () => {
    const plain = join(tmp.path, 'lower.tar');
    const gz = join(tmp.path, 'upper.tar.gz');
    run('tar', ['-cf', plain, '-C', layers.lower, '.']);
    run('tar', ['-czf', gz, '-C', layers.upper, '.']);
    const layout = join(tmp.path, 'layout-tar');
    const r = runCli(['build', plain, gz, '--layout', layout, '--tag', 'tar:1', '--sbom', '--json', '--no-cache'], { env });
    assert.equal(r.status, 0, r.stderr);
    compare(layout, JSON.parse(r.stdout), 'tar:1', 'tar:1');
  });

  it('a build -f whose COPY layers overlay one another', () => {
    const ctx = join(tmp.path, 'ctx');
    run('cp', ['-a', layers.lower, join(ctx)]);
    run('cp', ['-a', layers.upper, join(ctx, 'upper')]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY usr /usr\nCOPY var /var\nCOPY upper/etc /etc\nCOPY upper/app /app\nCOPY etc/motd /usr/bin/true\n');
    const layout = join(tmp.path, 'layout-df');
    const r = runCli(['build', '-f', join(ctx, 'Dockerfile'), ctx, '--layout', layout, '--tag', 'df:1', '--sbom', '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    compare(layout, JSON.parse(r.stdout), 'df:1', 'df:1');
  });
});
