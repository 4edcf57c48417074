import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pseudoRandom } from '../assemble/support.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';

/** A POSIX ACL as the kernel stores it in system.posix_acl_*: version 2, then (tag, perm, id) entries. */
function acl(entries: [tag: number, perm: number, id?: number][]): string {
  const out = Buffer.alloc(4 + 8 * entries.length);
  out.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    out.writeUInt16LE(tag, 4 + 8 * i);
    out.writeUInt16LE(perm, 6 + 8 * i);
    out.writeUInt32LE(id ?? 0xffffffff, 8 + 8 * i);
  });
  return `0x${out.toString('hex')}`;
}

function setfattr(path: string, name: string, value: string, noDereference = false): void {
  run('setfattr', [...(noDereference ? ['-h'] : []), '-n', name, '-v', value, path]);
}

/**
 * Every xattr under `root` as `getfattr -d` prints it in hex, keyed by relative path, names
 * sorted: readdir order differs between two trees. `keep` filters the names.
 */
function xattrsOf(root: string, keep: (name: string, value: string) => boolean = () => true): Map<string, string[]> {
  const text = run('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root });
  const out = new Map<string, string[]>();
  let file = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      file = line.slice('# file: '.length);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const [name, value] = [line.slice(0, eq), line.slice(eq + 1)];
    if (!keep(name, value)) continue;
    out.set(file, [...(out.get(file) ?? []), line].sort());
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The names of a gzip layer's entries that carry xattr records, as GNU tar lists them. */
function entriesWithXattrs(layer: string): Set<string> {
  const names = new Set<string>();
  let entry = '';
  for (const line of run('tar', ['--xattrs', '--xattrs-include=*', '-tvvzf', layer]).split('\n')) {
    if (line.startsWith('  x: ')) names.add(entry);
    else if (line) entry = line.replace(/^\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+/, '').replace(/ link to .*$/, '').replace(/^\/$/, '');
  }
  names.delete('');
  return names;
}

/** What umoci puts in a layer of an xattr on disk: not the host's SELinux label, nor overlayfs's own, nor an empty value. */
const UMOCI_CARRIES = (name: string, value: string) =>
  name !== 'security.selinux' && !name.startsWith('trusted.overlay.') && value !== '0x';

test('a directory layer carries every xattr umoci carries: user.*, trusted.*, security.capability, POSIX ACLs, on files, directories and symlinks', async () => {
  for (const tool of ['setfattr', 'getfattr', 'setcap', 'umoci', 'tar']) requireTool(tool);
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    const p = (...parts: string[]) => join(root, ...parts);
    mkdirSync(p('shared', 'team'), { recursive: true });
    mkdirSync(p('upper'));
    writeFileSync(p('plain'), 'no xattrs\n');
    writeFileSync(p('doc.txt'), 'tagged\n');
    setfattr(p('doc.txt'), 'user.mime_type', 'text/plain');
    setfattr(p('doc.txt'), 'trusted.md5', '0xdeadbeef');
    // Binary and large: ext4 holds up to a block per inode.
    setfattr(p('doc.txt'), 'user.blob', `0x${pseudoRandom(3000).toString('hex')}`);
    setfattr(p('doc.txt'), 'user.empty', '');
    setfattr(p('doc.txt'), 'security.selinux', 'system_u:object_r:etc_t:s0');
    linkSync(p('doc.txt'), p('doc-link.txt'));
    writeFileSync(p('ping'), 'binary\n');
    run('setcap', ['cap_net_raw+ep', p('ping')]);
    symlinkSync('doc.txt', p('sym'));
    setfattr(p('sym'), 'trusted.on-link', 'yes', true);
    // A group-shared directory: user 1000 may write, new files inherit group 50's access.
    setfattr(p('shared'), 'system.posix_acl_access', acl([[0x01, 7], [0x02, 7, 1000], [0x04, 5], [0x10, 7], [0x20, 5]]));
    setfattr(p('shared'), 'system.posix_acl_default', acl([[0x01, 7], [0x04, 5], [0x08, 5, 50], [0x10, 5], [0x20, 5]]));
    writeFileSync(p('shared', 'team', 'notes'), 'notes\n');
    setfattr(p('shared', 'team', 'notes'), 'system.posix_acl_access', acl([[0x01, 6], [0x02, 4, 33], [0x04, 4], [0x10, 4], [0x20, 4]]));
    setfattr(p('upper'), 'trusted.overlay.opaque', 'y');
    // Names getfattr quotes: the scan must find the same files the walk does.
    writeFileSync(p('a=b\nc\\dé'), 'odd name\n');
    setfattr(p('a=b\nc\\dé'), 'user.odd', 'odd');
    // A name a pax record cannot hold: left out with a word (umoci insert fails on it).
    writeFileSync(p('eq'), 'eq\n');
    setfattr(p('eq'), 'user.x=y', 'v');

    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', root, '--layout', layout, '--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('warning')),
      [`ocipush: warning: ${p('eq')}: xattr "user.x=y" left out (a tar xattr name cannot hold "=")`]);

    const want = xattrsOf(root, UMOCI_CARRIES);
    want.delete('eq');
    assert.ok(want.get('shared')?.some((l) => l.startsWith('system.posix_acl_default=')), 'the source has what is checked');

    run('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.path, 'bundle')]);
    assert.deepEqual(xattrsOf(join(tmp.path, 'bundle', 'rootfs')), want, 'umoci unpack gives the source tree xattrs');

    // What umoci insert makes of the same tree unpacks to the same xattrs.
    run('setfattr', ['-x', 'user.x=y', p('eq')]);
    const umociLayout = join(tmp.path, 'umoci-layout');
    run('umoci', ['init', '--layout', umociLayout]);
    run('umoci', ['new', '--image', `${umociLayout}:t`]);
    run('umoci', ['insert', '--image', `${umociLayout}:t`, root, '/']);
    run('umoci', ['unpack', '--image', `${umociLayout}:t`, join(tmp.path, 'umoci-bundle')]);
    assert.deepEqual(xattrsOf(join(tmp.path, 'umoci-bundle', 'rootfs')), want, 'as umoci insert carries them');

    // GNU tar reads them from the layer too.
    const index = JSON.parse(run('cat', [join(layout, 'index.json')])) as { manifests: { digest: string }[] };
    const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
    const manifest = JSON.parse(run('cat', [blob(index.manifests[0]!.digest)])) as { layers: { digest: string }[] };
    const extracted = join(tmp.path, 'tar-x');
    mkdirSync(extracted);
    run('tar', ['--xattrs', '--xattrs-include=*', '-xzf', blob(manifest.layers[0]!.digest), '-C', extracted]);
    assert.deepEqual(xattrsOf(extracted), want, 'tar --xattrs -x gives the source tree xattrs');

    // Each name of a hard-linked file has them in its own header, as umoci insert writes it: an
    // unpacker that chowns a hard link (containerd) clears its capability unless the link has it too.
    const umociIndex = JSON.parse(run('cat', [join(umociLayout, 'index.json')])) as { manifests: { digest: string }[] };
    const umociBlob = (d: string) => join(umociLayout, 'blobs', 'sha256', d.slice('sha256:'.length));
    const umociManifest = JSON.parse(run('cat', [umociBlob(umociIndex.manifests[0]!.digest)])) as { layers: { digest: string }[] };
    const ours = entriesWithXattrs(blob(manifest.layers[0]!.digest));
    assert.ok(ours.has('doc-link.txt'), [...ours].join(', '));
    assert.deepEqual(ours, entriesWithXattrs(umociBlob(umociManifest.layers.at(-1)!.digest)));
  } finally {
    await tmp.cleanup();
  }
});
