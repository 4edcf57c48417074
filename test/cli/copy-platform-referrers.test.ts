import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copy } from '../../src/index.js';
import { startOci11Proxy, type Oci11Proxy } from '../support/oci11-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { skopeoRaw } from './copy-support.js';

// A copy of some of an index's platforms makes a new index in memory over the source: what refers
// to the manifests it keeps (an SBOM through the OCI 1.1 referrers API, a cosign signature under
// its tag) was looked for in that view, which answers neither, and was left behind; with
// `--platform all` it came along.

let registry: RunningRegistry;
let proxy: Oci11Proxy;
let tmp: { path: string; cleanup: () => Promise<void> };
const env = { ...process.env, COSIGN_PASSWORD: '' };
let keys: string;
let amd64: string;
let arm64: string;
let notes: string;

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir();
  registry = await startRegistry();
  proxy = await startOci11Proxy({ target: registry.url, referrersApi: true });
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'app'), 'one app for three platforms\n');
  const layout = join(tmp.path, 'layout');
  for (const platform of ['linux/amd64', 'linux/arm64', 'linux/s390x']) {
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', platform.replace(/\//g, '-'), '--platform', platform]));
  }
  assertOk(await runCliAsync(['index', 'create', 'linux-amd64', 'linux-arm64', 'linux-s390x', '--layout', layout, '--tag', 'multi']));
  const src = `${proxy.host}/narrow/src`;
  assertOk(await runCliAsync(['push', `${src}:1`, '--layout', layout, '--tag', 'multi']));
  amd64 = (await runCliAsync(['digest', `${src}:1`, '--platform', 'linux/amd64'])).stdout.trim();
  arm64 = (await runCliAsync(['digest', `${src}:1`, '--platform', 'linux/arm64'])).stdout.trim();
  writeFileSync(join(tmp.path, 'notes.txt'), 'release notes\n');
  const attached = await runCliAsync(['attach', `${src}@${amd64}`, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
  assertOk(attached);
  notes = attached.stdout.trim();
  keys = join(tmp.path, 'k');
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
  assertOk(await runCliAsync(['sign', `${src}@${arm64}`, '--key', `${keys}.key`], { env }));
});
after(async () => {
  await proxy?.stop();
  await registry?.stop();
  await tmp?.cleanup();
});

async function assertCarried(repository: string): Promise<void> {
  // The SBOM-like artifact, in the destination's repository as the real registry holds it.
  assert.equal((await skopeoRaw(`${registry.host}/${repository}@${notes}`)).digest, notes, 'the API referrer of the amd64 manifest came along');
  const listed = await runCliAsync(['referrers', `${proxy.host}/${repository}@${amd64}`, '--json']);
  assertOk(listed);
  assert.deepEqual((JSON.parse(listed.stdout) as { manifests: { digest: string }[] }).manifests.map((r) => r.digest), [notes]);
  // The signature, under cosign's tag as skopeo reads it, byte for byte the source's: not only
  // something ocipush's own verify accepts.
  const signatureTag = `${arm64.replace(':', '-')}.sig`;
  assert.equal((await skopeoRaw(`${registry.host}/${repository}:${signatureTag}`)).digest, (await skopeoRaw(`${registry.host}/narrow/src:${signatureTag}`)).digest);
  assertOk(await runCliAsync(['verify', `${proxy.host}/${repository}@${arm64}`, '--key', `${keys}.pub`]));
}

test('copy --platform of two of three platforms carries what refers to the kept manifests: an OCI 1.1 referrer and a cosign signature', async () => {
  const r = await runCliAsync(['copy', `${proxy.host}/narrow/src:1`, `${proxy.host}/narrow/cli:1`, '--platform', 'linux/amd64,linux/arm64']);
  assertOk(r);
  assert.match(r.stderr, /2 referrers/);
  await assertCarried('narrow/cli');
});

test('the library\'s copy with two of three platforms carries them too', async () => {
  const copied = await copy({ from: `${proxy.host}/narrow/src:1`, to: `${proxy.host}/narrow/lib:1`, platform: 'linux/amd64,linux/arm64' });
  assert.equal(copied.referrers.length, 2);
  await assertCarried('narrow/lib');
});
