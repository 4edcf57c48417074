import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, readSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { envWith, skopeoFails, skopeoRaw } from '../cli/copy-support.js';
import { podman, podmanSavedImage, skopeo, tempFilesIn } from './support.js';

/**
 * Archives as podman save writes them (the legacy docker save layout: `<diff_id>.tar` layers,
 * `<id>/layer.tar` links, `repositories`, no manifest among the blobs), read by `copy`.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let legacy: string;
let ociArchive: string;
let p: ReturnType<typeof podman>;
const env = envWith();

before(async () => {
  tmp = await tempDir('ocipush-archive-reader-');
  registry = await startRegistry();
  const saved = podmanSavedImage(tmp.path);
  legacy = saved.dockerArchive;
  ociArchive = saved.ociArchive;
  p = saved.podman;
});
after(async () => {
  p?.cleanup();
  await registry?.stop();
  await tmp?.cleanup();
});

/** Flips one byte `at` bytes into the member's data of the first member named `<64 hex>.tar`. */
function corruptLayer(source: string, target: string, at: number): void {
  copyFileSync(source, target);
  const list = skopeo(['inspect', '--config', '--raw', `docker-archive:${source}`]);
  const diffId = (JSON.parse(list) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids[0]!.slice('sha256:'.length);
  const fd = openSync(target, 'r+');
  try {
    const header = Buffer.alloc(512);
    for (let offset = 0; ; ) {
      assert.equal(readSync(fd, header, 0, 512, offset), 512, 'layer member found');
      const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
      const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
      if (name === `${diffId}.tar`) {
        const byte = Buffer.alloc(1);
        readSync(fd, byte, 0, 1, offset + 512 + at);
        byte[0] = byte[0]! ^ 0xff;
        writeSync(fd, byte, 0, 1, offset + 512 + at);
        return;
      }
      offset += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
}

/** The first `bytes` of `source` up to the header of its member `name`: an archive cut short between two members. */
function cutBefore(source: string, target: string, name: string): void {
  const fd = openSync(source, 'r');
  try {
    const header = Buffer.alloc(512);
    for (let offset = 0; ; ) {
      assert.equal(readSync(fd, header, 0, 512, offset), 512, `${name} found`);
      const member = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
      if (member === name || member === `./${name}`) {
        const head = Buffer.alloc(offset);
        readSync(fd, head, 0, offset, 0);
        writeFileSync(target, head);
        return;
      }
      const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
      offset += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
}

describe('archives cut short between two members (a copy or a download that did not finish)', () => {
  it('are named as truncated in one line, as skopeo refuses them, and a copy leaves no layout behind', async () => {
    for (const [transport, source, last] of [['docker-archive', legacy, 'manifest.json'], ['oci-archive', ociArchive, 'index.json']] as const) {
      const cut = join(tmp.path, `cut-${transport}.tar`);
      cutBefore(source, cut, last);
      assert.throws(() => skopeo(['inspect', `${transport}:${cut}`]), /manifest\.json|index\.json|no such file/, `skopeo refuses the cut ${transport}`);
      const layout = join(tmp.path, `cut-${transport}-layout`);
      const r = await runCliAsync(['copy', '-q', `${transport}:${cut}`, `oci:${layout}:app`], { env });
      assertOneLineError(r, new RegExp(`^ocipush: .*cut-${transport}\\.tar: not an? (docker|OCI) archive \\(no [^)]*\\); it stops at byte \\d+ without tar's end-of-archive blocks: truncated$`));
      assert.equal(existsSync(layout), false, 'no layout left behind');
    }
    // A file too short to hold a tar header is no archive cut short.
    const junk = join(tmp.path, 'junk.tar');
    writeFileSync(junk, 'not an archive\n');
    assertOneLineError(await runCliAsync(['copy', '-q', `docker-archive:${junk}`, `oci:${join(tmp.path, 'junk-layout')}:app`], { env }), /junk\.tar: not a docker archive \(no manifest\.json\)$/);
  });
});

describe('docker-archive: podman save (legacy layout) as a copy source', () => {
  it('a layer whose bytes are not its diff_id fails the copy, naming the layer, as podman load refuses it', async () => {
    const bad = join(tmp.path, 'bad.tar');
    corruptLayer(legacy, bad, 200_000);
    const fresh = podman(join(tmp.path, 'podman-fresh'));
    try {
      assert.throws(() => fresh.run(['load', '-i', bad]), /Digest did not match/, 'podman load refuses the archive');
    } finally {
      fresh.cleanup();
    }

    const up = await runCliAsync(['copy', '-q', `docker-archive:${bad}`, `${registry.host}/reader/bad:1`], { env });
    assertOneLineError(up, /^ocipush: .*bad\.tar: [a-f0-9]{64}\.tar, blob sha256:[a-f0-9]{64}: content has digest sha256:[a-f0-9]{64}, expected sha256:/);
    assert.match((await skopeoFails(`${registry.host}/reader/bad:1`)) ?? '', /manifest unknown/, 'no image was tagged');

    const out = join(tmp.path, 'out');
    mkdirSync(out);
    const local = await runCliAsync(['copy', `docker-archive:${bad}`, `docker-archive:${join(out, 'copy.tar')}`], { env });
    assert.equal(local.status, 1, local.stderr);
    assert.deepEqual([existsSync(join(out, 'copy.tar')), tempFilesIn(out)], [false, []], 'nothing left behind');
  });

  it('the intact archive goes to a registry with its layers under their diff_ids, which skopeo and podman read', async () => {
    const up = await runCliAsync(['copy', `docker-archive:${legacy}`, `${registry.host}/reader/good:1`], { env });
    assertOk(up);
    const config = JSON.parse(skopeo(['inspect', '--config', '--raw', `docker-archive:${legacy}`])) as { rootfs: { diff_ids: string[] } };
    const manifest = JSON.parse((await skopeoRaw(`${registry.host}/reader/good:1`)).bytes.toString()) as { layers: { digest: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.digest), config.rootfs.diff_ids);
    const pulled = podman(join(tmp.path, 'podman-pull'));
    try {
      pulled.run(['pull', '-q', '--tls-verify=false', `${registry.host}/reader/good:1`]);
    } finally {
      pulled.cleanup();
    }
  });

  it('@N picks an image by position as skopeo does, and the line names the archive as typed', async () => {
    const up = await runCliAsync(['copy', `docker-archive:${basename(legacy)}:@0`, `${registry.host}/reader/first:1`], { env, cwd: dirname(legacy) });
    assertOk(up);
    assert.match(up.stderr, new RegExp(`copied docker-archive:${basename(legacy).replace('.', '\\.')}:@0 to ${registry.host}/reader/first:1 `));
    const expected = skopeo(['inspect', '--config', '--raw', `docker-archive:${legacy}:@0`]);
    const copied = skopeo(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/reader/first:1`]);
    assert.equal(copied, expected);
  });

  it('NAME@DIGEST picks the image with that manifest digest, and another digest none, where skopeo refuses a digest', async () => {
    const name = 'localhost:5000/saved/app';
    assert.throws(() => skopeo(['inspect', `docker-archive:${legacy}:${name}@sha256:${'0'.repeat(64)}`]), /does not include a tag/);
    const wrong = await runCliAsync(['copy', '-q', `docker-archive:${legacy}:${name}@sha256:${'0'.repeat(64)}`, `${registry.host}/reader/pinned:1`], { env });
    assertOneLineError(wrong, /: no image with digest sha256:0{64} \(the archive has: localhost:5000\/saved\/app:1 sha256:[a-f0-9]{64}\)$/);
    assert.match((await skopeoFails(`${registry.host}/reader/pinned:1`)) ?? '', /manifest unknown/, 'nothing was copied');

    const digest = /sha256:[a-f0-9]{64}/.exec(wrong.stderr.split('(the archive has: ')[1]!)![0];
    const right = await runCliAsync(['copy', `docker-archive:${legacy}:${name}@${digest}`, `${registry.host}/reader/pinned:1`], { env });
    assertOk(right);
    assert.equal(right.stdout.trim(), digest);
    assert.equal(skopeo(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/reader/pinned:1`]), skopeo(['inspect', '--config', '--raw', `docker-archive:${legacy}`]));
  });

  it('a name that picks nothing lists every name the archive answers to, each of which copies as skopeo reads it', async () => {
    // podman save -m of one image under two names, and a second image: three names, two images.
    p.run(['tag', 'localhost:5000/saved/app:1', 'example.com/other/app:2']);
    const base = join(tmp.path, 'base.tar');
    runCliOk(['mutate', '-q', `docker-archive:${legacy}`, `docker-archive:${base}:localhost/base:1`, '--label', 'second=image']);
    p.run(['load', '-q', '-i', base]);
    const multi = join(tmp.path, 'multi.tar');
    p.run(['save', '-m', '--format', 'docker-archive', '-o', multi, 'localhost:5000/saved/app:1', 'example.com/other/app:2', 'localhost/base:1']);
    assert.equal(JSON.parse(run('tar', ['-xOf', multi, 'manifest.json'])).length, 2, 'two images');

    const none = await runCliAsync(['copy', '-q', `docker-archive:${multi}:nope/app:1`, `${registry.host}/reader/nope:1`], { env });
    assertOneLineError(none, /no image named "nope\/app:1" \(the archive has: (.*)\)$/);
    const listed = /\(the archive has: (.*)\)$/.exec(none.stderr.trim())![1]!.split(', ').sort();
    assert.deepEqual(listed, ['example.com/other/app:2', 'localhost/base:1', 'localhost:5000/saved/app:1']);
    for (const name of listed) {
      const up = await runCliAsync(['copy', '-q', `docker-archive:${multi}:${name}`, `${registry.host}/reader/listed:1`], { env });
      assertOk(up);
      const copied = skopeo(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/reader/listed:1`]);
      assert.equal(copied, skopeo(['inspect', '--config', '--raw', `docker-archive:${multi}:${name}`]), name);
    }
  });
});

/**
 * An archive in the legacy docker save layout (`<id>/layer.tar` members, no manifest among them)
 * of one image whose layers are `layers` as stored, each with the tar it holds.
 */
function legacyArchive(name: string, layers: { stored: Buffer; tar: Buffer }[], edit: (entry: Record<string, unknown>) => void = () => {}): string {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const dir = join(tmp.path, name);
  mkdirSync(dir);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l.tar)}`) } }));
  writeFileSync(join(dir, `${sha(config)}.json`), config);
  const paths = layers.map((l, i) => {
    mkdirSync(join(dir, `layer${i}`));
    writeFileSync(join(dir, `layer${i}`, 'layer.tar'), l.stored);
    return `layer${i}/layer.tar`;
  });
  const entry: Record<string, unknown> = { Config: `${sha(config)}.json`, RepoTags: [`localhost/${name}:1`], Layers: paths };
  edit(entry);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([entry]));
  const file = join(tmp.path, `${name}.tar`);
  run('tar', ['-C', dir, '-cf', file, '.']);
  return file;
}

/** A tar of one file, as GNU tar writes it. */
function tarOfFile(name: string, content: string): Buffer {
  const dir = join(tmp.path, `tree-${name}`);
  mkdirSync(dir);
  writeFileSync(join(dir, name), content);
  return execFileSync('tar', ['-C', dir, '-cf', '-', name]);
}

describe('docker-archive: layers of every shape docker and podman load take', () => {
  it('a 0-byte layer (an empty tar) is read, as podman load reads it, not an internal error', async () => {
    const files = tarOfFile('hello.txt', 'hello\n');
    const archive = legacyArchive('empty-layer', [{ stored: files, tar: files }, { stored: Buffer.alloc(0), tar: Buffer.alloc(0) }]);
    const loaded = podman(join(tmp.path, 'podman-empty-layer'));
    try {
      assert.match(loaded.run(['load', '-i', archive]), /Loaded image.*empty-layer:1/);
    } finally {
      loaded.cleanup();
    }
    const ref = `${registry.host}/reader/empty-layer:1`;
    assertOk(await runCliAsync(['copy', '-q', `docker-archive:${archive}`, ref], { env }));
    const manifest = JSON.parse((await skopeoRaw(ref)).bytes.toString()) as { layers: { digest: string; size: number }[] };
    assert.deepEqual(manifest.layers[1], { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: `sha256:${createHash('sha256').update('').digest('hex')}`, size: 0 });
    const fsTar = join(tmp.path, 'empty-layer-fs.tar');
    assertOk(await runCliAsync(['rootfs', ref, '-o', fsTar, '-q'], { env }));
    assert.deepEqual(run('tar', ['-tf', fsTar]).split('\n').filter(Boolean), ['hello.txt']);
  });

  it('an image without layers ("Layers": null, Go\'s empty list, as docker save writes FROM scratch and LABELs) is read, as skopeo and podman load read it', async () => {
    const archive = legacyArchive('no-layers', [], (entry) => { entry.Layers = null; });
    const loaded = podman(join(tmp.path, 'podman-no-layers'));
    try {
      assert.match(loaded.run(['load', '-i', archive]), /Loaded image.*no-layers:1/);
    } finally {
      loaded.cleanup();
    }
    const ref = `${registry.host}/reader/no-layers:1`;
    assertOk(await runCliAsync(['copy', '-q', `docker-archive:${archive}`, ref], { env }));
    assert.equal(skopeo(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${ref}`]), skopeo(['inspect', '--config', '--raw', `docker-archive:${archive}`]));
    assert.deepEqual((JSON.parse((await skopeoRaw(ref)).bytes.toString()) as { layers: unknown[] }).layers, []);
  });

  it('a zstd layer: the image is described in OCI media types, Docker\'s having no zstd, so skopeo and podman read it', async () => {
    const lower = tarOfFile('lower.txt', 'lower\n');
    const upper = tarOfFile('upper.txt', 'upper\n');
    const zstd = execFileSync('zstd', ['-q', '-c'], { input: upper });
    const archive = legacyArchive('zstd-layer', [{ stored: gzipSync(lower), tar: lower }, { stored: zstd, tar: upper }]);
    const ref = `${registry.host}/reader/zstd-layer:1`;
    assertOk(await runCliAsync(['copy', '-q', `docker-archive:${archive}`, ref], { env }));
    const manifest = JSON.parse((await skopeoRaw(ref)).bytes.toString()) as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.deepEqual([manifest.mediaType, manifest.config.mediaType, ...manifest.layers.map((l) => l.mediaType)], [
      'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.config.v1+json',
      'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd',
    ]);
    assert.match(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`]), /"Layers"/);
    const pulled = podman(join(tmp.path, 'podman-zstd-layer'));
    try {
      pulled.run(['pull', '-q', '--tls-verify=false', ref]);
    } finally {
      pulled.cleanup();
    }
    assertOk(await runCliAsync(['validate', '-q', ref], { env }));
  });
});

describe('docker-archive: a small layer whose bytes are not its diff_id', () => {
  it('copy into a new layout or a registry and rootfs fail in one line, not a crash, and leave nothing behind', async () => {
    const files = tarOfFile('small.txt', 'small\n');
    const other = Buffer.from(files);
    other[600] = other[600]! ^ 0xff;
    // One read of the file holds all of it: the digest check fails as the reader has just peeked at its first bytes.
    const archive = legacyArchive('small-bad-layer', [{ stored: other, tar: files }]);
    const loaded = podman(join(tmp.path, 'podman-small-bad-layer'));
    try {
      assert.throws(() => loaded.run(['load', '-i', archive]), /Digest did not match|digest/i, 'podman load refuses the archive');
    } finally {
      loaded.cleanup();
    }
    const mismatch = /^ocipush: .*small-bad-layer\.tar: layer0\/layer\.tar, blob sha256:[a-f0-9]{64}: content has digest sha256:[a-f0-9]{64}, expected sha256:[a-f0-9]{64}$/;

    const layout = join(tmp.path, 'small-bad-layout');
    assertOneLineError(await runCliAsync(['copy', '-q', `docker-archive:${archive}`, `oci:${layout}:app`], { env }), mismatch);
    assert.equal(existsSync(layout), false, 'no layout left behind');

    const ref = `${registry.host}/reader/small-bad:1`;
    assertOneLineError(await runCliAsync(['copy', '-q', `docker-archive:${archive}`, ref], { env }), mismatch);
    assert.match((await skopeoFails(ref)) ?? '', /manifest unknown/, 'no image was tagged');

    const out = join(tmp.path, 'small-bad-out');
    mkdirSync(out);
    assertOneLineError(await runCliAsync(['rootfs', '-q', `docker-archive:${archive}`, '-o', join(out, 'fs.tar')], { env }), mismatch);
    assert.deepEqual([existsSync(join(out, 'fs.tar')), tempFilesIn(out)], [false, []], 'nothing left behind');
  });
});

function runCliOk(args: string[]): void {
  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
}
