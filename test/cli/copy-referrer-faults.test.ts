import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startOci11Proxy, type Oci11Proxy } from '../support/oci11-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { multiPlatformImage, skopeoRawManifest, type MultiPlatformImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith, skopeoFails } from './copy-support.js';

// A copy whose source could not list the image's referrers (its referrers API or `sha256-<hex>`
// index answering 500, 403, or a body that is no index), or look up cosign's tags of it, failed
// after the image was copied and tagged at the destination: the tag was there, its signatures and
// SBOMs not, and the exit status said the copy had failed. They are now listed first, as oras cp
// -r and regctl image copy --referrers list them before the image's manifest goes: the copy fails
// with nothing written.

let tmp: { path: string; cleanup: () => Promise<void> };
let image: MultiPlatformImage;
let source: RunningRegistry;
let destination: RunningRegistry;
let api: Oci11Proxy;
let tagSchema: FaultProxy;
let viaApi: FaultProxy;
/** In each source repository: the artifact attached to the index, the one attached to that artifact, and the one attached to the arm64 manifest. */
const attached: Record<string, { index: string; second: string; arm64: string }> = {};
let n = 0;
const env = envWith();

async function attach(reference: string, name: string): Promise<string> {
  const file = join(tmp.path, name);
  writeFileSync(file, `${name}\n`);
  const r = await runCliAsync(['attach', reference, file, '--artifact-type', `application/vnd.test.${name}`], { env });
  assertOk(r);
  return r.stdout.trim();
}

before(async () => {
  tmp = await tempDir();
  image = await multiPlatformImage(join(tmp.path, 'layout'), 'multi');
  source = await startRegistry();
  destination = await startRegistry();
  api = await startOci11Proxy({ target: source.url, referrersApi: true });
  tagSchema = await startFaultProxy({ target: source.url });
  viaApi = await startFaultProxy({ target: `http://${api.host}` });
  for (const repo of ['tags/app', 'api/app']) {
    const host = repo === 'api/app' ? api.host : source.host;
    assertOk(await runCliAsync(['push', `${host}/${repo}:1`, '--layout', join(tmp.path, 'layout'), '--tag', 'multi'], { env }));
    const index = await attach(`${host}/${repo}@${image.index.digest}`, 'sbom');
    const second = await attach(`${host}/${repo}@${index}`, 'signature');
    attached[repo] = { index, second, arm64: await attach(`${host}/${repo}@${image.manifests[1]!.digest}`, 'scan') };
  }
});
after(async () => {
  await tagSchema?.stop();
  await viaApi?.stop();
  await api?.stop();
  await source?.stop();
  await destination?.stop();
  await tmp?.cleanup();
});
beforeEach(() => {
  tagSchema.clearFaults();
  viaApi.clearFaults();
});

const tagOf = (digest: string) => digest.replace(':', '-');

describe('copy from a source whose referrers cannot be listed', () => {
  const cases: { name: string; proxy: () => FaultProxy; repo: string; method?: string; path: () => RegExp; fault: { status: number; headers?: Record<string, string>; body?: string }; line: () => RegExp }[] = [
    {
      name: 'the image\'s sha256-<hex> index answers 403', proxy: () => tagSchema, repo: 'tags/app',
      path: () => new RegExp(`/manifests/${tagOf(image.index.digest)}$`), fault: { status: 403 },
      line: () => new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: fetch referrers index tags/app:${tagOf(image.index.digest)}: 403`),
    },
    {
      name: 'a platform manifest\'s index answers a page that is no index', proxy: () => tagSchema, repo: 'tags/app',
      path: () => new RegExp(`/manifests/${tagOf(image.manifests[1]!.digest)}$`),
      fault: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>maintenance</html>' },
      line: () => new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+/tags/app:${tagOf(image.manifests[1]!.digest)}: `),
    },
    {
      name: 'the index of a referrer (a signature of the SBOM) answers 403', proxy: () => tagSchema, repo: 'tags/app',
      path: () => new RegExp(`/manifests/${tagOf(attached['tags/app']!.index)}$`), fault: { status: 403 },
      line: () => new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: fetch referrers index tags/app:${tagOf(attached['tags/app']!.index)}: 403`),
    },
    {
      name: 'cosign\'s sha256-<hex>.sig tag of a platform manifest answers 403', proxy: () => tagSchema, repo: 'tags/app', method: 'HEAD',
      path: () => new RegExp(`/manifests/${tagOf(image.manifests[0]!.digest)}\\.sig$`), fault: { status: 403 },
      line: () => new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: check manifest tags/app:${tagOf(image.manifests[0]!.digest)}\\.sig: 403`),
    },
    {
      name: 'the referrers API answers 500 (after its retries)', proxy: () => viaApi, repo: 'api/app',
      path: () => new RegExp(`/referrers/${image.index.digest}`), fault: { status: 500 },
      line: () => new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: list referrers of api/app@${image.index.digest}: 500`),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: fails in one line before anything is written, and copies all once it answers`, async () => {
      const target = `${destination.host}/dst/faults${++n}:1`;
      c.proxy().addFault({ method: c.method ?? 'GET', path: c.path(), times: Infinity, fault: { kind: 'respond', ...c.fault } });
      await destination.forgetAccessLog();
      const r = await runCliAsync(['copy', `${c.proxy().host}/${c.repo}:1`, target], { env });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trimEnd().split('\n').at(-1)!, c.line());
      const log = await destination.settledAccessLog();
      assert.deepEqual(log.filter((e) => e.method !== 'GET' && e.method !== 'HEAD' && !e.uri.includes('harness-settle')).map((e) => `${e.method} ${e.path}`), [], 'nothing written to the destination');
      assert.ok(await skopeoFails(target), 'no tag at the destination');

      c.proxy().clearFaults();
      assertOk(await runCliAsync(['copy', `${c.proxy().host}/${c.repo}:1`, target], { env }));
      // Read without ocipush: the destination (no referrers API) lists them in its tag schema indexes.
      const listed = (digest: string) => (JSON.parse(skopeoRawManifest(`${target.replace(/:1$/, '')}:${tagOf(digest)}`).bytes.toString()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
      const { index, second, arm64 } = attached[c.repo]!;
      assert.deepEqual(listed(image.index.digest), [index]);
      assert.deepEqual(listed(index), [second]);
      assert.deepEqual(listed(image.manifests[1]!.digest), [arm64]);
    });
  }
});
