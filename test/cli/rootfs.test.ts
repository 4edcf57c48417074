import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, writeFileSync, chmodSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertSameTree } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { validate } from './json-schema.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;
const env = envWith();

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** The tree `tar -x` makes of a tar file, as root (owners and modes kept). */
function untar(file: string, name: string): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir);
  run('tar', ['-C', dir, '-xpf', file]);
  return dir;
}

/**
 * An image umoci built (an independent implementation), whose layers do what layers do: a file
 * replaced, one deleted (a whiteout), a directory made opaque, a directory replaced by a file, a
 * setuid file, a symlink, a hard link in one layer, and a hard link in an upper layer to a file a
 * lower layer holds (a layer GNU tar wrote, added verbatim).
 */
before(async () => {
  requireTool('umoci');
  tmp = await tempDir();
  layout = join(tmp.path, 'layout');
  const image = `${layout}:t`;
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', image]);
  const r1 = join(tmp.path, 'r1');
  write(r1, { 'a/keep': 'keep\n', 'a/gone': 'gone\n', 'b/x': 'old\n', 'c/sub/f': 'c1\n', 'c/old': 'c2\n', 'g/child': 'under a dir that becomes a file\n' });
  mkdirSync(join(r1, 'd'));
  linkSync(join(r1, 'a', 'keep'), join(r1, 'd', 'hard'));
  symlinkSync('../a/keep', join(r1, 'd', 'sym'));
  chmodSync(join(r1, 'a', 'keep'), 0o4755);
  run('umoci', ['insert', '--image', image, r1, '/']);
  run('umoci', ['insert', '--image', image, '--whiteout', '/a/gone']);
  const r2 = join(tmp.path, 'r2');
  write(r2, { 'b/x': 'new\n', 'c/new': 'cnew\n' });
  run('umoci', ['insert', '--image', image, join(r2, 'b'), '/b']);
  run('umoci', ['insert', '--image', image, '--opaque', join(r2, 'c'), '/c']);
  run('umoci', ['insert', '--image', image, '--whiteout', '/g']);
  const r3 = join(tmp.path, 'r3');
  write(r3, { g: 'a file now\n' });
  run('umoci', ['insert', '--image', image, r3, '/']);
  // A hard link to a/keep, which only a lower layer holds: GNU tar writes the pair, the target is deleted from the tar.
  const r4 = join(tmp.path, 'r4');
  write(r4, { 'a/keep': 'keep\n' });
  mkdirSync(join(r4, 'f'));
  linkSync(join(r4, 'a', 'keep'), join(r4, 'f', 'link'));
  const layer = join(tmp.path, 'r4.tar');
  run('tar', ['-C', r4, '--numeric-owner', '-cf', layer, 'a/keep', 'f', 'f/link']);
  run('tar', ['--delete', '-f', layer, 'a/keep']);
  run('umoci', ['raw', 'add-layer', '--image', image, layer]);
  registry = await startRegistry();
  assertOk(await runCliAsync(['push', `${registry.host}/fs/app:1`, '--layout', layout, '--tag', 't'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('rootfs', () => {
  it('writes the filesystem the layers make: what umoci unpacks, path for path, with modes, owners and hard links', async () => {
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    const tarFile = join(tmp.path, 'fs.tar');
    const r = await runCliAsync(['rootfs', `oci:${layout}:t`, '-o', tarFile, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { entries: number; hidden: number; whiteouts: number; danglingLinks: number; layers: number };
    assert.deepEqual(validate('rootfs.schema.json', out), []);
    assert.equal(out.layers, 7);
    assert.equal(out.danglingLinks, 0);
    const unpacked = untar(tarFile, 'from-layout');
    assertSameTree(join(bundle, 'rootfs'), unpacked);
    assert.ok(!existsSync(join(unpacked, 'a', 'gone')) && !existsSync(join(unpacked, 'c', 'old')) && !existsSync(join(unpacked, 'c', 'sub')));
  });

  it('streams the layers from a registry to stdout, for a pipe', async () => {
    const r = await runCliAsync(['rootfs', `${registry.host}/fs/app:1`, '-o', join(tmp.path, 'from-registry.tar')], { env });
    assertOk(r);
    assert.match(r.stderr, /^wrote the filesystem of .*\/fs\/app:1 \(linux\/amd64, sha256:[0-9a-f]{64}\) to .*from-registry\.tar: \d+ entries from 7 layers, \d+ hidden by the layers above\n$/);
    const listing = execFileSync('sh', ['-c', `"${process.execPath}" "${join(process.cwd(), 'bin', 'ocipush.js')}" rootfs ${registry.host}/fs/app:1 | tar -tf - | sort`], { encoding: 'utf8', env: { ...process.env, ...env, DOCKER_CONFIG: '/nonexistent-docker-config' } });
    assert.ok(listing.includes('f/link\n') && listing.includes('b/x\n') && !listing.includes('a/gone'), listing);
    assert.ok(!listing.split('\n').some((name) => name.startsWith('/')), 'names are relative (umoci\'s layers name the root /)');
    // Nothing but the tar on stdout: its end blocks are the last bytes (the digest goes to stderr).
    const raw = await runCliAsync(['rootfs', `${registry.host}/fs/app:1`], { env });
    assertOk(raw);
    assert.ok(raw.stdout.length > 1024 && raw.stdout.length % 512 === 0, `a tar of whole blocks, not ${raw.stdout.length} bytes`);
    assert.ok(/\0{1024}$/.test(raw.stdout), 'ends with the two zero blocks');
  });

  it('refuses what it cannot do with one line, and a failed write leaves no file', async () => {
    const json = await runCliAsync(['rootfs', `oci:${layout}:t`, '--json'], { env });
    assert.equal(json.status, 2);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'EUSAGE', message: '--json needs -o FILE: stdout carries the tar' } });
    assertOneLineError(await runCliAsync(['rootfs', `oci:${layout}:nope`, '-o', join(tmp.path, 'none.tar')], { env }), /^ocipush: .*no image tagged "nope"/);
    assert.ok(!readdirSync(tmp.path).some((name) => name.startsWith('none.tar')), 'nothing written, not even a temp file');
  });
});
