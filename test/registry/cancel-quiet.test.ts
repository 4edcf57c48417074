import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failWith } from '../support/fault-proxy.js';
import { runCliAsync } from '../cli/registry-support.js';
import { skopeoFails } from '../cli/copy-support.js';
import { proxiedRegistry } from './proxied-registry.js';

/**
 * After an upload fails for good, its session is deleted as a courtesy: the registry would expire
 * it anyway. That DELETE failing too (a registry that answers 503 to it, or is gone by then) is no
 * part of the failure the user reads.
 */
describe('the cancel of a failed upload session', () => {
  const fixture = proxiedRegistry([2048]);

  it('is retried without a line: the output is the upload failure alone', async () => {
    const { proxy, image, registry } = fixture;
    proxy.addFault(failWith(400, { method: 'PUT', path: /\/blobs\/uploads\//, times: 1000 }));
    proxy.addFault(failWith(503, { method: 'DELETE', path: /\/blobs\/uploads\//, times: 1000 }));
    const r = await runCliAsync(['push', `oci:${image.layout}:v1`, `${proxy.host}/quiet/app:v1`]);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /cancel upload|retrying/, r.stderr);
    assert.match(r.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: 127\.0\.0\.1:\d+: push blob sha256:[0-9a-f]{64}: 400 UNKNOWN: fault proxy: injected 400$/);
    // It was asked, and asked again, as before.
    assert.ok(proxy.requests().filter((q) => q.method === 'DELETE').length >= 2, JSON.stringify(proxy.requests().map((q) => `${q.method} ${q.status}`)));
    assert.match((await skopeoFails(`${registry.host}/quiet/app:v1`)) ?? 'found', /manifest unknown/i);
  });
});
