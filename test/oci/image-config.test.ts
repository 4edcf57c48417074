import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseImageConfig } from '../../src/oci/manifest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { envWith } from '../cli/copy-support.js';
import { podman } from '../archive/support.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * An image of no layers as go-containerregistry makes one (crane's `empty.Image`, a scratch image
 * for a platform): Go's encoding/json writes the list it never filled as null, so its config says
 * `"rootfs": {"type": "layers", "diff_ids": null}`. docker, podman and umoci read that as no layers.
 */
describe('an image config whose rootfs.diff_ids is null (go-containerregistry\'s image of no layers)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let layout: string;
  const env = envWith();

  /** Writes into `layout` an image of no layers under `tag`, its config's rootfs as given. */
  function emptyImage(tag: string, rootfs: unknown): void {
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer, mediaType: string) => {
      writeFileSync(join(blobs, sha256(bytes).slice(7)), bytes);
      return { mediaType, digest: sha256(bytes), size: bytes.length };
    };
    const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] }, ...(rootfs === undefined ? {} : { rootfs }) })), 'application/vnd.oci.image.config.v1+json');
    const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] })), 'application/vnd.oci.image.manifest.v1+json');
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const indexFile = join(layout, 'index.json');
    const index: { schemaVersion: number; manifests: unknown[] } = existsSync(indexFile) ? JSON.parse(readFileSync(indexFile, 'utf8')) : { schemaVersion: 2, manifests: [] };
    index.manifests.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } });
    writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  }

  before(async () => {
    requireTool('skopeo');
    requireTool('umoci');
    tmp = await tempDir();
    registry = await startRegistry();
    layout = join(tmp.path, 'layout');
    emptyImage('null', { type: 'layers', diff_ids: null });
    emptyImage('none', undefined);
    for (const tag of ['null', 'none']) {
      run('skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${registry.host}/empty/app:${tag}`]);
    }
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('podman pulls it and umoci unpacks it; rootfs writes its empty filesystem, and build -f and build --base build on it', async () => {
    const ref = `${registry.host}/empty/app:null`;
    const p = podman(join(tmp.path, 'podman'));
    try {
      p.run(['pull', '-q', '--tls-verify=false', `docker://${ref}`]);
    } finally {
      p.cleanup();
    }
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:null`, join(tmp.path, 'bundle')]);

    const fsTar = join(tmp.path, 'fs.tar');
    assertOk(await runCliAsync(['rootfs', ref, '-o', fsTar, '-q'], { env }));
    assert.equal(run('tar', ['-tf', fsTar]), '');

    const context = join(tmp.path, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'hello.txt'), 'hello\n');
    writeFileSync(join(context, 'Dockerfile'), `FROM ${ref}\nCOPY hello.txt /\n`);
    const built = join(tmp.path, 'built');
    assertOk(await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '--layout', built, '--tag', 'f', '-q'], { env }));
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'hello.txt'), 'hello\n');
    assertOk(await runCliAsync(['build', tree, '--base', ref, '--layout', built, '--tag', 'b', '-q'], { env }));
    for (const tag of ['f', 'b']) {
      const config = JSON.parse((await runCliAsync(['config', `oci:${built}:${tag}`])).stdout) as { rootfs: { diff_ids: string[] }; config: { Env: string[] } };
      assert.equal(config.rootfs.diff_ids.length, 1, tag);
      assert.deepEqual(config.config.Env, ['PATH=/bin'], `${tag}: the base's config is kept`);
      run('umoci', ['unpack', '--rootless', '--image', `${built}:${tag}`, join(tmp.path, `bundle-${tag}`)]);
    }
  });

  it('a config without rootfs, which docker and umoci refuse, is one line', async () => {
    assertOneLineError(await runCliAsync(['rootfs', `${registry.host}/empty/app:none`, '-o', join(tmp.path, 'none.tar')], { env }),
      /^ocipush: 127\.0\.0\.1:\d+\/empty\/app:none: config sha256:[0-9a-f]{64}: image config has no rootfs$/);
  });

  it('parseImageConfig reads null or a missing list as no layers, and refuses a list that is not one', () => {
    const parse = (rootfs: unknown) => parseImageConfig(Buffer.from(JSON.stringify({ rootfs })), 'c');
    assert.deepEqual(parse({ type: 'layers', diff_ids: null }).rootfs.diff_ids, []);
    assert.deepEqual(parse({ type: 'layers' }).rootfs.diff_ids, []);
    assert.throws(() => parse({ type: 'layers', diff_ids: 'sha256:x' }), /c: image config's rootfs\.diff_ids is not a list/);
    assert.throws(() => parseImageConfig(Buffer.from('{}'), 'c'), /c: image config has no rootfs$/);
  });
});
