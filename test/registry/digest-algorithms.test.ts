import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir, validateLayout } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { blobPath, umociImage, type UmociImage } from './support.js';

const sha512 = (bytes: Uint8Array) => `sha512:${createHash('sha512').update(bytes).digest('hex')}`;

/**
 * sha512 is the other digest algorithm the image spec registers, and a reference may name a
 * manifest by it (`REPO@sha512:…`): what the registry answers must hash to it with sha512, as
 * it must hash to a sha256 name with sha256, or a pull by digest pins nothing.
 */
describe('a manifest named by a sha512 digest', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let manifestBytes: Buffer;

  /** The registry's own link of a manifest revision under a sha512 name, as one that keeps sha512 names holds it. */
  const linkSha512 = async (repository: string, name: string) => {
    const dir = join(registry.storageDir, 'docker/registry/v2/repositories', repository, '_manifests/revisions/sha512', name.slice('sha512:'.length));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'link'), image.manifest.digest);
  };

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'v1', [2048]);
    manifestBytes = await readFile(blobPath(image.layout, image.manifest.digest));
    assertOk(await runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/algo/app:v1`]));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull by a sha512 digest the bytes do not have is refused in one line, nothing written', async () => {
    const other = sha512(Buffer.from('another manifest'));
    await linkSha512('algo/app', other);
    const dir = join(tmp.path, 'wrong');
    const r = await runCliAsync(['pull', `${registry.host}/algo/app@${other}`, `oci:${dir}:app`]);
    assertOneLineError(r, new RegExp(`^ocipush: ${registry.host}: fetch manifest algo/app@${other}: content has digest ${sha512(manifestBytes)}, the registry says ${other}$`));
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('pull by the sha512 digest the bytes have writes the image', async () => {
    const own = sha512(manifestBytes);
    await linkSha512('algo/app', own);
    const dir = join(tmp.path, 'right');
    assertOk(await runCliAsync(['pull', `${registry.host}/algo/app@${own}`, `oci:${dir}:app`]));
    validateLayout(dir, 'app');
  });
});
