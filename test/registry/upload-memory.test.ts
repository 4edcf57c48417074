import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { MB, cliPeakRss, mib, randomLayerLayout } from '../support/peak-rss.js';
import { startRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';

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
