import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcipushError } from '../../src/errors.js';
import { RegistryClient, type RetryNotice } from '../../src/registry/http.js';
import { fetchManifest } from '../../src/registry/manifests.js';
import { Repository } from '../../src/registry/repository.js';
import { OciLayout } from '../../src/content/layout.js';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { failWith } from '../support/fault-proxy.js';
import { proxiedRegistry } from './proxied-registry.js';

/** Docker Hub's answer past its pull limit. */
const HUB_LIMIT = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] });
/** 2030-01-01: Retry-After dates are read against the injected clock, never the machine's. */
const CLOCK = Date.UTC(2030, 0, 1);

/**
 * A registry that sheds load asking for a wait longer than the operation may last (`--timeout`,
 * 300 s by default): Docker Hub's pull limit says `Retry-After: 21600`. No retry can help.
 */
describe('a Retry-After that ends past --timeout', () => {
  const fixture = proxiedRegistry([2048], 'limited/app:v1');

  /** A client on the injected clock; a retry it would wait for is cut at once (so no test waits). */
  function clientOf(retries: RetryNotice[]): { client: RegistryClient; signal: AbortSignal } {
    const controller = new AbortController();
    const client = new RegistryClient(fixture.proxy.host, { now: () => CLOCK, onRetry: (n) => { retries.push(n); controller.abort(); } });
    return { client, signal: controller.signal };
  }

  for (const [form, value] of [['seconds', '3600'], ['an HTTP date', new Date(CLOCK + 6 * 3600_000).toUTCString()]] as const) {
    it(`a 429 to a manifest GET (Retry-After as ${form}) fails at once, saying how long the registry asked to wait`, async () => {
      fixture.proxy.addFault({ method: 'GET', path: /\/manifests\/v1$/, fault: { kind: 'respond', status: 429, headers: { 'retry-after': value, 'content-type': 'application/json' }, body: HUB_LIMIT } });
      const retries: RetryNotice[] = [];
      const { client, signal } = clientOf(retries);
      try {
        const err = await fetchManifest(client, 'limited/app', 'v1', { signal }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof OcipushError, String(err));
        const hours = form === 'seconds' ? '60 min' : '6 h';
        assert.equal(err.message, `${fixture.proxy.host}: fetch manifest limited/app:v1: 429 TOOMANYREQUESTS: You have reached your pull rate limit. (the registry asks to wait ${hours} before trying again; --timeout leaves 5 min)`);
        assert.deepEqual(retries, []);
        assert.deepEqual(fixture.proxy.requests().filter((r) => r.path.endsWith('/manifests/v1')).map((r) => r.status), [429]);
      } finally {
        await client.close();
      }
    });
  }

  it('a 503 to a blob upload fails at once the same way, and the image is not pushed', async () => {
    const layout = await OciLayout.open(fixture.image.layout);
    fixture.proxy.addFault(failWith(503, { method: 'PUT', path: /\/blobs\/uploads\// , times: 10 }, { 'retry-after': '7200' }));
    const retries: RetryNotice[] = [];
    const { client, signal } = clientOf(retries);
    try {
      const err = await copyGraph(layout, new Repository(client, 'limited/pushed', { destination: true }), fixture.image.manifest, { rootReference: 'v1', signal }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OcipushError, String(err));
      assert.match(err.message, /^127\.0\.0\.1:\d+: push blob sha256:[0-9a-f]{64}: 503 UNKNOWN: fault proxy: injected 503 \(the registry asks to wait 2 h before trying again; --timeout leaves 5 min\)$/);
      assert.deepEqual(retries, []);
      const registry = new RegistryClient(fixture.registry.host);
      try {
        await assert.rejects(fetchManifest(registry, 'limited/pushed', 'v1'), (e: unknown) => (e as OcipushError).code === 'ENOTFOUND');
      } finally {
        await registry.close();
      }
    } finally {
      await client.close();
    }
  });
});
