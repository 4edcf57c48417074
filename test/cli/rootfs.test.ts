import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, run, tempDir } from '../support/tools.js';
import { assertSameTree } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { validate } from './json-schema.js';
import { makeLayeredImage } from './layered-image.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;
const env = envWith();

/** The tree `tar -x` makes of a tar file, as root (owners and modes kept). */
function untar(file: string, name: string): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir);
  run('tar', ['-C', dir, '-xpf', file]);
  return dir;
}

before(async () => {
  tmp = await tempDir();
  layout = makeLayeredImage(tmp.path);
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

  it('keeps what a text header would lose: names that are not UTF-8, a binary capability, ids above 262143, times after 2038, other xattrs', async () => {
    const tree = join(tmp.path, 'bytes-tree');
    mkdirSync(tree);
    // Two names one byte apart, neither UTF-8: decoded as text, both became "n\uFFFD".
    const names = [Buffer.from('n\xfe', 'latin1'), Buffer.from('n\xff', 'latin1')].map((n) => Buffer.concat([Buffer.from(`${tree}/`), n]));
    names.forEach((name, i) => writeFileSync(name, `${i}\n`));
    writeFileSync(join(tree, 'capfile'), 'cap\n');
    // cap_setuid and cap_sys_admin: the value holds bytes above 0x7f.
    run('setcap', ['cap_setuid,cap_sys_admin+ep', join(tree, 'capfile')]);
    run('setfattr', ['-n', 'user.note', '-v', 'kept', join(tree, 'capfile')]);
    // An xattr name that is not UTF-8 (argv would be UTF-8: printf makes the byte).
    run('sh', ['-c', 'setfattr -n "$(printf \'user.\\351t\\351\')" -v v "$1"', 'sh', join(tree, 'capfile')]);
    writeFileSync(join(tree, 'owned'), 'owned\n');
    chownSync(join(tree, 'owned'), 300_000, 400_000);
    writeFileSync(join(tree, 'future'), 'after 2038\n');
    utimesSync(join(tree, 'future'), 2_600_000_000, 2_600_000_000);
    const image = `${join(tmp.path, 'bytes-layout')}:t`;
    run('umoci', ['init', '--layout', join(tmp.path, 'bytes-layout')]);
    run('umoci', ['new', '--image', image]);
    run('umoci', ['insert', '--image', image, tree, '/']);
    const bundle = join(tmp.path, 'bytes-bundle');
    run('umoci', ['unpack', '--image', image, bundle]);

    const tarFile = join(tmp.path, 'bytes.tar');
    assertOk(await runCliAsync(['rootfs', `oci:${image}`, '-o', tarFile], { env }));
    const unpacked = join(tmp.path, 'bytes-unpacked');
    mkdirSync(unpacked);
    run('tar', ['-C', unpacked, '--numeric-owner', '--xattrs', '--xattrs-include=*', '-xpf', tarFile]);
    assertSameTree(join(bundle, 'rootfs'), unpacked);
    assert.equal(readdirSync(unpacked, { encoding: 'buffer' }).filter((n) => n[0] === 0x6e).length, 2, 'both names');
    assert.equal(lstatSync(join(unpacked, 'future')).mtimeMs, 2_600_000_000_000);
    assert.match(run('getfattr', ['-n', 'user.note', join(unpacked, 'capfile')]), /user\.note="kept"/);
    const xattrBytes = (root: string) => run('sh', ['-c', 'getfattr -d -m - -e hex "$1" | tail -n +2 | od -An -tx1 | tr -d " \\n"', 'sh', join(root, 'capfile')]);
    assert.ok(xattrBytes(unpacked).includes(Buffer.from('user.\xe9t\xe9=0x76', 'latin1').toString('hex')), 'the name\'s bytes kept');
    assert.equal(xattrBytes(unpacked), xattrBytes(join(bundle, 'rootfs')));
  });

  it('a hard link whose target a layer above replaced or deleted keeps the file it linked to, as umoci unpacks it', async () => {
    const dir = join(tmp.path, 'orphans');
    const layout = join(dir, 'layout');
    const image = `${layout}:t`;
    const tree = (name: string, files: Record<string, string>) => {
      const root = join(dir, name);
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(root, path, '..'), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      return root;
    };
    mkdirSync(dir);
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', image]);
    // Layer 1: a/keep with two more links, a/gone with one: the links come after their targets.
    const r1 = tree('r1', { 'a/keep': 'old keep\n', 'a/gone': 'old gone\n' });
    mkdirSync(join(r1, 'd'));
    linkSync(join(r1, 'a/keep'), join(r1, 'd/hard'));
    linkSync(join(r1, 'a/keep'), join(r1, 'd/hard3'));
    linkSync(join(r1, 'a/gone'), join(r1, 'd/hard2'));
    run('umoci', ['insert', '--image', image, r1, '/']);
    // Layer 2 (GNU tar): f/link to the a/keep of layer 1, which this layer does not hold.
    const r2 = tree('r2', { 'a/keep': 'old keep\n' });
    mkdirSync(join(r2, 'f'));
    linkSync(join(r2, 'a/keep'), join(r2, 'f/link'));
    const layer = join(dir, 'r2.tar');
    run('tar', ['-C', r2, '--numeric-owner', '-cf', layer, 'a/keep', 'f', 'f/link']);
    run('tar', ['--delete', '-f', layer, 'a/keep']);
    run('umoci', ['raw', 'add-layer', '--image', image, layer]);
    // Layer 3 replaces a/keep, layer 4 deletes a/gone: only names go, the links keep the old files.
    run('umoci', ['insert', '--image', image, tree('r3', { 'a/keep': 'new keep\n' }), '/']);
    run('umoci', ['insert', '--image', image, '--whiteout', '/a/gone']);
    const bundle = join(dir, 'bundle');
    run('umoci', ['unpack', '--image', image, bundle]);

    const tarFile = join(dir, 'fs.tar');
    const r = await runCliAsync(['rootfs', `oci:${image}`, '-o', tarFile, '--json'], { env });
    assertOk(r);
    assert.equal(JSON.parse(r.stdout).danglingLinks, 0);
    const unpacked = untar(tarFile, 'orphans-unpacked');
    assertSameTree(join(bundle, 'rootfs'), unpacked);
    assert.equal(readFileSync(join(unpacked, 'd/hard'), 'utf8'), 'old keep\n');
    assert.equal(readFileSync(join(unpacked, 'd/hard2'), 'utf8'), 'old gone\n');
  });

  it('counts in words that agree: 1 entry from 1 layer (it said "1 entries from 1 layers")', async () => {
    const tree = join(tmp.path, 'one-file');
    mkdirSync(tree);
    writeFileSync(join(tree, 'only'), 'only\n');
    const at = join(tmp.path, 'one-layout');
    assertOk(await runCliAsync(['build', tree, '--layout', at, '--tag', 'one', '-q']));
    const r = await runCliAsync(['rootfs', `oci:${at}:one`, '-o', join(tmp.path, 'one.tar')]);
    assertOk(r);
    assert.match(r.stderr, /: 1 entry from 1 layer, 0 hidden by the layers above\n$/);
    assert.deepEqual(run('tar', ['-tf', join(tmp.path, 'one.tar')]).split('\n').filter(Boolean), ['only']);
  });

  it('streams the layers from a registry to stdout, for a pipe', async () => {
    const r = await runCliAsync(['rootfs', `${registry.host}/fs/app:1`, '-o', join(tmp.path, 'from-registry.tar')], { env });
    assertOk(r);
    assert.match(r.stderr, /^wrote the filesystem of .*\/fs\/app:1 \(linux\/amd64, sha256:[0-9a-f]{64}\) to .*from-registry\.tar: \d+ entries from 7 layers, \d+ hidden by the layers above\n$/);
    const listing = execFileSync('sh', ['-c', `"${process.execPath}" "${join(process.cwd(), 'bin', 'ocipush.js')}" rootfs ${registry.host}/fs/app:1 | tar -tf - | sort`], { encoding: 'utf8', env: { ...process.env, ...env, DOCKER_CONFIG: missingPath('docker-config') } });
    assert.ok(listing.includes('f/link\n') && listing.includes('b/x\n') && !listing.includes('a/gone'), listing);
    assert.ok(!listing.split('\n').some((name) => name.startsWith('/')), 'names are relative (umoci\'s layers name the root /)');
    // Nothing but the tar on stdout: its end blocks are the last bytes (the digest goes to stderr).
    const raw = await runCliAsync(['rootfs', `${registry.host}/fs/app:1`], { env });
    assertOk(raw);
    assert.ok(raw.stdout.length > 1024 && raw.stdout.length % 512 === 0, `a tar of whole blocks, not ${raw.stdout.length} bytes`);
    assert.ok(/\0{1024}$/.test(raw.stdout), 'ends with the two zero blocks');
  });

  it('--platform linux/arm/v7 of an index that ships arm/v6: the filesystem of the arm/v6 image, which skopeo takes too, as pull and inspect take it', async () => {
    const dir = join(tmp.path, 'variants');
    const layout = join(dir, 'layout');
    mkdirSync(join(dir, 'tree'), { recursive: true });
    writeFileSync(join(dir, 'tree', 'arch'), 'arm/v6\n');
    assertOk(await runCliAsync(['build', join(dir, 'tree'), '--layout', layout, '--tag', 'v6', '--platform', 'linux/arm/v6'], { env }));
    assertOk(await runCliAsync(['index', 'create', 'v6', '--tag', 'idx', '--layout', layout], { env }));
    run('skopeo', ['copy', '-q', '--override-os', 'linux', '--override-arch', 'arm', '--override-variant', 'v7', `oci:${layout}:idx`, `oci:${join(dir, 'skopeo')}:x`]);
    const chosen = (JSON.parse(readFileSync(join(dir, 'skopeo', 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;

    const tarFile = join(dir, 'fs.tar');
    const r = await runCliAsync(['rootfs', `oci:${layout}:idx`, '--platform', 'linux/arm/v7', '-o', tarFile, '--json'], { env });
    assertOk(r);
    assert.deepEqual({ digest: JSON.parse(r.stdout).digest, platform: JSON.parse(r.stdout).platform }, { digest: chosen, platform: 'linux/arm/v6' });
    assert.equal(readFileSync(join(untar(tarFile, 'variants-unpacked'), 'arch'), 'utf8'), 'arm/v6\n');
    // One image is what it is: arm/v6 asked for as arm/v7 is refused, as pull refuses it.
    assertOneLineError(await runCliAsync(['rootfs', `oci:${layout}:v6`, '--platform', 'linux/arm/v7', '-o', join(dir, 'single.tar')], { env }), /is for linux\/arm\/v6, not linux\/arm\/v7/, 2);
    assertOneLineError(await runCliAsync(['rootfs', `oci:${layout}:idx`, '--platform', 'linux/arm64', '-o', join(dir, 'none.tar')], { env }), /^ocipush: \S+: no manifest for linux\/arm64 \(the index has: linux\/arm\/v6\)$/);
  });

  it('a layer whose bytes are not its digest: one line naming the image, its platform and the layer, as validate names it, and no file', async () => {
    const broken = join(tmp.path, 'broken-layer');
    cpSync(layout, broken, { recursive: true });
    const blob = (digest: string) => join(broken, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const index = JSON.parse(readFileSync(join(broken, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const root = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 't')!;
    const top = (JSON.parse(readFileSync(blob(root.digest), 'utf8')) as { layers: { digest: string }[] }).layers.at(-1)!.digest;
    const bytes = readFileSync(blob(top));
    bytes[bytes.length - 9] ^= 0xff;
    writeFileSync(blob(top), bytes);
    assert.throws(() => run('umoci', ['unpack', '--image', `${broken}:t`, join(tmp.path, 'broken-bundle')]), /unpack layer: /, 'umoci refuses the layer too');

    const out = join(tmp.path, 'broken.tar');
    const r = await runCliAsync(['rootfs', `oci:${broken}:t`, '-o', out], { env });
    assertOneLineError(r, new RegExp(`^ocipush: oci:\\S+:t linux/amd64 layer ${top}: blob ${top} .*content has digest sha256:[0-9a-f]{64}, expected ${top}$`));
    assert.ok(!existsSync(out), 'no tar written');
  });

  it('refuses what it cannot do with one line, and a failed write leaves no file', async () => {
    const json = await runCliAsync(['rootfs', `oci:${layout}:t`, '--json'], { env });
    assert.equal(json.status, 2);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'EUSAGE', message: '--json needs -o FILE: stdout carries the tar' } });
    assertOneLineError(await runCliAsync(['rootfs', `oci:${layout}:nope`, '-o', join(tmp.path, 'none.tar')], { env }), /^ocipush: .*no image tagged "nope"/);
    assert.ok(!readdirSync(tmp.path).some((name) => name.startsWith('none.tar')), 'nothing written, not even a temp file');
  });
  it('refuses a Windows image of several layers with one line and writes nothing: a merge by path kept only the top layer\'s registry delta', async () => {
    const dir = join(tmp.path, 'windows-layout');
    const layer = (name: string, files: Record<string, string>) => {
      const root = join(tmp.path, name);
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(root, path, '..'), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      return root;
    };
    // Laid out as Windows layers are: files under Files/, the base's hives, each layer's registry
    // changes as Hives/*_Delta under the same name (Windows applies every one of them in turn).
    const base = layer('win-base', { 'Files/Windows/win.ini': 'base\n', 'Hives/SOFTWARE': 'hive\n' });
    assertOk(await runCliAsync(['build', base, layer('win-1', { 'Hives/Software_Delta': 'delta 1\n' }), layer('win-2', { 'Hives/Software_Delta': 'delta 2\n' }), '--platform', 'windows/amd64', '--layout', dir, '--tag', 'win'], { env }));
    assertOk(await runCliAsync(['build', base, '--platform', 'windows/amd64', '--layout', dir, '--tag', 'win-base'], { env }));
    const out = join(tmp.path, 'windows.tar');
    const refused = /^ocipush: oci:\S+:win \(windows\/amd64\) is a Windows image: its layers are applied by Windows \(registry deltas onto the base layer\), and ocipush cannot merge them into one filesystem; nothing written$/;
    assertOneLineError(await runCliAsync(['rootfs', `oci:${dir}:win`, '-o', out], { env }), refused);
    assert.ok(!readdirSync(tmp.path).some((name) => name.startsWith('windows.tar')), 'nothing written, not even a temp file');
    assertOneLineError(await runCliAsync(['rootfs', `oci:${dir}:win`], { env }), refused);
    // A base alone is its filesystem: nothing to apply onto it.
    assertOk(await runCliAsync(['rootfs', `oci:${dir}:win-base`, '-o', out], { env }));
    assert.equal(readFileSync(join(untar(out, 'windows-base'), 'Hives', 'SOFTWARE'), 'utf8'), 'hive\n');
  });
});
