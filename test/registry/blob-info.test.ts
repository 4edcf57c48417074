import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { blobPath, skopeoDigest, umociImage, type UmociImage } from './support.js';

/**
 * A proxy in front of the registry that answers HEAD without the Content-Length, or with
 * `Content-Length: 0` (HTTP/2 front ends do): the registry's 200 still says the blob or manifest
 * is there; its size is asked by GET, never taken as 0.
 */
describe('a HEAD answered without a size to trust', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'v1', [100_000]);
    assertOk(await runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/headless/app:v1`]));
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    proxy.clearFaults();
    proxy.clearRequests();
  });

  const headLength = (value: string | undefined) => ({ method: 'HEAD', times: Infinity, fault: { kind: 'response-header' as const, name: 'content-length', value } });

  for (const [label, value] of [['without Content-Length', undefined], ['with Content-Length: 0', '0']] as const) {
    it(`${label}: blob writes the layer, whole and verified`, async () => {
      proxy.addFault(headLength(value));
      const layer = image.layers[0]!;
      const file = join(tmp.path, `layer-${value ?? 'none'}`);
      assertOk(await runCliAsync(['blob', `${proxy.host}/headless/app@${layer}`, '-o', file]));
      assert.ok(readFileSync(file).equals(readFileSync(blobPath(image.layout, layer))));
    });
  }

  it('with Content-Length: 0: push under a new tag finds the blobs there, and the manifest resolves to its real size', async () => {
    proxy.addFault(headLength('0'));
    const r = await runCliAsync(['push', `oci:${image.layout}:v1`, `${proxy.host}/headless/app:v2`]);
    assertOk(r);
    assert.match(r.stderr, /2 already there/);
    assert.equal(skopeoDigest(`${registry.host}/headless/app:v2`), image.manifest.digest);

    const client = connectRegistry(proxy.host);
    try {
      const resolved = await new Repository(client, 'headless/app').resolve('v1');
      assert.deepEqual([resolved.digest, resolved.size], [image.manifest.digest, image.manifest.size]);
    } finally {
      await client.close();
    }
  });
});
