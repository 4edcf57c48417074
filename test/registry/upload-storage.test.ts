import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { skopeoFails } from '../cli/copy-support.js';
import { umociImage, type UmociImage } from './support.js';

const EXPIRED = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>';

/**
 * A registry whose upload sessions live on its storage's host (GCS resumable uploads, an S3
 * presigned URL): the upload Location names that host, which refuses the PUT as S3 refuses an
 * expired signature. The front proxy is the registry the client knows; the storage proxy, another
 * host in front of the same registry.
 */
describe('an upload refused by the storage host the registry sent it to', () => {
  let registry: RunningRegistry;
  let front: FaultProxy;
  let storage: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    front = await startFaultProxy({ target: registry.url });
    storage = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'v1', [2048]);
  });
  after(async () => {
    await front?.stop();
    await storage?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  for (const status of [401, 403]) {
    it(`a ${status} there names that host and its reason, not the registry's credentials`, async () => {
      front.clearFaults();
      storage.clearFaults();
      front.addFault({ method: 'POST', path: /\/blobs\/uploads\/$/, times: 1000, fault: { kind: 'response-header', name: 'location', value: (v) => v && `${storage.url}${new URL(v, front.url).pathname}${new URL(v, front.url).search}` } });
      storage.addFault({ method: 'PUT', path: /\/blobs\/uploads\//, times: 1000, fault: { kind: 'respond', status, headers: { 'content-type': 'application/xml' }, body: EXPIRED } });
      const repo = `storage/s${status}`;
      const r = await runCliAsync(['push', `oci:${image.layout}:v1`, `${front.host}/${repo}:v1`, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const line = new RegExp(`^ocipush: ${front.host}: push blob sha256:[0-9a-f]{64}: ${storage.host}, where it was redirected, answered ${status} AccessDenied: Request has expired$`);
      assert.match(r.stderr.trimEnd().split('\n').at(-1)!, line);
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EREGISTRY');
      assertOneLineError(await runCliAsync(['push', `oci:${image.layout}:v1`, `${front.host}/${repo}:v1`, '-q']), line);
      assert.match((await skopeoFails(`${registry.host}/${repo}:v1`)) ?? 'found', /manifest unknown/i);
    });
  }
});
