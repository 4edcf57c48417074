import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyGraph, type CopyEvent } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { OcipushError } from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { blobExists } from '../../src/registry/blobs.js';
import { Repository } from '../../src/registry/repository.js';
import { failWith, startFaultProxy, tooManyRequests, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer } from '../support/token-issuer.js';
import { staticCredentials } from '../../src/registry/credentials/static.js';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tempDir } from '../support/tools.js';
import { MiB } from './support.js';

/** An image with one layer of `bytes` random bytes, streamed into the layout. */
async function oneLayerImage(layout: OciLayout, tag: string, bytes: number): Promise<{ manifest: Descriptor; config: Descriptor; layer: Descriptor }> {
  const writer = await layout.ingest();
  for (let left = bytes; left > 0; left -= MiB) {
    if (!writer.stream.write(randomBytes(Math.min(MiB, left)))) await new Promise((resolve) => writer.stream.once('drain', resolve));
  }
  const { digest, size } = await writer.commit();
  const layer: Descriptor = { mediaType: MediaType.OciLayerGzip, digest, size };
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest] } });
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
  await layout.tag(manifest, tag);
  return { manifest, config, layer };
}

/** Files under `dir` (recursively). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * An onEvent that aborts once `layer` has sent `atBytes`. The config is put in the registry
 * first (`configFirst`): sent beside the layer, a cancel could catch it before its session
 * existed, and its error (no session to delete) would be the one reported, not the layer's.
 */
function abortMidLayer(controller: AbortController, layer: Descriptor, atBytes: number, onAbort: (sent: number) => void = () => {}): (e: CopyEvent) => void {
  return (e) => {
    if (e.type === 'progress' && e.descriptor.digest === layer.digest && e.bytes >= atBytes && !controller.signal.aborted) {
      onAbort(e.bytes);
      controller.abort();
    }
  };
}

async function configFirst(layout: OciLayout, repository: Repository, config: Descriptor): Promise<void> {
  await repository.pushBlob(config, layout.blobSource(config));
}

const deletedLine = /cancelled; its upload session was deleted, the registry committed nothing$/;
const notDeleted = /cancelled; the registry did not delete its upload session \(it expires there on its own\), the registry committed nothing$/;

/**
 * What the line must say of the session at `location` (the state the client held), asked of the
 * registry itself: gone (404 BLOB_UPLOAD_UNKNOWN) is deleted; distribution's BLOB_UPLOAD_INVALID,
 * a session cut midway it keeps with what it took, is not.
 */
async function saidOf(location: string): Promise<RegExp> {
  const res = await fetch(location);
  const body = await res.text();
  assert.equal(res.status, 404, `the session is still open: ${res.status}`);
  if (body.includes('BLOB_UPLOAD_UNKNOWN')) return deletedLine;
  assert.match(body, /BLOB_UPLOAD_INVALID/);
  return notDeleted;
}

