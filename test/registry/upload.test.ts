import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { copyGraph, type CopyEvent } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { OcipushError } from '../../src/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { connectRegistry } from '../../src/registry/connect.js';
import type { RegistryClient } from '../../src/registry/http.js';
import { Repository } from '../../src/registry/repository.js';
import { blobExists } from '../../src/registry/blobs.js';
import { readFileChunks, type BlobSource } from '../../src/content/blob-source.js';
import { UPLOAD_DEFAULTS, uploadBlob } from '../../src/registry/upload.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy.js';
import { startRegistry, type AccessEntry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { MiB, putDigest, skopeoDigest } from './support.js';

interface LargeImage {
  manifest: Descriptor;
  layer: Descriptor;
  config: Descriptor;
}

/**
 * An image whose one layer is `layerBytes` random bytes, written to the layout as a stream (the
 * registry does not unpack layers, so random bytes stand in for a tarball).
 */
async function largeImage(layout: OciLayout, tag: string, layerBytes: number): Promise<LargeImage> {
  const writer = await layout.ingest();
  for (let left = layerBytes; left > 0; left -= MiB) {
    const piece = randomBytes(Math.min(MiB, left));
    if (!writer.stream.write(piece)) await new Promise((resolve) => writer.stream.once('drain', resolve));
  }
  const { digest, size } = await writer.commit();
  const layer: Descriptor = { mediaType: MediaType.OciLayerGzip, digest, size };
  // A config too large to go up beside the layer (copy-graph.ts): it follows the layer, so every
  // upload request of the repository before it belongs to the layer.
  const config = await layout.putJson(MediaType.OciConfig, {
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest] }, config: { Labels: { notes: 'x'.repeat(300 * 1024) } },
  });
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
  await layout.tag(manifest, tag);
  return { manifest, layer, config };
}

/** The upload requests of one blob as the registry logged them, from its first POST to its closing PUT. */
function uploadOf(log: AccessEntry[], repo: string, digest: string): string[] {
  const uploads = `/v2/${repo}/blobs/uploads/`;
  const end = log.findIndex((e) => e.method === 'PUT' && putDigest(e) === digest);
  assert.ok(end >= 0, `a closing PUT for ${digest}`);
  // The POST that opened the first session of this blob: the first upload request of the repository.
  const start = log.findIndex((e) => e.path.startsWith(uploads));
  return log.slice(start, end + 1).filter((e) => e.path.startsWith(uploads)).map((e) => `${e.method} ${e.status}`);
}

