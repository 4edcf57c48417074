import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { MB, cliPeakRss, mib, writeRandomFile } from '../support/peak-rss.js';
import { startRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { skopeoDigest } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

async function randomLayerLayout(dir: string, size: number): Promise<string> {
  const data = `${dir}.bin`;
  writeRandomFile(data, size);
  const layout = await OciLayout.open(dir, { create: true });
  const writer = await layout.ingest();
  await pipeline(createReadStream(data), writer.stream);
  const { digest } = await writer.commit();
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest] } });
  const manifest = await layout.putJson(MediaType.OciManifest, {
    schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [{ mediaType: MediaType.OciLayerGzip, digest, size }],
  });
  await layout.tag(manifest, 'v1');
  return dir;
}

/** Registry to registry, a blob streams from one to the other: a large layer takes the memory of a small one. */
test('copying a 160 MiB layer between registries takes no more memory than a 4 MiB one', { timeout: 300_000 }, async () => {
  const tmp = await tempDir();
  const a = await startRegistry();
  const b = await startRegistry();
  try {
    const env = { DOCKER_CONFIG: '/nonexistent-docker-config' };
    assertOk(await runCliAsync(['push', '-q', '--layout', await randomLayerLayout(join(tmp.path, 'small'), 4 * MB), '-t', 'v1', `${a.host}/memory/small:v1`], { env }));
    assertOk(await runCliAsync(['push', '-q', '--layout', await randomLayerLayout(join(tmp.path, 'big'), 160 * MB), '-t', 'v1', `${a.host}/memory/big:v1`], { env }));
    const copy = (repo: string) => cliPeakRss(['copy', '-q', `${a.host}/memory/${repo}:v1`, `${b.host}/memory/${repo}:v1`]);
    const small = copy('small');
    const big = copy('big');
    assert.ok(big < 200 * MB, `peak RSS ${mib(big)} copying a 160 MiB layer (4 MiB layer: ${mib(small)})`);
    // Buffering the blob would add ~160 MB; a streamed copy stays within 24 MB on Node 20, 26 MB was
    // seen once on Node 24 (its collector runs later), so the bound leaves room for that, not for a copy.
    assert.ok(big - small < 40 * MB, `peak RSS grows with the layer: ${mib(small)} for 4 MiB, ${mib(big)} for 160 MiB`);
    assert.equal(skopeoDigest(`${b.host}/memory/big:v1`), skopeoDigest(`${a.host}/memory/big:v1`));
  } finally {
    await a.stop();
    await b.stop();
    await tmp.cleanup();
  }
});
