import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { proxiedRegistry } from './proxied-registry.js';

/**
 * A pull-through cache (Artifactory's remote repositories) answers a manifest HEAD 404 for what
 * it has not fetched yet, and its GET fetches it: `digest`, which asks by HEAD, asks a 404 again
 * by GET, as crane digest does.
 */
describe('a manifest HEAD answered 404 where a GET finds it', () => {
  const fixture = proxiedRegistry([2048], 'cache/app:v1');

  it('digest asks again by GET and prints the digest; a tag missing for both is one line', async () => {
    const { proxy, image } = fixture;
    proxy.addFault({ method: 'HEAD', path: /\/manifests\//, times: 100, fault: { kind: 'respond', status: 404, body: '' } });
    const r = await runCliAsync(['digest', `${proxy.host}/cache/app:v1`]);
    assertOk(r);
    assert.equal(r.stdout, `${image.manifest.digest}\n`);
    assert.deepEqual(proxy.requests().filter((q) => q.path.includes('/manifests/')).map((q) => `${q.method} ${q.status}`), ['HEAD 404', 'GET 200']);
    assertOneLineError(await runCliAsync(['digest', `${proxy.host}/cache/app:nope`]), new RegExp(`^ocipush: ${proxy.host}/cache/app:nope: manifest not found$`));
  });
});
