import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { blobPath, skopeoDigest } from './support.js';
import { proxiedRegistry } from './proxied-registry.js';

/**
 * A proxy in front of the registry that answers HEAD without the Content-Length, or with
 * `Content-Length: 0` (HTTP/2 front ends do): the registry's 200 still says the blob or manifest
 * is there; its size is asked by GET, never taken as 0.
 */
describe('a HEAD answered without a size to trust', () => {
  const f = proxiedRegistry([100_000], 'headless/app:v1');

  const headLength = (value: string | undefined) => ({ method: 'HEAD', times: Infinity, fault: { kind: 'response-header' as const, name: 'content-length', value } });

  for (const [label, value] of [['without Content-Length', undefined], ['with Content-Length: 0', '0']] as const) {
    it(`${label}: blob writes the layer, whole and verified`, async () => {
      f.proxy.addFault(headLength(value));
      const layer = f.image.layers[0]!;
      const file = join(f.tmp.path, `layer-${value ?? 'none'}`);
      assertOk(await runCliAsync(['blob', `${f.proxy.host}/headless/app@${layer}`, '-o', file]));
      assert.ok(readFileSync(file).equals(readFileSync(blobPath(f.image.layout, layer))));
    });
  }

  it('with Content-Length: 0: push under a new tag finds the blobs there, and the manifest resolves to its real size', async () => {
    f.proxy.addFault(headLength('0'));
    const r = await runCliAsync(['push', `oci:${f.image.layout}:v1`, `${f.proxy.host}/headless/app:v2`]);
    assertOk(r);
    assert.match(r.stderr, /2 already there/);
    assert.equal(skopeoDigest(`${f.registry.host}/headless/app:v2`), f.image.manifest.digest);

    const client = connectRegistry(f.proxy.host);
    try {
      const resolved = await new Repository(client, 'headless/app').resolve('v1');
      assert.deepEqual([resolved.digest, resolved.size], [f.image.manifest.digest, f.image.manifest.size]);
    } finally {
      await client.close();
    }
  });
});
