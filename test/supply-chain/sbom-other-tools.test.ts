import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { validator } from '../support/sbom.js';

/**
 * `ocipush sbom` of images other tools made, compared with the filesystem umoci unpacks from
 * them: their layers say things ocipush's own builds never write.
 */

describe('ocipush sbom of images buildah made', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let buildah: string;
  const schemas = validator();
  before(async () => {
    buildah = requireTool('buildah');
    requireTool('umoci');
    tmp = await tempDir();
  });
  after(async () => { await tmp?.cleanup(); });

  const store = () => ['--storage-driver', 'vfs', '--root', join(tmp.path, 'root'), '--runroot', join(tmp.path, 'runroot')];

  /** The regular files umoci unpacks from the image, as `/path`. */
  function unpackedFiles(layout: string, tag: string, bundle: string): string[] {
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
    return run('sh', ['-c', 'cd rootfs && find . -type f | sort'], { cwd: bundle }).trim().split('\n').map((l) => l.replace(/^\.\//, '/'));
  }

  it('a directory a later layer replaces by a symlink or a file (no whiteout: buildah writes the new entry alone) leaves nothing of its tree, nor its packages', () => {
    const tree = join(tmp.path, 'tree');
    mkdirSync(join(tree, 'app/node_modules/left-pad'), { recursive: true });
    writeFileSync(join(tree, 'app/node_modules/left-pad/package.json'), JSON.stringify({ name: 'left-pad', version: '1.3.0' }));
    writeFileSync(join(tree, 'app/index.js'), 'x\n');
    mkdirSync(join(tree, 'data/old'), { recursive: true });
    writeFileSync(join(tree, 'data/old/file'), 'old\n');
    mkdirSync(join(tree, 'opt/app/node_modules/@scope/tool'), { recursive: true });
    writeFileSync(join(tree, 'opt/app/node_modules/@scope/tool/package.json'), JSON.stringify({ name: '@scope/tool', version: '2.0.0' }));
    const first = run(buildah, [...store(), 'from', 'scratch']).trim();
    run(buildah, [...store(), 'copy', first, `${tree}/`, '/']);
    run(buildah, [...store(), 'commit', '-q', first, 'localhost/one']);

    // Layer 2, as a RUN `rm -rf /app && ln -s /opt/app /app` would leave it: the container's
    // filesystem changed in place, then committed (buildah diffs it against layer 1).
    const second = run(buildah, [...store(), 'from', 'localhost/one']).trim();
    const mount = run(buildah, [...store(), 'mount', second]).trim();
    rmSync(join(mount, 'app'), { recursive: true });
    symlinkSync('/opt/app', join(mount, 'app'));
    rmSync(join(mount, 'data'), { recursive: true });
    writeFileSync(join(mount, 'data'), 'now a file\n');
    run(buildah, [...store(), 'umount', second]);
    run(buildah, [...store(), 'commit', '-q', second, 'localhost/two']);
    const layout = join(tmp.path, 'layout');
    run(buildah, [...store(), 'push', '-q', 'localhost/two', `oci:${layout}:two`]);

    const r = runCli(['sbom', `oci:${layout}:two`]);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    schemas.spdx(doc);
    const expected = unpackedFiles(layout, 'two', join(tmp.path, 'bundle'));
    assert.deepEqual(expected, ['/data', '/opt/app/node_modules/@scope/tool/package.json']);
    assert.deepEqual(doc.files.map((f: { fileName: string }) => f.fileName).sort(), expected);
    assert.deepEqual(doc.packages.filter((p: { SPDXID: string }) => p.SPDXID.startsWith('SPDXRef-Package')).map((p: { name: string }) => p.name), ['@scope/tool']);
  });

  it('layers written by Python\'s tarfile with no entry for a parent directory, whiteouts of files, of directories and opaque ones, a symlink over an ancestor: the files umoci unpacks', () => {
    // Layer 1 names a/b/ but not a/; layer 2 replaces a by a symlink (its tree goes), removes
    // d/f1 and e (a directory), and makes keep opaque (what layer 1 put there goes).
    const layers = join(tmp.path, 'tarfile');
    mkdirSync(layers);
    const script = [
      'import io, sys, tarfile',
      'def add(t, name, kind=tarfile.REGTYPE, data=b"x", link=""):',
      '    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644',
      '    i.size = len(data) if kind == tarfile.REGTYPE else 0',
      '    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)',
      'with tarfile.open(sys.argv[1] + "/1.tar", "w", format=tarfile.PAX_FORMAT) as t:',
      '    add(t, "a/b/", tarfile.DIRTYPE); add(t, "a/b/c"); add(t, "a/b/node_modules/left-pad/package.json", data=b\'{"name":"left-pad","version":"1.3.0"}\')',
      '    add(t, "d/", tarfile.DIRTYPE); add(t, "d/f1"); add(t, "d/f2"); add(t, "e/", tarfile.DIRTYPE); add(t, "e/g/h"); add(t, "keep/", tarfile.DIRTYPE); add(t, "keep/old")',
      'with tarfile.open(sys.argv[1] + "/2.tar", "w", format=tarfile.PAX_FORMAT) as t:',
      '    add(t, "a", tarfile.SYMTYPE, link="/srv"); add(t, "d/.wh.f1"); add(t, ".wh.e"); add(t, "keep/", tarfile.DIRTYPE); add(t, "keep/.wh..wh..opq"); add(t, "keep/new")',
    ].join('\n');
    run('python3', ['-c', script, layers]);
    const layout = join(tmp.path, 'tarfile-layout');
    const b = runCli(['build', join(layers, '1.tar'), join(layers, '2.tar'), '--layout', layout, '--tag', 't', '--quiet']);
    assert.equal(b.status, 0, b.stderr);
    const r = runCli(['sbom', `oci:${layout}:t`]);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    schemas.spdx(doc);
    const expected = unpackedFiles(layout, 't', join(tmp.path, 'tarfile-bundle'));
    assert.deepEqual(expected, ['/d/f2', '/keep/new']);
    assert.deepEqual(doc.files.map((f: { fileName: string }) => f.fileName).sort(), expected);
    assert.deepEqual(doc.packages.filter((p: { SPDXID: string }) => p.SPDXID.startsWith('SPDXRef-Package')), []);
  });
});
