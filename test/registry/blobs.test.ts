import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { blobPath, skopeoDigest, umociImage, type UmociImage } from './support.js';

const CHUNK = 256 * 1024;

/**
 * A copy between registries whose destination takes the blob in chunks (--chunk-size, or a cap
 * on request size that drew a 413): each chunk is read from the source by a ranged GET, so the
 * source serves the blob about once, not once per chunk up to that chunk's end (quadratic: a
 * 1 GiB layer in 16 MiB chunks was 33 GiB downloaded).
 */
describe('copying between registries in chunks', () => {
  let registry: RunningRegistry;
  let source: FaultProxy;
  let destination: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let layerSize: number;
  let repoCount = 0;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    // Two hosts in front of one registry: a copy from one to the other cannot mount.
    source = await startFaultProxy({ target: registry.url });
    destination = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'v1', [3 * 1024 * 1024]);
    layerSize = readFileSync(blobPath(image.layout, image.layers[0]!)).length;
    assertOk(await runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/chunks/src:v1`]));
  });
  after(async () => {
    await source?.stop();
    await destination?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    source.clearFaults();
    source.clearRequests();
  });

  async function copyInChunks(): Promise<string> {
    const repo = `chunks/dst${++repoCount}`;
    const from = connectRegistry(source.host);
    const to = connectRegistry(destination.host);
    try {
      const src = new Repository(from, 'chunks/src');
      await copyGraph(src, new Repository(to, repo, { chunkSize: CHUNK }), await src.resolve('v1'), { rootReference: 'v1' });
    } finally {
      await from.close();
      await to.close();
    }
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
    return repo;
  }

  const layerReads = () => source.requests().filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${image.layers[0]}`));

  it('each chunk is its own range of the source: the layer is served once in all', async () => {
    await copyInChunks();
    const reads = layerReads();
    assert.equal(reads.length, Math.ceil(layerSize / CHUNK));
    assert.equal(reads.reduce((sum, r) => sum + r.responseBytes, 0), layerSize);
    assert.deepEqual(reads.slice(0, 2).map((r) => r.requestHeaders.range), [`bytes=0-${CHUNK - 1}`, `bytes=${CHUNK}-${2 * CHUNK - 1}`]);
  });

  it('a source that ignores Range (200, the whole blob): each chunk is cut out of it, and the copy lands', async () => {
    source.addFault({ method: 'GET', path: /\/blobs\//, times: Infinity, fault: { kind: 'drop-header', name: 'range' } });
    await copyInChunks();
    assert.ok(layerReads().every((r) => r.status === 200));
  });

  it('a range that breaks midway is asked again from the byte it reached', async () => {
    source.addFault({ method: 'GET', path: new RegExp(`/blobs/${image.layers[0]}$`), skip: 2, fault: { kind: 'cut-response', afterBytes: 1000 } });
    await copyInChunks();
    const ranges = layerReads().map((r) => r.requestHeaders.range);
    assert.equal(ranges[2], `bytes=${2 * CHUNK}-${3 * CHUNK - 1}`);
    assert.equal(ranges[3], `bytes=${2 * CHUNK + 1000}-${3 * CHUNK - 1}`);
  });
});
