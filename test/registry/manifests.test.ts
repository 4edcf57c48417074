import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir, validateLayout } from '../support/tools.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { OcipushError } from '../../src/errors.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { multiPlatformImage, skopeoDigest, skopeoRawManifest } from './support.js';
import { proxiedRegistry } from './proxied-registry.js';

/**
 * Registries that do not serve HEAD on manifests (older Quay and Artifactory answer 405, some
 * gateways 501) while GET works: a push, a copy and `digest` read the manifest by GET instead, as
 * crane does, rather than stopping at the first HEAD.
 */
describe('a registry that answers HEAD of a manifest with 405 or 501', () => {
  const f = proxiedRegistry([4096]);

  const headRefused = (status: number) => ({ method: 'HEAD', path: /\/manifests\//, times: Infinity, fault: { kind: 'respond' as const, status } });

  for (const status of [405, 501]) {
    it(`push, push again, copy and digest work through HEAD ${status}`, async () => {
      f.proxy.addFault(headRefused(status));
      const repo = `nohead/r${status}`;
      assertOk(await runCliAsync(['push', `oci:${f.image.layout}:v1`, `${f.proxy.host}/${repo}:v1`]));
      assert.equal(skopeoDigest(`${f.registry.host}/${repo}:v1`), f.image.manifest.digest);
      assert.ok(f.proxy.requests().some((r) => r.method === 'HEAD' && r.status === status), 'the HEAD was refused');

      // Pushed again: the tag is read by GET and names the very manifest, so nothing is written.
      f.proxy.clearRequests();
      const again = await runCliAsync(['push', `oci:${f.image.layout}:v1`, `${f.proxy.host}/${repo}:v1`]);
      assertOk(again);
      assert.deepEqual(f.proxy.requests().filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH'), []);

      assertOk(await runCliAsync(['copy', `${f.proxy.host}/${repo}:v1`, `${f.proxy.host}/${repo}-copy:v2`]));
      assert.equal(skopeoDigest(`${f.registry.host}/${repo}-copy:v2`), f.image.manifest.digest);

      const digest = await runCliAsync(['digest', `${f.proxy.host}/${repo}:v1`]);
      assertOk(digest);
      assert.equal(digest.stdout.trim(), f.image.manifest.digest);
    });
  }

  it('a tag that is missing is still "not found", in one line', async () => {
    f.proxy.addFault(headRefused(405));
    const r = await runCliAsync(['digest', `${f.proxy.host}/nohead/none:v1`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), /^ocipush: .*nohead\/none:v1: manifest not found$/);
  });
});

/**
 * Docker schema 1 manifests (`…manifest.v1+prettyjws`), which registries still serve for images
 * pushed before 2017: ocipush reads none, and says so in one line with the way to convert them,
 * rather than reading the manifest as a blob the registry does not have ("404 BLOB_UNKNOWN").
 */
describe('a registry that serves a Docker schema 1 manifest', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  const body = JSON.stringify({
    schemaVersion: 1, name: 'old/app', tag: 'v1', architecture: 'amd64',
    fsLayers: [{ blobSum: `sha256:${'a'.repeat(64)}` }], history: [{ v1Compatibility: '{"id":"e45a5af57b00862e5ef5782a9925979a02ba2b12dff832fd0991335f4a11e5c5"}' }],
    signatures: [],
  }, null, 3);

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  for (const contentType of ['application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/json']) {
    it(`inspect, pull and copy refuse it in one line (Content-Type ${contentType})`, async () => {
      proxy.clearFaults();
      proxy.addFault({
        method: 'GET', path: /^\/v2\/old\/app\/manifests\//, times: Infinity,
        fault: { kind: 'respond', status: 200, headers: { 'content-type': contentType, 'docker-distribution-api-version': 'registry/2.0' }, body },
      });
      for (const args of [['inspect', `${proxy.host}/old/app:v1`], ['pull', `${proxy.host}/old/app:v1`, `oci:${registry.storageDir}-pulled:v1`], ['copy', `${proxy.host}/old/app:v1`, `${registry.host}/new/app:v1`]]) {
        const r = await runCliAsync(args);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`^ocipush: ${proxy.host.replace(/\./g, '\\.')}/old/app:v1 is a Docker schema 1 manifest \\(.*\\), which ocipush does not read; convert it to schema 2 with skopeo copy --format v2s2\\n$`));
      }
    });
  }
});

/**
 * distribution's filesystem driver rewrites a link file in place (truncate, then write), and a
 * manifest PUT of an image already there rewrites its revision link. An index PUT that checks its
 * children meanwhile reads an empty link and answers `400 DIGEST_INVALID` plus
 * `MANIFEST_BLOB_UNKNOWN` for a child that is there: what `copy --all-tags` met when one job PUT
 * an image as a tag's root while another job's index named it, and what two pipelines pushing
 * into one repository meet. The manifest's own digest is ours and checked, so DIGEST_INVALID can
 * only be the registry's torn read: the PUT is sent again.
 */
