import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSize } from '../../src/cli/registry-options.js';
import { parseLayoutTarget } from '../../src/transports/layout-reference.js';
import { networkError, parseErrorBody, registryError } from '../../src/registry/errors.js';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from '../../src/registry/retry.js';
import { parseRangeEnd } from '../../src/registry/upload.js';

describe('retry timing', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Tue, 24 Nov 2026 10:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Tue, 24 Nov 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('backs off exponentially within bounds, and caps what a registry may ask for', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const base = Math.min(DEFAULT_RETRY_POLICY.maxDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs * 2 ** (attempt - 1));
      const d = retryDelay(DEFAULT_RETRY_POLICY, attempt);
      assert.ok(d >= base * 0.8 && d <= base * 1.2, `attempt ${attempt}: ${d}`);
    }
    assert.equal(retryDelay(DEFAULT_RETRY_POLICY, 1, '2'), 2000);
    assert.equal(retryDelay(DEFAULT_RETRY_POLICY, 1, '86400'), DEFAULT_RETRY_POLICY.maxRetryAfterMs);
  });
});

describe('registry answers', () => {
  it('Range headers, with or without bytes=', () => {
    assert.equal(parseRangeEnd('0-1048575'), 1048575);
    assert.equal(parseRangeEnd('bytes=0-99'), 99);
    assert.equal(parseRangeEnd('garbage'), undefined);
  });

  it('error bodies become one line with the status and the registry codes', () => {
    const body = JSON.stringify({ errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown\nto registry', detail: {} }] });
    const err = registryError('r.example:5000', 'push manifest sha256:ab', 400, body);
    assert.equal(err.code, 'EREGISTRY');
    assert.equal(err.message, 'r.example:5000: push manifest sha256:ab: 400 MANIFEST_BLOB_UNKNOWN: blob unknown to registry');
    assert.deepEqual(err.details.registryCodes, ['MANIFEST_BLOB_UNKNOWN']);
    assert.equal(registryError('r', 'op', 502, '<html>bad gateway</html>').message, 'r: op: 502 Bad Gateway');
    assert.equal(registryError('r', 'op', 403, '').code, 'EAUTH');
    assert.equal(registryError('r', 'op', 404, JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN' }] })).code, 'ENOTFOUND');
    assert.equal(registryError('r', 'op', 400, JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'x' }] })).code, 'EDIGEST');
    assert.deepEqual(parseErrorBody('{"errors":[{"code":"A"},{"nope":1},{"code":"B","message":"m"}]}').map((e) => e.code), ['A', 'B']);
  });

  it('network failures name the registry and the cause', () => {
    const sys = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
    assert.equal(networkError('r:1', sys('ECONNREFUSED')).message, 'cannot reach r:1: connection refused');
    // On this machine a refusal means no registry was started there (elsewhere a firewall may refuse).
    for (const loopback of ['localhost:5000', '127.0.0.1:5000', '[::1]:5000']) {
      assert.equal(networkError(loopback, sys('ECONNREFUSED')).message, `cannot reach ${loopback}: connection refused (no registry listens there: start one, or check the port)`);
    }
    assert.equal(networkError('r:1', sys('ENOTFOUND')).message, 'cannot reach r:1: unknown host');
    assert.equal(networkError('r:1', Object.assign(new Error('fetch failed'), { cause: sys('ECONNRESET') })).message, 'cannot reach r:1: connection reset');
    assert.match(networkError('r:1', sys('DEPTH_ZERO_SELF_SIGNED_CERT')).message, /self-signed.*--ca-file/);
    assert.equal(networkError('r:1', sys('ECONNRESET')).code, 'ENETWORK');
  });
});

describe('CLI arguments', () => {
  it('sizes', () => {
    assert.equal(parseSize('1MiB', 'chunk-size'), 1048576);
    assert.equal(parseSize('4M', 'chunk-size'), 4 * 1048576);
    assert.equal(parseSize('512k', 'chunk-size'), 524288);
    assert.equal(parseSize('5MB', 'chunk-size'), 5_000_000);
    assert.equal(parseSize('65536', 'chunk-size'), 65536);
    assert.throws(() => parseSize('lots', 'chunk-size'), /--chunk-size "lots": expected a size/);
    assert.throws(() => parseSize('0', 'chunk-size'), /must be larger than 0/);
  });

  it('layout targets: oci:DIR[:NAME] as skopeo writes them', () => {
    assert.deepEqual(parseLayoutTarget('oci:/tmp/l:v1'), { dir: '/tmp/l', name: 'v1' });
    assert.deepEqual(parseLayoutTarget('oci:/tmp/l'), { dir: '/tmp/l' });
    assert.deepEqual(parseLayoutTarget('oci:rel/dir:app:1'), { dir: 'rel/dir', name: 'app:1' });
    assert.deepEqual(parseLayoutTarget('oci:/tmp/l:localhost/app:1'), { dir: '/tmp/l', name: 'localhost/app:1' });
    // The name after the first colon, as skopeo reads it: full references name images in layouts podman and skopeo write.
    assert.deepEqual(parseLayoutTarget('oci:out:example.com/team/app:1.0'), { dir: 'out', name: 'example.com/team/app:1.0' });
    assert.deepEqual(parseLayoutTarget('oci:/tmp/l:localhost:5000/app:1'), { dir: '/tmp/l', name: 'localhost:5000/app:1' });
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(parseLayoutTarget(`oci:/tmp/l@${digest}`), { dir: '/tmp/l', name: digest });
    assert.equal(parseLayoutTarget('registry.example/app:1'), undefined);
  });
});
