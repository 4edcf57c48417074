import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { OcipushError } from '../../src/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { connectRegistry } from '../../src/registry/connect.js';
import type { RegistryClient, RetryNotice } from '../../src/registry/http.js';
import { Repository, type RepositoryOptions } from '../../src/registry/repository.js';
import { failWith, startFaultProxy, tooManyRequests, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { blobPath, MiB, skopeoDigest, umociImage, type UmociImage } from './support.js';

/** Faults a proxy injects in front of the real registry: every push must still end correct. */
describe('pushing through faults', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let layout: OciLayout;
  let retries: RetryNotice[] = [];
  let notices: string[] = [];
  let repoCount = 0;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'v1', [3.5 * MiB]);
    layout = await OciLayout.open(image.layout);
  });
  after(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });
  // A client per test: a client learns what a registry cannot do (quirks), and each test starts fresh.
  beforeEach(async () => {
    await client?.close();
    client = connectRegistry(proxy.host, { onRetry: (n) => retries.push(n) });
    proxy.clearFaults();
    proxy.clearRequests();
    retries = [];
    notices = [];
  });

  /** Pushes the image to a fresh repository and checks the registry (not the proxy) serves it whole. */
  async function pushAndCheck(options: RepositoryOptions = {}, mountFrom?: string): Promise<{ repo: string; outcomes: string[] }> {
    const repo = `faults/r${++repoCount}`;
    const result = await copyGraph(layout, new Repository(client, repo, options), image.manifest, {
      rootReference: 'v1',
      mountFrom: mountFrom ? () => mountFrom : undefined,
      onEvent: (e) => { if (e.type === 'notice') notices.push(e.message); },
    });
    assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
    await verifyBlobsThroughRegistry(repo);
    return { repo, outcomes: result.nodes.map((n) => n.outcome) };
  }

  /** Every blob fetched from the registry directly hashes to its digest (fetch verifies). */
  async function verifyBlobsThroughRegistry(repo: string): Promise<void> {
    const direct = connectRegistry(registry.host);
    try {
      const repository = new Repository(direct, repo);
      for (const digest of [...image.layers, image.config]) {
        const size = readFileSync(blobPath(image.layout, digest)).length;
        const stream = await repository.fetch({ mediaType: 'application/octet-stream', digest: digest as `sha256:${string}`, size });
        for await (const _ of stream) { /* verified while read */ }
      }
    } finally {
      await direct.close();
    }
  }

  const blobPut = /\/blobs\/uploads\/[^?]+\?.*digest=/;

  it('a 500 on the blob PUT: the upload starts again in a new session and the push ends correct', async () => {
    proxy.addFault(failWith(500, { method: 'PUT', path: blobPut }));
    await pushAndCheck();
    const seen = proxy.requests();
    assert.equal(seen.filter((r) => r.status === 500).length, 1);
    assert.ok(seen.some((r) => r.method === 'DELETE' && r.path.includes('/blobs/uploads/')), 'the failed session is cancelled');
    assert.ok(notices.some((m) => /500/.test(m)));
  });

  it('a 429 with Retry-After: the request waits what the registry asked, then goes on', async () => {
    proxy.addFault(tooManyRequests(1, { method: 'HEAD' }));
    await pushAndCheck();
    assert.equal(proxy.requests().filter((r) => r.status === 429).length, 1);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.delayMs, 1000);
    assert.match(retries[0]!.reason, /429/);
  });

  it('a 503 on the manifest PUT is retried; the manifest still goes up once', async () => {
    proxy.addFault(failWith(503, { method: 'PUT', path: /\/manifests\/v1$/ }));
    const { repo } = await pushAndCheck();
    const puts = proxy.requests().filter((r) => r.method === 'PUT' && r.path === `/v2/${repo}/manifests/v1`);
    assert.deepEqual(puts.map((r) => r.status), [503, 201]);
  });

  it('a 500 on a PATCH: the registry reports the offset it holds (GET, Range) and the upload resumes there', async () => {
    proxy.addFault(failWith(500, { method: 'PATCH', skip: 1 }));
    await pushAndCheck({ chunkSize: MiB });
    const seen = proxy.requests();
    const status = seen.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'));
    assert.deepEqual(status.map((r) => r.status), [204]);
    assert.equal(seen.filter((r) => r.method === 'POST').length, 2, 'the same session goes on');
    const size = readFileSync(blobPath(image.layout, image.layers[0]!)).length;
    assert.deepEqual(notices, [`${image.layers[0]}: 500 UNKNOWN: fault proxy: injected 500; resuming at byte 1048576 of ${size}`]);
  });

  // distribution 2.8 appends a PATCH whatever its Content-Range: a client that sends a chunk again never ends.
  it('a registry that answers each PATCH with the range of that chunk alone, from 0 (zot before distribution-spec#581): each chunk goes once, in order, no 416', { timeout: 60_000 }, async () => {
    const chunk = 512 * 1024;
    proxy.addFault({
      method: 'PATCH', times: Infinity,
      fault: { kind: 'response-header', name: 'range', value: (range, request) => {
        const [start, end] = String(request['content-range']).split('-').map(Number);
        return range && `0-${end! - start!}`;
      } },
    });
    await pushAndCheck({ chunkSize: chunk });
    const patches = proxy.requests().filter((r) => r.method === 'PATCH');
    assert.deepEqual(patches.filter((r) => r.status !== 202).map((r) => `${r.status} ${r.requestHeaders['content-range']}`), []);
    const size = readFileSync(blobPath(image.layout, image.layers[0]!)).length;
    assert.equal(patches.length, Math.ceil(size / chunk) + 1, 'the layer\'s chunks and the config, each once');
    assert.deepEqual(notices, []);
  });

  it('a connection cut in the middle of a PATCH: the upload resumes or restarts and ends correct', async () => {
    proxy.addFault({ method: 'PATCH', skip: 1, fault: { kind: 'cut-request', afterBytes: 300_000 } });
    await pushAndCheck({ chunkSize: MiB });
    const seen = proxy.requests();
    assert.equal(seen.filter((r) => r.fault === 'cut-request').length, 1);
    // The offset is asked for first (GET on the upload URL); distribution refuses a session that
    // took part of a chunk, and then a fresh session carries the blob.
    assert.ok(seen.some((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/')), 'upload status asked');
    assert.ok(notices.length > 0);
  });

  it('a chunk delivered whole but its answer lost: the registry is asked where it stands, and the push ends correct', async () => {
    proxy.addFault({ method: 'PATCH', skip: 1, fault: { kind: 'cut-request', afterBytes: MiB } });
    await pushAndCheck({ chunkSize: MiB });
    const seen = proxy.requests();
    assert.ok(seen.some((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/')), 'upload status asked');
    assert.ok(notices.some((m) => /resuming at byte|starting the upload again/.test(m)), notices.join('\n'));
  });

  it('a PATCH answer cut after its headers: the 202 and its Location are enough to go on', async () => {
    proxy.addFault({ method: 'PATCH', skip: 1, fault: { kind: 'cut-response', afterBytes: 0 } });
    await pushAndCheck({ chunkSize: MiB });
    const seen = proxy.requests();
    assert.equal(seen.filter((r) => r.fault === 'cut-response').length, 1);
    assert.equal(seen.filter((r) => r.method === 'POST').length, 2, 'no new session');
  });

  it('a connection cut in the middle of a monolithic PUT: a new session, the whole blob again', async () => {
    proxy.addFault({ method: 'PUT', path: blobPut, fault: { kind: 'cut-request', afterBytes: MiB } });
    await pushAndCheck();
    assert.equal(proxy.requests().filter((r) => r.fault === 'cut-request').length, 1);
    assert.ok(notices.some((m) => /starting the upload again/.test(m)));
  });

  it('a monolithic PUT whose answer is lost once the registry stored the blob: the registry is asked (HEAD), and the blob is not sent again', async () => {
    const layer = image.layers[0]!;
    proxy.addFault({ method: 'PUT', path: new RegExp(`digest=${layer.replace(':', '%3A')}`), fault: { kind: 'around', before: () => {}, after: () => { throw new Error('answer lost'); } } });
    await pushAndCheck();
    const seen = proxy.requests();
    const puts = seen.filter((r) => r.method === 'PUT' && r.path.includes(layer.replace(':', '%3A')));
    assert.equal(puts.length, 1, 'the layer went up once');
    assert.equal(puts[0]!.fault, 'around');
    assert.ok(seen.some((r) => r.method === 'HEAD' && r.path.endsWith(`/blobs/${layer}`) && r.status === 200), 'the registry was asked for it');
    assert.deepEqual(notices.filter((m) => /starting the upload again/.test(m)), []);
  });

  it('a 413 on a large single PUT (a CDN cap): the blob goes again in chunks under the cap', async () => {
    proxy.addFault({ method: 'PUT', fault: { kind: 'max-body', maxBytes: 2 * MiB } });
    await pushAndCheck();
    const seen = proxy.requests();
    assert.equal(seen.filter((r) => r.status === 413).length, 1);
    const patches = seen.filter((r) => r.method === 'PATCH');
    assert.ok(patches.length >= 2 && patches.every((r) => r.status === 202 && r.requestBytes <= 2 * MiB));
  });

  it('a 413 on chunks (GHCR caps PATCH size): the chunk size halves until the registry takes it', async () => {
    proxy.addFault({ method: 'PATCH', fault: { kind: 'max-body', maxBytes: 1.5 * MiB } });
    await pushAndCheck({ chunkSize: 4 * MiB });
    const seen = proxy.requests().filter((r) => r.method === 'PATCH');
    // 3.5 MiB (413), 2 MiB (413), then 1 MiB chunks: 4 of them.
    assert.deepEqual(seen.map((r) => r.status), [413, 413, 202, 202, 202, 202, 202]);
  });

  it('what a 413 taught is kept for the next blobs: only the first large blob runs into the cap', async () => {
    const two = umociImage(tmp.path, 'two', [2.5 * MiB, 2.5 * MiB], join(tmp.path, 'two'));
    proxy.addFault({ method: 'PATCH', fault: { kind: 'max-body', maxBytes: 1.5 * MiB } });
    const src = await OciLayout.open(two.layout);
    await copyGraph(src, new Repository(client, 'faults/learned', { chunkSize: 4 * MiB }), two.manifest, { rootReference: 'v1', concurrency: 1 });
    const patches = proxy.requests().filter((r) => r.method === 'PATCH');
    assert.equal(patches.filter((r) => r.status === 413).length, 2, 'two halvings, for the first layer only');
    assert.ok(patches.filter((r) => r.status === 202).every((r) => r.requestBytes <= MiB));
    assert.deepEqual(client.quirks, { maxRequestBytes: 2 * MiB - 1 });
    assert.equal(skopeoDigest(`${registry.host}/faults/learned:v1`), two.manifest.digest);
  });

  /** A request target naming this digest in its `digest=` query (the PUT that completes an upload). */
  const completing = (digest: string) => new RegExp(`digest=sha256(%3A|:)${digest.slice('sha256:'.length)}`);

  it('a config of a few kilobytes goes up beside the layers: sent while the layer still waits for its answer', async () => {
    // Held until the config's upload is seen: with the config sent after the layers, only the timeout
    // would let it go. A long one: only that wrong order waits for it, however slow the machine.
    proxy.addFault({ method: 'PUT', path: completing(image.layers[0]!), fault: { kind: 'hold-response', until: completing(image.config), timeoutMs: 60_000 } });
    await pushAndCheck();
    assert.deepEqual(proxy.requests().filter((r) => r.fault === 'hold-response').map((r) => r.released), ['match']);
  });

  it('a large config still goes after its layers, so that what they taught the client applies to it', async () => {
    const dir = await OciLayout.open(join(tmp.path, 'large-config'), { create: true });
    const layer = await dir.putBytes(MediaType.OciLayerGzip, randomBytes(100_000));
    const config = await dir.putJson(MediaType.OciConfig, {
      architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8))] },
      config: { Labels: { notes: 'x'.repeat(300 * 1024) } },
    });
    const manifest = await dir.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
    proxy.addFault({ method: 'PUT', path: completing(layer.digest), fault: { kind: 'hold-response', until: completing(config.digest), timeoutMs: 1000 } });
    await copyGraph(dir, new Repository(client, 'faults/large-config'), manifest, { rootReference: 'v1' });
    assert.deepEqual(proxy.requests().filter((r) => r.fault === 'hold-response').map((r) => r.released), ['timeout']);
    assert.equal(skopeoDigest(`${registry.host}/faults/large-config:v1`), manifest.digest);
  });

  it('a registry without chunked uploads (PATCH answered 405): the blob goes in one PUT', async () => {
    proxy.addFault({ method: 'PATCH', times: Infinity, fault: { kind: 'respond', status: 405 } });
    await pushAndCheck({ chunkSize: MiB });
    const seen = proxy.requests();
    // The layer finds out; the config (after the layers) goes straight in one PUT.
    assert.equal(seen.filter((r) => r.method === 'PATCH').length, 1, 'one refused PATCH, then none');
    assert.deepEqual(client.quirks, { noChunkedUploads: true });
    assert.equal(seen.filter((r) => r.method === 'PUT' && blobPut.test(r.path) && r.status === 201 && r.requestBytes > 0).length, 2);
  });

  for (const [status, code] of [[401, 'UNAUTHORIZED'], [403, 'DENIED'], [404, 'NAME_UNKNOWN'], [400, 'INVALID_REQUEST']] as const) {
    it(`a mount refused with ${status} ${code}: a normal upload instead`, async () => {
      const source = (await pushAndCheck()).repo;
      proxy.clearRequests();
      proxy.addFault({ method: 'POST', path: /mount=/, times: Infinity, fault: { kind: 'respond', status, body: JSON.stringify({ errors: [{ code, message: 'no' }] }) } });
      const { outcomes } = await pushAndCheck({}, source);
      assert.deepEqual(outcomes, ['uploaded', 'uploaded', 'uploaded']);
      const seen = proxy.requests();
      assert.equal(seen.filter((r) => r.method === 'POST' && r.path.includes('mount=')).length, 2);
      assert.equal(seen.filter((r) => r.method === 'POST' && !r.path.includes('mount=')).length, 2);
    });
  }

  it('pulling through a connection cut mid-blob: fetched again, verified, stored once', async () => {
    const { repo } = await pushAndCheck();
    proxy.addFault({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'cut-response', afterBytes: 500_000 } });
    const dir = join(tmp.path, `pulled-${repoCount}`);
    const dst = await OciLayout.open(dir, { create: true });
    const src = new Repository(client, repo);
    await copyGraph(src, dst, await src.resolve('v1'), { rootReference: 'v1' });
    assert.equal(proxy.requests().filter((r) => r.fault === 'cut-response').length, 1);
    for (const digest of [...image.layers, image.config, image.manifest.digest]) {
      assert.ok(readFileSync(blobPath(dir, digest)).equals(readFileSync(blobPath(image.layout, digest))));
    }
  });

  it('pulling through a cut whose resume is answered 206 from another byte: the blob is asked again whole, its first bytes skipped, and lands verified', async () => {
    const { repo } = await pushAndCheck();
    const layer = new RegExp(`/blobs/${image.layers[0]}$`);
    proxy.addFault({ method: 'GET', path: layer, fault: { kind: 'cut-response', afterBytes: 500_000 } });
    // The registry itself answers the range the proxy asks for: 206, Content-Range from byte 100000.
    proxy.addFault({ method: 'GET', path: layer, fault: { kind: 'request-header', name: 'range', value: (range) => range?.replace(/^bytes=\d+-/, 'bytes=100000-') } });
    const dir = join(tmp.path, `pulled-${repoCount}`);
    const dst = await OciLayout.open(dir, { create: true });
    const src = new Repository(client, repo);
    await copyGraph(src, dst, await src.resolve('v1'), { rootReference: 'v1' });
    const gets = proxy.requests().filter((r) => r.method === 'GET' && layer.test(r.path));
    assert.deepEqual(gets.map((r) => [r.requestHeaders.range, r.status]), [[undefined, 200], ['bytes=500000-', 206], [undefined, 200]]);
    assert.ok(readFileSync(blobPath(dir, image.layers[0]!)).equals(readFileSync(blobPath(image.layout, image.layers[0]!))));
  });

  it('a chunked copy between registries whose ranged read of a chunk is answered 206 from another byte: the blob is asked whole, its first bytes skipped, and the copy lands verified', async () => {
    const { repo } = await pushAndCheck();
    proxy.clearRequests();
    const layer = new RegExp(`/blobs/${image.layers[0]}$`);
    // The second chunk's read: the registry itself answers the range the proxy asks for, 100000 bytes on.
    proxy.addFault({ method: 'GET', path: layer, skip: 1, fault: { kind: 'request-header', name: 'range', value: (range) => range?.replace(/^bytes=(\d+)-/, (_, from: string) => `bytes=${Number(from) + 100_000}-`) } });
    const target = `faults/r${++repoCount}`;
    const src = new Repository(client, repo);
    await copyGraph(src, new Repository(client, target, { chunkSize: MiB }), await src.resolve('v1'), { rootReference: 'v1' });
    const gets = proxy.requests().filter((r) => r.method === 'GET' && layer.test(r.path));
    assert.deepEqual(gets.slice(0, 3).map((r) => [r.requestHeaders.range, r.status]), [[`bytes=0-${MiB - 1}`, 206], [`bytes=${MiB}-${2 * MiB - 1}`, 206], [undefined, 200]]);
    assert.equal(skopeoDigest(`${registry.host}/${target}:v1`), image.manifest.digest);
    await verifyBlobsThroughRegistry(target);
  });

  for (const [plan, options] of [['one PUT', {}], ['a streamed PATCH, then its PUT', { chunkThreshold: MiB }]] as const) {
    const layerPut = () => ({ method: 'PUT', path: new RegExp(`/blobs/uploads/[^?]+\\?.*digest=sha256(:|%3A)${image.layers[0]!.slice('sha256:'.length)}`) });

    it(`a 202 to the PUT that completes the upload (${plan}), the blob stored: the registry is asked, and the push ends correct`, async () => {
      proxy.addFault({ ...layerPut(), fault: { kind: 'rewrite-status', status: 202 } });
      await pushAndCheck(options);
      assert.ok(proxy.requests().some((r) => r.method === 'HEAD' && r.path.endsWith(`/blobs/${image.layers[0]}`) && r.status === 200), 'the blob was looked for');
    });

    it(`a 202 to the PUT that completes the upload (${plan}), nothing stored: one line naming the blob and the answer, its session deleted, no manifest`, async () => {
      proxy.addFault({ ...layerPut(), fault: { kind: 'respond', status: 202 } });
      const repo = `faults/r${++repoCount}`;
      await assert.rejects(copyGraph(layout, new Repository(client, repo, options), image.manifest, { rootReference: 'v1' }), (err: unknown) => {
        assert.ok(err instanceof OcipushError);
        assert.equal(err.code, 'EREGISTRY');
        assert.equal(err.message, `${proxy.host}: push blob ${image.layers[0]}: the registry answered 202 to the PUT that completes the upload (201 Created expected), and does not hold the blob`);
        return true;
      });
      const refused = proxy.requests().find((r) => r.fault === 'respond')!;
      assert.deepEqual(proxy.requests().filter((r) => r.method === 'DELETE' && r.path.split('?')[0] === refused.path.split('?')[0]).map((r) => r.status), [204]);
      assert.ok(!proxy.requests().some((r) => r.method === 'PUT' && r.path.includes('/manifests/')), 'no manifest PUT');
    });
  }

  it('faults that do not stop: a bounded number of retries, then one clear error and no manifest', async () => {
    proxy.addFault({ method: 'POST', times: Infinity, fault: { kind: 'respond', status: 502 } });
    const quick = connectRegistry(proxy.host, { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 20 } });
    try {
      await assert.rejects(copyGraph(layout, new Repository(quick, 'faults/never'), image.manifest, { rootReference: 'v1' }), (err: unknown) => {
        assert.ok(err instanceof OcipushError);
        assert.equal(err.code, 'EREGISTRY');
        assert.match(err.message, new RegExp(`^${proxy.host.replace(/\./g, '\\.')}: start upload of blob sha256:[0-9a-f]{64}: 502 UNKNOWN: fault proxy: injected 502$`));
        return true;
      });
    } finally {
      await quick.destroy();
    }
    // 3 POSTs per attempt (first + 2 retries) and 3 upload attempts for the first blob at most.
    assert.ok(proxy.requests().filter((r) => r.method === 'POST').length <= 9 * 2);
    assert.ok(!proxy.requests().some((r) => r.method === 'PUT' && r.path.includes('/manifests/')));
  });

  it('a local blob that does not match its digest: EDIGEST, whether ocipush or the registry finds out', async () => {
    const dir = join(tmp.path, 'corrupt');
    cpSync(image.layout, dir, { recursive: true });
    const path = blobPath(dir, image.layers[0]!);
    const bytes = readFileSync(path);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(path, bytes);
    const corrupt = await OciLayout.open(dir);
    // Monolithic: the upload stream is verified as it is read.
    await assert.rejects(copyGraph(corrupt, new Repository(client, 'faults/corrupt'), image.manifest, { rootReference: 'v1' }), (err: unknown) => {
      assert.ok(err instanceof OcipushError && err.code === 'EDIGEST', String(err));
      assert.match(err.message, new RegExp(`blob ${image.layers[0]} in ${dir.replace(/[/.]/g, '\\$&')}: content has digest sha256:`));
      return true;
    });
    // Chunked: ranges are read raw; the registry computes the digest at the end and disputes it.
    await assert.rejects(copyGraph(corrupt, new Repository(client, 'faults/corrupt', { chunkSize: MiB }), image.manifest, { rootReference: 'v1' }), (err: unknown) => {
      assert.ok(err instanceof OcipushError && err.code === 'EDIGEST', String(err));
      assert.match(err.message, /400 DIGEST_INVALID: provided digest did not match uploaded content.*local blob corrupt/);
      return true;
    });
    assert.ok(!proxy.requests().some((r) => r.method === 'PUT' && r.path.includes('/manifests/')), 'nothing is tagged');
  });
});