describe('a manifest PUT that meets a link another writer is rewriting', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('an index PUT answered DIGEST_INVALID for a child mid-rewrite is sent again, and lands', async () => {
    const layout = join(tmp.path, 'multi');
    const image = await multiPlatformImage(layout, 'multi');
    const child = image.manifests[0]!;
    const link = join(registry.storageDir, 'docker/registry/v2/repositories/race/app/_manifests/revisions/sha256', child.digest.slice('sha256:'.length), 'link');
    let saved: Buffer | undefined;
    proxy.addFault({
      method: 'PUT', path: /^\/v2\/race\/app\/manifests\/multi$/,
      fault: {
        kind: 'around',
        // The state a concurrent PUT of the child leaves between its truncate and its write.
        before: async () => { saved = await readFile(link); await writeFile(link, ''); },
        after: async () => { await writeFile(link, saved!); },
      },
    });
    const r = await runCliAsync(['push', `oci:${layout}:multi`, `${proxy.host}/race/app:multi`]);
    assertOk(r);
    const indexPuts = proxy.requests().filter((q) => q.method === 'PUT' && q.path.endsWith('/manifests/multi'));
    // The registry itself answered the torn read: the first PUT went through and was refused.
    assert.deepEqual(indexPuts.map((q) => [q.fault, q.status]), [['around', 400], [undefined, 201]]);
    assert.equal(skopeoRawManifest(`${registry.host}/race/app:multi`).digest, image.index.digest);
  });
});

/**
 * Quay (and distribution before 2.1, whose spec said so) answers a manifest PUT with 202 Accepted,
 * not 201: the manifest is stored all the same. containerd, skopeo and docker take any 2xx.
 */
describe('a registry that answers a manifest PUT with 202 Accepted', () => {
  const f = proxiedRegistry([4096]);

  it('push and attach take the 202 as stored: skopeo reads the image, and the artifact is listed', async () => {
    f.proxy.addFault({ method: 'PUT', path: /\/manifests\//, times: Infinity, fault: { kind: 'rewrite-status', status: 202 } });
    assertOk(await runCliAsync(['push', `oci:${f.image.layout}:v1`, `${f.proxy.host}/quay/app:v1`]));
    assert.equal(skopeoDigest(`${f.registry.host}/quay/app:v1`), f.image.manifest.digest);

    const report = join(f.tmp.path, 'report.json');
    await writeFile(report, '{"ok":true}\n');
    assertOk(await runCliAsync(['attach', `${f.proxy.host}/quay/app:v1`, `${report}:application/json`, '--artifact-type', 'application/vnd.example.report+json']));
    const listed = await runCliAsync(['referrers', `${f.registry.host}/quay/app:v1`, '--json']);
    assertOk(listed);
    assert.match(listed.stdout, /application\/vnd\.example\.report\+json/);
    assert.ok(f.proxy.requests().filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).every((r) => r.status === 202), 'every manifest PUT was answered 202');
  });
});

/**
 * A connection that breaks in a manifest's body, after the registry answered 200 (a proxy
 * dropping it, a registry restarting): the transport's retries end at the headers, so the GET is
 * asked again here, as a broken blob download resumes, instead of the pull failing at once.
 */
describe('a manifest GET whose connection breaks in the body', () => {
  const f = proxiedRegistry([4096], 'cut/app:v1');

  const cutManifest = (times: number) => ({ method: 'GET', path: /\/manifests\//, times, fault: { kind: 'cut-response' as const, afterBytes: 100 } });

  it('once: pull asks for the manifest again and the layout it writes is valid', async () => {
    f.proxy.addFault(cutManifest(1));
    const dir = join(f.tmp.path, 'pulled');
    const r = await runCliAsync(['pull', `${f.proxy.host}/cut/app:v1`, `oci:${dir}:v1`]);
    assertOk(r);
    assert.match(r.stderr, /fetch manifest cut\/app:v1: the connection broke at byte 100 of \d+, retrying/);
    validateLayout(dir, 'v1');
    assert.deepEqual(f.proxy.requests().filter((q) => q.path.includes('/manifests/')).map((q) => q.fault ?? 'whole'), ['cut-response', 'whole']);
  });

  it('every time: a bounded number of GETs, then ENETWORK saying where the body broke', async () => {
    f.proxy.addFault(cutManifest(Infinity));
    const client = connectRegistry(f.proxy.host, { retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } });
    try {
      await assert.rejects(new Repository(client, 'cut/app').fetchManifest('v1'), (err: unknown) => {
        assert.ok(err instanceof OcipushError);
        assert.equal(err.code, 'ENETWORK');
        assert.match(err.message, /^127\.0\.0\.1:\d+: fetch manifest cut\/app:v1: the connection broke at byte 100 of \d+, 3 times \(/);
        return true;
      });
    } finally {
      await client.close();
    }
    assert.equal(f.proxy.requests().filter((q) => q.path.includes('/manifests/')).length, 3);
  });
});