/** Cancelling a push with an AbortSignal, against the real registry. */
describe('cancelling a push', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: OciLayout;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    layout = await OciLayout.open(join(tmp.path, 'layout'), { create: true });
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  for (const [how, chunkThreshold] of [['one PUT', undefined], ['one streamed PATCH', 4 * MiB]] as const) {
    it(`mid-blob (${how}): EABORTED saying so and whether the registry deleted the session (distribution keeps one cut midway), and the registry holds nothing of the blob`, async () => {
      const repo = `cancel/${how.includes('PATCH') ? 'patch' : 'put'}`;
      const image = await oneLayerImage(layout, repo.replace('/', '-'), 24 * MiB);
      const client = connectRegistry(registry.host);
      const controller = new AbortController();
      let sentWhenAborted = 0;
      try {
        const destination = new Repository(client, repo, { chunkThreshold });
        await configFirst(layout, destination, image.config);
        await registry.forgetAccessLog();
        const push = copyGraph(layout, destination, image.manifest, {
          rootReference: 'v1',
          signal: controller.signal,
          onEvent: abortMidLayer(controller, image.layer, 6 * MiB, (sent) => { sentWhenAborted = sent; }),
        });
        const err = await push.then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof OcipushError, `rejected with an OcipushError, not ${String(err)}`);
        assert.equal(err.code, 'EABORTED');
        assert.doesNotMatch(err.message, /\n/);
        assert.ok(sentWhenAborted > 0 && sentWhenAborted < image.layer.size, 'aborted mid-blob');

        // The session was asked to go: 204, or (distribution, after a request cut midway) 404
        // BLOB_UPLOAD_INVALID, with which it keeps the session and what it took. The line says which.
        // A DELETE racing the cut request's handler may get 500 first; ocipush asks again.
        const deleted = await registry.waitForAccess((e) => e.method === 'DELETE' && e.path.startsWith(`/v2/${repo}/blobs/uploads/`) && e.status !== 500);
        assert.ok(deleted.status === 204 || deleted.status === 404, `DELETE answered ${deleted.status}`);
        assert.match(err.message, await saidOf(`${registry.url}${deleted.uri}`));
        const log = await registry.settledAccessLog();
        assert.ok(!log.some((e) => e.method === 'PUT' && e.uri.includes(`digest=${encodeURIComponent(image.layer.digest)}`) && e.status === 201), 'no blob committed');
        assert.equal(await blobExists(client, repo, image.layer), false, 'HEAD of the blob: 404');
        const hex = image.layer.digest.slice('sha256:'.length);
        const v2 = join(registry.storageDir, 'docker', 'registry', 'v2');
        assert.equal(existsSync(join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex)), false, 'no blob data in the registry storage');
        // What the registry received of the cut request stays in its upload area (`_uploads`) until it
        // purges stale uploads: distribution refuses the DELETE of a session cut midway (its signed
        // `_state` names fewer bytes than it holds), and no request can remove it. It is never a blob.
        // (The config, a few bytes sent beside the layer, may be committed: an unreferenced blob, as after any failed push.)
        assert.deepEqual(filesUnder(join(v2, 'repositories', repo, '_layers')).filter((f) => f.includes(hex)), [], 'no link to the layer in the repository');
      } finally {
        await client.close();
      }
    });
  }

  for (const answers of [1, 50] as const) {
    it(`a DELETE of the session answered 500 ${answers === 1 ? 'once is asked again' : 'every time is reported as not deleted'}`, async () => {
      const proxy = await startFaultProxy({ target: registry.url, faults: [failWith(500, { method: 'DELETE', times: answers })] });
      const client = connectRegistry(proxy.host);
      const controller = new AbortController();
      try {
        const image = await oneLayerImage(layout, `cancel-500-${answers}`, 12 * MiB);
        const destination = new Repository(client, `cancel/del500-${answers}`);
        await configFirst(layout, destination, image.config);
        const err = await copyGraph(layout, destination, image.manifest, {
          signal: controller.signal,
          onEvent: abortMidLayer(controller, image.layer, 4 * MiB),
        }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof OcipushError && err.code === 'EABORTED', `EABORTED, not ${String(err)}`);
        const deletes = proxy.requests().filter((r) => r.method === 'DELETE').map((r) => r.status);
        const session = proxy.requests().find((r) => r.method === 'DELETE')!.path;
        assert.match(err.message, answers === 1 ? await saidOf(`${registry.url}${session}`) : notDeleted);
        if (answers === 1) {
          assert.equal(deletes[0], 500);
          assert.ok(deletes.length === 2 && (deletes[1] === 204 || deletes[1] === 404), `a second DELETE, answered by the registry: ${deletes.join(', ')}`);
        } else {
          assert.ok(deletes.length >= 2 && deletes.every((s) => s === 500), `asked more than once: ${deletes.join(', ')}`);
        }
      } finally {
        await client.close();
        await proxy.stop();
      }
    });
  }

  it('during a retry wait (Retry-After: 60): EABORTED at once, not after the wait', async () => {
    const proxy: FaultProxy = await startFaultProxy({ target: registry.url, faults: [tooManyRequests(60, { method: 'HEAD' })] });
    const controller = new AbortController();
    const client = connectRegistry(proxy.host, { onRetry: () => controller.abort() });
    try {
      const image = await oneLayerImage(layout, 'cancel-wait', 1024);
      const err = await copyGraph(layout, new Repository(client, 'cancel/wait'), image.manifest, { signal: controller.signal }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OcipushError && err.code === 'EABORTED', `EABORTED, not ${String(err)}`);
      assert.match(err.message, /cancelled/);
      // The abort came during the 60 s wait: after the scheme probe, the 429 was the only request.
      assert.deepEqual(proxy.requests().filter((r) => r.path !== '/v2/').map((r) => `${r.method} ${r.status}`), ['HEAD 429']);
    } finally {
      await client.close();
      await proxy.stop();
    }
  });

  it('while a token service keeps it waiting: EABORTED at once, not after the request timeout', { timeout: 30_000 }, async () => {
    // The realm accepts connections and never answers; the abort comes when the token request arrives.
    const controller = new AbortController();
    const sockets: Socket[] = [];
    const silent = createServer((socket) => { sockets.push(socket); socket.on('error', () => {}); controller.abort(); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const issuer = await startTokenIssuer();
    const realm = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/token`;
    const tokenRegistry = await startRegistry({ auth: { token: { realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    const client = connectRegistry(tokenRegistry.host, { credentials: staticCredentials(tokenRegistry.host, { username: 'u', password: 'p4ssword' }), timeouts: { requestMs: 120_000 } });
    try {
      const image = await oneLayerImage(layout, 'cancel-token', 1024);
      const err = await copyGraph(layout, new Repository(client, 'cancel/token'), image.manifest, { signal: controller.signal }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OcipushError && err.code === 'EABORTED', `EABORTED, not ${String(err)}`);
      assert.ok(sockets.length >= 1, 'the token request was made');
    } finally {
      await client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await tokenRegistry.stop();
      await issuer.stop();
    }
  });
});
