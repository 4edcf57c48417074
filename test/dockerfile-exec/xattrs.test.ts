import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { plannedLayerKey } from '../../src/dockerfile-exec/layer-cache.js';
import type { PlannedEntry } from '../../src/dockerfile-exec/layer-writer.js';
import { StatTable } from '../../src/layer/cache-key.js';
import { record } from '../../src/layer/tar-header.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { umociUnpack } from '../assemble/support.js';
import { blobPath, build, buildahBuild } from './support.js';

/**
 * Extended attributes through `build -f`, as BuildKit carries them (checked against its source,
 * see docs/dockerfile.md): its layer writer (containerd's archive ChangeWriter) puts
 * `security.capability` alone into a layer; an ADD archive and a base layer are unpacked with
 * the xattrs set after the owner, so their capability survives, `--chown` or not; a context
 * file's capability is lost in the context transfer (fsutil's receiver chowns, then writes the
 * bytes, after setting it), so a context file carries nothing.
 */

/** The capability getcap prints for `path`, or '' when it has none. */
function getcap(path: string): string {
  return run('getcap', [path]).trim().split(/\s+/).slice(1).join(' ');
}

/** Every xattr name on `path` (getfattr -m -: all namespaces), sorted. */
function xattrNames(path: string): string[] {
  const text = run('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', path]);
  return text.split('\n').filter((l) => l.includes('=')).map((l) => l.slice(0, l.indexOf('='))).sort();
}

