import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build, isOcipushError, push } from '../../src/index.js';
import { OciLayout } from '../../src/content/layout.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { MiB } from './support.js';

/**
 * A client's destroy() (what a failed verb does last, and what a library call's signal does)
 * used to destroy its connections at once: the DELETEs with which the uploads it stopped release
 * their upload sessions failed with it, and each session stayed in the registry (distribution
 * keeps one a week). Against the real registry, whose sessions are the directories of `_uploads`.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let proxy: FaultProxy | undefined;
let layoutDir: string;
let layer: Descriptor;
const releases: (() => void)[] = [];

before(async () => {
  tmp = await tempDir('ocipush-in-flight-');
  registry = await startRegistry();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  // Incompressible: the layer's PUT is still being sent when the proxy stops reading it.
  writeFileSync(join(rootfs, 'data.bin'), randomBytes(2 * MiB));
  layoutDir = join(tmp.path, 'layout');
  await build({ rootfs, layout: layoutDir, tag: 'app' });
  const layout = await OciLayout.open(layoutDir);
  const manifest = await layout.readManifest(await layout.resolve('app'));
  assert.ok(!('manifests' in manifest));
  layer = manifest.layers[0]!;
});

after(async () => {
  for (const release of releases) release();
  await proxy?.stop();
  await registry?.stop();
  await tmp?.cleanup();
});

/**
 * Holds every PUT into an upload session at the proxy, never forwarding it: the session its POST
 * opened stays as the registry made it, which a DELETE removes. `reached` resolves at the first.
 */
function holdUploadPuts(onReach: () => void = () => {}): { rule: FaultRule; reached: Promise<void> } {
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => { reach = resolve; });
  // Let go (as a 502, nothing forwarded) when the test ends.
  const held = new Promise<void>((_, reject) => { releases.push(() => reject(new Error('released'))); });
  held.catch(() => {});
  const rule: FaultRule = {
    method: 'PUT', path: /\/blobs\/uploads\//, times: Infinity,
    fault: { kind: 'around', before: async () => { reach(); onReach(); await held; }, after: () => {} },
  };
  return { rule, reached };
}

/**
 * The upload sessions the registry holds for `repository`: those with their data (distribution's
 * DELETE removes a session's `data` and `startedat`, by which its purge finds it, and leaves an
 * empty hash state behind).
 */
function sessionsOf(repository: string): string[] {
  const uploads = join(registry.storageDir, 'docker', 'registry', 'v2', 'repositories', repository, '_uploads');
  return existsSync(uploads) ? readdirSync(uploads).filter((s) => existsSync(join(uploads, s, 'data')) || existsSync(join(uploads, s, 'startedat'))) : [];
}

function uploadRequests(): { posts: number; deletes: (number | undefined)[] } {
  const requests = proxy!.requests().filter((r) => r.path.includes('/blobs/uploads/'));
  return { posts: requests.filter((r) => r.method === 'POST').length, deletes: requests.filter((r) => r.method === 'DELETE').map((r) => r.status) };
}

test('destroy() of a client with a blob\'s PUT in flight lets the upload session\'s DELETE go before the connections close: the registry keeps no session', { timeout: 60_000 }, async () => {
  const hold = holdUploadPuts();
  proxy = await startFaultProxy({ target: registry.url, faults: [hold.rule] });
  const client = connectRegistry(proxy.host);
  const repository = 'destroy/client';
  const layout = await OciLayout.open(layoutDir);
  const upload = new Repository(client, repository).pushBlob(layer, layout.blobSource(layer)).then(() => undefined, (e: unknown) => e);
  await hold.reached;
  assert.equal(sessionsOf(repository).length, 1, 'the POST opened a session in the registry');
  await client.destroy();
  const err = await upload;
  assert.deepEqual(sessionsOf(repository), [], 'no upload session left in the registry');
  assert.deepEqual(uploadRequests().deletes, [204], 'one DELETE, answered by the registry');
  assert.ok(isOcipushError(err), `an OcipushError, not ${String(err)}`);
  assert.equal(err.code, 'EABORTED', err.message);
  await proxy.stop();
  proxy = undefined;
});

test('push aborted by its signal (its client destroyed at once) while its blobs go up deletes every upload session it opened: the registry keeps none, and no tag', { timeout: 60_000 }, async () => {
  const controller = new AbortController();
  const hold = holdUploadPuts(() => controller.abort());
  proxy = await startFaultProxy({ target: registry.url, faults: [hold.rule] });
  const repository = 'destroy/push';
  const err = await push({ layout: layoutDir, tag: 'app', to: `${proxy.host}/${repository}:1`, signal: controller.signal }).then(() => undefined, (e: unknown) => e);
  const { posts, deletes } = uploadRequests();
  assert.ok(posts >= 1, 'a session was opened');
  assert.deepEqual(sessionsOf(repository), [], 'no upload session left in the registry');
  assert.deepEqual(deletes, Array(posts).fill(204), 'each session opened was deleted by the registry');
  assert.ok(isOcipushError(err), `an OcipushError, not ${String(err)}`);
  assert.equal(err.code, 'EABORTED', err.message);
  // Asked of the registry itself, not through the proxy: nothing was tagged or committed.
  assert.equal((await fetch(`${registry.url}/v2/${repository}/manifests/1`, { method: 'HEAD' })).status, 404);
  assert.equal((await fetch(`${registry.url}/v2/${repository}/blobs/${layer.digest}`, { method: 'HEAD' })).status, 404);
});