/** The default upload of a blob above the chunk threshold: one streamed PATCH, against the real registry. */
describe('uploading a large blob', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: OciLayout;
  let image: LargeImage;
  let events: CopyEvent[] = [];
  let repoCount = 0;
  // Just above the default threshold: the smallest blob that takes the default large-blob path.
  const layerBytes = UPLOAD_DEFAULTS.chunkThreshold + MiB;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    layout = await OciLayout.open(join(tmp.path, 'layout'), { create: true });
    image = await largeImage(layout, 'v1', layerBytes);
  });
  after(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(async () => {
    await client?.close();
    client = connectRegistry(proxy.host);
    proxy.clearFaults();
    proxy.clearRequests();
    await registry.forgetAccessLog();
    events = [];
  });

  async function push(repo: string, repoClient = client): Promise<void> {
    await copyGraph(layout, new Repository(repoClient, repo), image.manifest, { rootReference: 'v1', onEvent: (e) => events.push(e) });
  }
  const layerPatches = (): ProxiedRequest[] => proxy.requests().filter((r) => r.method === 'PATCH' && r.requestBytes > 1000);
  const notices = () => events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
  /** Progress of the layer: every value within the blob, ending at its size. */
  function layerProgress(): number[] {
    const values = events.filter((e) => e.type === 'progress' && e.descriptor.digest === image.layer.digest).map((e) => (e as { bytes: number }).bytes);
    assert.ok(values.every((b) => b >= 0 && b <= layerBytes), 'progress stays within the blob');
    assert.equal(values.at(-1), layerBytes, 'progress ends at the blob size');
    return values;
  }

  it('goes in one PATCH streaming the whole blob, then the closing PUT: POST, PATCH, PUT in the registry log', async () => {
    const repo = `stream/r${++repoCount}`;
    await push(repo);
    const log = await registry.settledAccessLog();
    assert.deepEqual(uploadOf(log, repo, image.layer.digest), ['POST 202', 'PATCH 202', 'PUT 201']);
    const [patch, ...more] = layerPatches();
    assert.deepEqual(more, []);
    assert.equal(patch!.requestBytes, layerBytes, 'the PATCH carried the whole blob');
    assert.equal(patch!.requestHeaders['content-range'], `0-${layerBytes - 1}`);
    assert.equal(patch!.requestHeaders['content-length'], String(layerBytes));
    // The small config still goes in one PUT with its body.
    assert.equal(proxy.requests().filter((r) => r.method === 'PUT' && r.path.includes(`digest=${encodeURIComponent(image.config.digest)}`) && r.requestBytes === image.config.size).length, 1);
    const progress = layerProgress();
    assert.ok(progress.every((b, i) => i === 0 || b >= progress[i - 1]!), 'progress only grows');
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
  });

  it('a connection cut mid-stream: the registry is asked what it holds (GET on the upload URL); distribution cannot resume a session that took part of a request, so a new session carries the blob', async () => {
    const repo = `stream/r${++repoCount}`;
    proxy.addFault({ method: 'PATCH', fault: { kind: 'cut-request', afterBytes: 20 * MiB } });
    await push(repo);
    assert.equal(proxy.requests().filter((r) => r.fault === 'cut-request').length, 1);
    const log = await registry.settledAccessLog();
    // The cut PATCH is logged when the registry notices it; the resume attempt is refused with 404
    // BLOB_UPLOAD_INVALID (its signed _state says 0 bytes, it holds 20 MiB), which also ends that session.
    const seen = uploadOf(log, repo, image.layer.digest);
    assert.deepEqual(seen.filter((s) => !s.startsWith('PATCH 5') && !s.startsWith('PATCH 4') && !s.startsWith('DELETE')), ['POST 202', 'GET 404', 'POST 202', 'PATCH 202', 'PUT 201'], seen.join(', '));
    const patches = layerPatches();
    assert.equal(patches.length, 2);
    assert.equal(patches[1]!.requestHeaders['content-range'], `0-${layerBytes - 1}`, 'the new session gets the whole blob');
    assert.equal(patches[1]!.requestBytes, layerBytes);
    assert.equal(notices().length, 1);
    assert.match(notices()[0]!, /the registry cannot resume the session; starting the upload again \(1\/5\)$/);
    const progress = layerProgress();
    assert.ok(progress.includes(0) && progress.indexOf(0) > 0, 'progress goes back to 0 for the new session');
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
  });

  it('a connection cut on every attempt: a bounded number of sessions, then one clear error and no manifest', async () => {
    const repo = `stream/r${++repoCount}`;
    proxy.addFault({ method: 'PATCH', times: Infinity, fault: { kind: 'cut-request', afterBytes: MiB } });
    const quick = connectRegistry(proxy.host, { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 20 } });
    try {
      await assert.rejects(push(repo, quick), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.equal(err.code, 'ENETWORK');
        assert.match(err.message, new RegExp(`^cannot reach ${proxy.host.replace(/\./g, '\\.')}: `));
        return true;
      });
    } finally {
      await quick.destroy();
    }
    const seen = proxy.requests();
    // One attempt and two retries, each a session of its own.
    assert.equal(seen.filter((r) => r.method === 'POST').length, 3);
    assert.equal(seen.filter((r) => r.fault === 'cut-request').length, 3);
    assert.ok(!seen.some((r) => r.method === 'PUT' && r.path.includes('/manifests/')));
  });

  it('a 413 on the stream (a proxy capping request bodies): the blob goes again in 16 MiB chunks, and the next blob starts in chunks', async () => {
    const repo = `stream/r${++repoCount}`;
    proxy.addFault({ method: 'PATCH', fault: { kind: 'max-body', maxBytes: 20 * MiB } });
    await push(repo);
    const patches = proxy.requests().filter((r) => r.method === 'PATCH');
    assert.equal(patches[0]!.status, 413);
    const chunks = patches.slice(1);
    assert.equal(chunks.length, Math.ceil(layerBytes / UPLOAD_DEFAULTS.chunkSize));
    assert.ok(chunks.every((r) => r.status === 202 && r.requestBytes <= UPLOAD_DEFAULTS.chunkSize));
    assert.deepEqual(client.quirks, { maxRequestBytes: layerBytes - 1 });
    assert.ok(notices().some((m) => m.includes(`refused a ${layerBytes}-byte request as too large (413), sending chunks of ${UPLOAD_DEFAULTS.chunkSize} bytes`)), notices().join('\n'));
    layerProgress();
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
  });

  it('a registry that refuses PATCH (405): the blob goes in one PUT with its body', async () => {
    const repo = `stream/r${++repoCount}`;
    proxy.addFault({ method: 'PATCH', times: Infinity, fault: { kind: 'respond', status: 405 } });
    await push(repo);
    const seen = proxy.requests();
    assert.equal(seen.filter((r) => r.method === 'PATCH').length, 1);
    assert.deepEqual(client.quirks, { noChunkedUploads: true });
    const put = seen.find((r) => r.method === 'PUT' && r.path.includes(`digest=${encodeURIComponent(image.layer.digest)}`));
    assert.equal(put?.status, 201);
    assert.equal(put?.requestBytes, layerBytes);
    layerProgress();
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
  });
});