test('ADD of a local tar carries its files\' capabilities (with --chown too, and on through COPY --from), not their other xattrs; a context file carries none', async () => {
  for (const tool of ['setcap', 'getcap', 'setfattr', 'getfattr', 'tar', 'umoci', 'buildah']) requireTool(tool);
  const tmp = await tempDir();
  try {
    const ctx = join(tmp.path, 'ctx');
    const src = join(tmp.path, 'src');
    mkdirSync(ctx);
    mkdirSync(src);
    writeFileSync(join(src, 'app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
    run('setcap', ['cap_net_bind_service+ep', join(src, 'app')]);
    writeFileSync(join(src, 'doc'), 'text\n');
    run('setfattr', ['-n', 'user.mime_type', '-v', 'text/plain', join(src, 'doc')]);
    // GNU tar stores every xattr as SCHILY.xattr.<name>, as umoci and containerd read them.
    run('tar', ['--xattrs', '--xattrs-include=*', '-cf', join(ctx, 'app.tar'), '-C', src, '.']);
    // The same file in the context, with its capability and a user xattr of its own.
    writeFileSync(join(ctx, 'ctx-app'), '#!/bin/sh\necho ctx\n', { mode: 0o755 });
    run('setcap', ['cap_net_raw+ep', join(ctx, 'ctx-app')]);
    run('setfattr', ['-n', 'user.origin', '-v', 'context', join(ctx, 'ctx-app')]);
    writeFileSync(join(ctx, 'Dockerfile'), [
      'FROM scratch AS unpacked',
      'ADD app.tar /opt/',
      'FROM scratch',
      'ADD app.tar /opt/',
      'ADD --chown=1000:1000 app.tar /chowned/',
      'COPY --from=unpacked /opt/app /bin/copied',
      'COPY ctx-app /bin/ctx-app',
      '',
    ].join('\n'));
    const layout = join(tmp.path, 'layout');
    build(ctx, layout, ['--tag', 'caps']);
    const rootfs = umociUnpack(layout, 'caps', join(tmp.path, 'bundle'));

    assert.equal(getcap(join(rootfs, 'opt', 'app')), 'cap_net_bind_service=ep');
    assert.equal(getcap(join(rootfs, 'chowned', 'app')), 'cap_net_bind_service=ep', '--chown keeps it: BuildKit sets xattrs after the owner');
    assert.equal(getcap(join(rootfs, 'bin', 'copied')), 'cap_net_bind_service=ep', 'COPY --from a stage keeps it');
    // Only the capability reaches a BuildKit layer: the archive's user.* xattr does not.
    assert.deepEqual(xattrNames(join(rootfs, 'opt', 'app')), ['security.capability']);
    assert.deepEqual(xattrNames(join(rootfs, 'opt', 'doc')), []);
    assert.deepEqual(xattrNames(join(rootfs, 'bin', 'ctx-app')), [], 'a context file carries no xattr, its capability neither');

    // buildah agrees on the archive's capabilities (it also carries user.* and a context file's
    // xattrs, where BuildKit does not: not compared).
    buildahBuild(tmp.path, ctx, join(tmp.path, 'theirs'), 'caps');
    const theirs = umociUnpack(join(tmp.path, 'theirs'), 'caps', join(tmp.path, 'theirs-bundle'));
    for (const path of [['opt', 'app'], ['chowned', 'app'], ['bin', 'copied']]) {
      assert.equal(getcap(join(rootfs, ...path)), getcap(join(theirs, ...path)), path.join('/'));
    }
  } finally {
    await tmp.cleanup();
  }
});

test('a planned layer\'s cache key covers an entry\'s capability: the same file with another one is another key', () => {
  const stats = new StatTable();
  const cap = (hex: string) => record('SCHILY.xattr.security.capability', Buffer.from(hex, 'hex'));
  const archive = { describe: 'archive app.tar', open: () => Promise.reject(new Error('not read')), stamp: { facts: 'blob sha256:0', changedNs: 0n } };
  const entries = (xattrs?: Buffer): PlannedEntry[] => [{
    path: '/app',
    node: { type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 4, content: { kind: 'archive', archive, entry: 1 }, ...(xattrs ? { xattrs } : {}) },
  }];
  const options = { compression: 'gzip', clampMtime: 0, exclude: [], build: 'b', startMs: 0, clock: () => 60_000 };
  const key = (xattrs?: Buffer) => plannedLayerKey(entries(xattrs), stats, 'source', options)!.hex;
  const bind = cap('0100000200040000000000000000000000000000');
  const raw = cap('0100000200200000000000000000000000000000');
  assert.notEqual(key(bind), key());
  assert.notEqual(key(bind), key(raw));
  assert.equal(key(bind), key(cap('0100000200040000000000000000000000000000')));
});

test('hard links of an ADD archive: a link entry with the capability keeps it, on both names in the layer; one without clears it, as BuildKit\'s untar does', async () => {
  for (const tool of ['getcap', 'tar', 'umoci', 'python3']) requireTool(tool);
  const tmp = await tempDir();
  try {
    const ctx = join(tmp.path, 'ctx');
    mkdirSync(ctx);
    // As BuildKit's layer writer makes them: the capability on the file and on its hard link.
    // `without.tar` as GNU tar makes it: on the file only (a chown of the link clears it).
    run('python3', ['-c', `
import io, sys, tarfile
cap = bytes.fromhex('0100000200040000000000000000000000000000').decode('ascii')
for name, on_link in (('with.tar', True), ('without.tar', False)):
    with tarfile.open(sys.argv[1] + '/' + name, 'w', format=tarfile.PAX_FORMAT) as t:
        data = b'#!/bin/sh\\n'
        f = tarfile.TarInfo('app'); f.size = len(data); f.mode = 0o755
        f.pax_headers = {'SCHILY.xattr.security.capability': cap}
        t.addfile(f, io.BytesIO(data))
        l = tarfile.TarInfo('app2'); l.type = tarfile.LNKTYPE; l.linkname = 'app'; l.mode = 0o755
        if on_link: l.pax_headers = {'SCHILY.xattr.security.capability': cap}
        t.addfile(l)
`, ctx]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nADD with.tar /with/\nADD without.tar /without/\n');
    const layout = join(tmp.path, 'layout');
    const result = build(ctx, layout, ['--tag', 'links']);
    // The layer holds the record on the link too: containerd and docker chown a hard link they
    // unpack (clearing the inode's capability), then set the link entry's own xattrs.
    const listing = run('tar', ['--xattrs', '--xattrs-include=*', '-tvvzf', blobPath(layout, result.layers[0]!.digest)]);
    assert.match(listing, /with\/app\n\s+x: 20 security\.capability\n.*with\/app2 link to with\/app\n\s+x: 20 security\.capability/);
    const rootfs = umociUnpack(layout, 'links', join(tmp.path, 'bundle'));
    assert.equal(getcap(join(rootfs, 'with', 'app')), 'cap_net_bind_service=ep');
    assert.equal(getcap(join(rootfs, 'with', 'app2')), 'cap_net_bind_service=ep');
    assert.equal(getcap(join(rootfs, 'without', 'app')), '');
    assert.equal(getcap(join(rootfs, 'without', 'app2')), '');
  } finally {
    await tmp.cleanup();
  }
});
