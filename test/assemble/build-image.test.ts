import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { buildImage } from '../../src/index.js';
import { tempDir } from '../support/tools.js';
import { assertSameTree, makeRichRootfs, readImage, umociUnpack, validateLayout } from './support.js';

test('every kind of file survives rootfs → layer → umoci unpack', async () => {
  const tmp = await tempDir();
  const socketDir = join(tmp.path, 'rootfs', 'run');
  const server = createServer();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    makeRichRootfs(rootfs);
    mkdirSync(socketDir);
    await new Promise<void>((resolve) => server.listen(join(socketDir, 'daemon.sock'), resolve));
    const warnings: string[] = [];
    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [rootfs], layout, sourceDateEpoch: '', onWarning: (m) => warnings.push(m) });

    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /daemon\.sock: socket skipped/);
    assert.equal(result.tag, 'latest');
    assert.equal(result.layers.length, 1);
    assert.equal(result.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    validateLayout(layout);

    const image = readImage(layout);
    assert.equal(image.digest, result.digest);
    assert.deepEqual(image.config.rootfs, { type: 'layers', diff_ids: [result.layers[0]!.diffId] });
    assert.equal(image.config.architecture, 'amd64');
    assert.equal(image.config.os, 'linux');
    assert.equal(image.config.created, '1970-01-01T00:00:00Z');
    assert.equal(image.config.history.length, 1);
    assert.equal(image.manifest.annotations, undefined, 'no created annotation without a given time');

    const unpacked = umociUnpack(layout, 'latest', join(tmp.path, 'bundle'));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assertSameTree(rootfs, unpacked, { clampMtime: 0 });
  } finally {
    server.close();
    await tmp.cleanup();
  }
});

test('--owner gives every entry the same uid and gid', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    makeRichRootfs(rootfs);
    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [rootfs], layout, owner: '0:0', tag: 'normalised' });
    validateLayout(layout);
    const unpacked = umociUnpack(layout, 'normalised', join(tmp.path, 'bundle'));
    assertSameTree(rootfs, unpacked, { owner: { uid: 0, gid: 0 } });
  } finally {
    await tmp.cleanup();
  }
});

test('the image config carries the run settings, platform and annotations', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'app'), { recursive: true });
    const layout = join(tmp.path, 'layout');
    const result = await buildImage({
      rootfs: [rootfs],
      layout,
      tag: 'v1.2',
      entrypoint: ['/app/run', '--flag'],
      cmd: ['serve'],
      env: ['PATH=/usr/bin:/bin', 'MODE=prod'],
      workdir: '/app',
      user: '1000:1000',
      labels: { 'z.last': '1', 'a.first': '2' },
      expose: ['8080', '53/udp', '8080/tcp'],
      platform: 'linux/arm64/v8',
      created: '2024-05-01T12:00:00Z',
      annotations: { 'org.opencontainers.image.source': 'https://example.com/repo', 'org.opencontainers.image.version': '1.2' },
    });
    validateLayout(layout);
    const image = readImage(layout, 'v1.2');
    assert.equal(image.digest, result.digest);
    assert.deepEqual(image.config.config, {
      User: '1000:1000',
      ExposedPorts: { '53/udp': {}, '8080/tcp': {} },
      Env: ['PATH=/usr/bin:/bin', 'MODE=prod'],
      Entrypoint: ['/app/run', '--flag'],
      Cmd: ['serve'],
      WorkingDir: '/app',
      Labels: { 'a.first': '2', 'z.last': '1' },
    });
    assert.equal(image.config.architecture, 'arm64');
    assert.equal(image.config.variant, 'v8');
    assert.equal(image.config.created, '2024-05-01T12:00:00Z');
    assert.deepEqual(image.config.history, [{ created: '2024-05-01T12:00:00Z', created_by: 'ocipush build (directory)' }]);
    assert.deepEqual(image.manifest.annotations, {
      'org.opencontainers.image.created': '2024-05-01T12:00:00Z',
      'org.opencontainers.image.source': 'https://example.com/repo',
      'org.opencontainers.image.version': '1.2',
    });
    const entry = image.index.manifests.find((d) => d.digest === result.digest) as unknown as { platform: unknown };
    assert.deepEqual(entry.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  } finally {
    await tmp.cleanup();
  }
});

test('several images share one layout: blobs are shared, re-using a tag replaces only that entry', async () => {
  const tmp = await tempDir();
  try {
    const a = join(tmp.path, 'a');
    const b = join(tmp.path, 'b');
    mkdirSync(join(a, 'x'), { recursive: true });
    mkdirSync(join(b, 'y'), { recursive: true });
    const layout = join(tmp.path, 'layout');
    const one = await buildImage({ rootfs: [a], layout, tag: 'one' });
    const two = await buildImage({ rootfs: [a, b], layout, tag: 'two' });
    assert.equal(two.layers[0]!.digest, one.layers[0]!.digest, 'the same directory gives the same layer');
    const again = await buildImage({ rootfs: [b], layout, tag: 'one' });
    const index = readImage(layout, 'one').index;
    const names = index.manifests.map((d) => d.annotations?.['org.opencontainers.image.ref.name']).sort();
    assert.deepEqual(names, ['one', 'two']);
    assert.equal(readImage(layout, 'one').digest, again.digest);
    assert.equal(readImage(layout, 'two').digest, two.digest);
    validateLayout(layout);
  } finally {
    await tmp.cleanup();
  }
});