describe('uploading a corrupt blob above the threshold', () => {
  it('the streaming PATCH reads the blob verified: EDIGEST naming the local blob, the session cancelled, nothing committed', async () => {
    const tmp = await tempDir();
    const registry = await startRegistry();
    const client = connectRegistry(registry.host);
    try {
      const layout = await OciLayout.open(join(tmp.path, 'layout'), { create: true });
      const image = await largeImage(layout, 'v1', 2 * MiB);
      const path = layout.blobPath(image.layer.digest);
      const bytes = readFileSync(path);
      bytes[MiB] = bytes[MiB]! ^ 0xff;
      writeFileSync(path, bytes);
      await assert.rejects(copyGraph(layout, new Repository(client, 'corrupt/app', { chunkThreshold: MiB }), image.manifest, { rootReference: 'v1' }), (err: unknown) => {
        assert.ok(err instanceof OcipushError && err.code === 'EDIGEST', String(err));
        assert.match(err.message, new RegExp(`^blob ${image.layer.digest} in .*: content has digest sha256:`));
        return true;
      });
      const log = await registry.settledAccessLog();
      assert.ok(log.some((e) => e.method === 'DELETE' && e.path.includes('/blobs/uploads/')), 'the session is cancelled');
      assert.ok(!log.some((e) => e.method === 'PUT'), 'no blob committed, no manifest');
    } finally {
      await client.close();
      await registry.stop();
      await tmp.cleanup();
    }
  });
});

/**
 * readFileChunks reuses its buffers, relying on undici to be done with a chunk before it asks for
 * the next (see its comment). Were that ever broken, the registry would get other bytes than those
 * hashed: this body breaks it on purpose, holding each chunk back until the ring has refilled its
 * buffer, and every way of uploading ends in the registry's digest error, never a stored blob.
 */
describe('uploading chunks whose buffers were reused before they were sent', () => {
  it('the registry refuses the digest (EDIGEST) in one PUT, one streamed PATCH and chunks alike; nothing is stored', async () => {
    const tmp = await tempDir();
    const registry = await startRegistry();
    const client = connectRegistry(registry.host);
    try {
      const bytes = randomBytes(3 * MiB + 17);
      const path = join(tmp.path, 'blob');
      writeFileSync(path, bytes);
      const desc: Descriptor = { mediaType: MediaType.OciLayerGzip, digest: sha256(bytes), size: bytes.length };
      const ring = { bufferSize: 64 * 1024, ringSize: 2 };
      // With two buffers, chunk k+2 is read into chunk k's: yielding k after k+2 arrived sends k+2's bytes again.
      async function* heldBack(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
        const held: Uint8Array[] = [];
        for await (const chunk of chunks) {
          held.push(chunk);
          if (held.length > 2) yield held.shift()!;
        }
        yield* held;
      }
      const source: BlobSource = {
        size: desc.size,
        open: async () => heldBack(readFileChunks(path, 0, desc.size - 1, ring)),
        openRange: async (start, end) => heldBack(readFileChunks(path, start, end, ring)),
      };
      for (const options of [{}, { chunkThreshold: MiB }, { chunkSize: MiB }]) {
        await assert.rejects(uploadBlob(client, 'reused/app', desc, source, options), (err: unknown) => {
          assert.ok(err instanceof OcipushError && err.code === 'EDIGEST', `${JSON.stringify(options)}: ${String(err)}`);
          assert.match(err.message, /DIGEST_INVALID.*local blob corrupt/);
          return true;
        });
      }
      assert.equal(await blobExists(client, 'reused/app', desc), false);
      const putStatuses = (await registry.settledAccessLog()).filter((e) => e.method === 'PUT').map((e) => e.status);
      assert.deepEqual(putStatuses, [400, 400, 400], 'each upload reached its closing PUT, and the registry refused it');
    } finally {
      await client.close();
      await registry.stop();
      await tmp.cleanup();
    }
  });
});
