import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

describe('the verbs that read what refers to an image ask a HEAD 404 of its tag again by GET', () => {
  const fixture = proxiedRegistry([2048], 'cache/signed:v1');

  it('verify, verify-attestation, attach and referrers find the image the cache would fetch', async () => {
    const { proxy, registry, image, tmp } = fixture;
    const env = { ...process.env, COSIGN_PASSWORD: '' };
    const keys = join(tmp.path, 'k');
    assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
    // Signed and attested straight in the registry; then asked through the cache, whose HEAD of the tag misses.
    assertOk(await runCliAsync(['sign', `${registry.host}/cache/signed:v1`, '--key', `${keys}.key`], { env }));
    writeFileSync(join(tmp.path, 'predicate.json'), '{"ok":true}\n');
    assertOk(await runCliAsync(['attest', `${registry.host}/cache/signed:v1`, '--key', `${keys}.key`, '--predicate', join(tmp.path, 'predicate.json'), '--type', 'custom'], { env }));
    proxy.addFault({ method: 'HEAD', path: /\/manifests\/v1$/, times: 100, fault: { kind: 'respond', status: 404, body: '' } });
    const ref = `${proxy.host}/cache/signed:v1`;
    const verified = await runCliAsync(['verify', ref, '--key', `${keys}.pub`]);
    assertOk(verified);
    assert.equal(verified.stdout.trim(), image.manifest.digest);
    assertOk(await runCliAsync(['verify-attestation', ref, '--key', `${keys}.pub`, '--type', 'custom']));
    writeFileSync(join(tmp.path, 'notes.txt'), 'notes\n');
    const attached = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
    assertOk(attached);
    const listed = await runCliAsync(['referrers', ref, '--json']);
    assertOk(listed);
    // The attached file and attest's provenance-style referrer.
    const listedDigests = (JSON.parse(listed.stdout) as { subject: string; manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    assert.equal(listedDigests.length, 2);
    assert.ok(listedDigests.includes(attached.stdout.trim()));
    assert.ok(proxy.requests().some((q) => q.method === 'HEAD' && q.path.endsWith('/manifests/v1') && q.status === 404), 'the cache missed');
  });
});
