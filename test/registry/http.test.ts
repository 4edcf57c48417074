import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/registry/http.js';
import { relay, type Relay } from '../support/relay.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { MiB, skopeoDigest, umociImage, type UmociImage } from './support.js';

/**
 * undici closes a connection after a HEAD unless the request says otherwise; a push asks HEAD of
 * its tag and of every blob, and each was then a new connection (over HTTPS a new handshake: a
 * round trip or two more per blob to a registry across a network). The registry is reached
 * through a TCP relay that counts the connections it accepts.
 */
describe('HEAD requests keep their connection for the next request', () => {
  let registry: RunningRegistry;
  let tunnel: Relay;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [0.2 * MiB, 0.1 * MiB, 0.1 * MiB]);
    registry = await startRegistry();
    tunnel = await relay('127.0.0.1', registry.port);
  });
  after(async () => {
    await tunnel?.close();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('seven HEADs one after another use at most two connections', async () => {
    assertOk(await runCliAsync(['push', `${registry.host}/keep/alive:v1`, '--layout', image.layout, '--tag', 'v1', '-q']));
    const client = new RegistryClient(tunnel.host);
    try {
      const before = tunnel.connections();
      const targets = [`/v2/keep/alive/manifests/v1`, ...[image.config, ...image.layers].map((d) => `/v2/keep/alive/blobs/${d}`), `/v2/keep/alive/blobs/${image.config}`, `/v2/keep/alive/manifests/v1`];
      for (const url of targets) {
        const res = await client.request({ method: 'HEAD', url, op: 'HEAD', scopes: [], headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        await res.dump();
        assert.equal(res.status, 200, url);
      }
      // The second may open while the first is being handed back to the pool.
      assert.ok(tunnel.connections() - before <= 2, `${tunnel.connections() - before} connections for ${targets.length} HEADs`);
    } finally {
      await client.close();
    }
  });

  it('a push one blob at a time reuses its connections, and skopeo reads the image it wrote', async () => {
    const before = tunnel.connections();
    assertOk(await runCliAsync(['push', `${tunnel.host}/keep/cold:v1`, '--layout', image.layout, '--tag', 'v1', '--concurrency', '1', '-q']));
    // Eleven requests (HEAD of the tag, of four blobs and of the manifest, four uploads, the manifest): eight connections before.
    assert.ok(tunnel.connections() - before <= 4, `${tunnel.connections() - before} connections`);
    assert.equal(skopeoDigest(`${registry.host}/keep/cold:v1`), image.manifest.digest);
  });
});
