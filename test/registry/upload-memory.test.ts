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

/** A layout whose image `v1` has one layer of `size` random bytes (the registry does not unpack layers). */
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

/**
 * Issue #4: pushing a large layer takes the memory of pushing a small one. A 256 MiB layer goes
 * up in one streamed PATCH; read into new buffers, the garbage piles up until V8 collects it
 * (about 64 MB of it, since it is external memory): before readFileChunks, 102 MiB against 68 MiB
 * for a 4 MiB layer. Read into the same few buffers, the two are within a few MB.
 */
test('pushing a 256 MiB layer takes no more memory than a 4 MiB one', { timeout: 300_000 }, async () => {
  const tmp = await tempDir();
  const registry = await startRegistry();
  try {
    const push = (layout: string, repo: string) => cliPeakRss(['push', '-q', '--layout', layout, '-t', 'v1', `${registry.host}/${repo}:v1`]);
    const small = push(await randomLayerLayout(join(tmp.path, 'small'), 4 * MB), 'memory/small');
    const big = push(await randomLayerLayout(join(tmp.path, 'big'), 256 * MB), 'memory/big');
    assert.ok(big < 200 * MB, `peak RSS ${mib(big)} pushing a 256 MiB layer (4 MiB layer: ${mib(small)})`);
    assert.ok(big - small < 20 * MB, `peak RSS grows with the layer: ${mib(small)} for 4 MiB, ${mib(big)} for 256 MiB`);

    // The registry has the whole layer: it serves it back under its digest.
    const layout = await OciLayout.open(join(tmp.path, 'big'));
    const manifest = JSON.parse((await layout.readBlob((await layout.resolve('v1')))).toString()) as { layers: { digest: string; size: number }[] };
    const res = await fetch(`${registry.url}/v2/memory/big/blobs/${manifest.layers[0]!.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(256 * MB));
  } finally {
    await registry.stop();
    await tmp.cleanup();
  }
});
