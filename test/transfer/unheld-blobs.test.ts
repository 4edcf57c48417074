import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, runCli, tempDir, validateLayout } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { MiB, umociImage, type UmociImage } from '../registry/support.js';

/**
 * A registry that answers a cross-repository mount 201 without doing it (Artifactory has:
 * manifest-tool#98), then refuses the manifest for the blob it said it mounted.
 */
describe('a mount the registry answered as done but did not do', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'v1', [MiB]);
    assertOk(runCli(['push', `oci:${image.layout}:v1`, `${registry.host}/src/app:v1`]));
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('copy uploads the blobs the manifest was refused for, sends the manifest again, and the image is whole (skopeo pulls it)', async () => {
    proxy.addFault({ method: 'POST', path: /[?&]mount=/, times: 10, fault: { kind: 'respond', status: 201 } });
    const r = await runCliAsync(['copy', `${proxy.host}/src/app:v1`, `${proxy.host}/dst/app:v1`]);
    assertOk(r);
    assert.match(r.stderr, new RegExp(`layer ${image.layers[0]!.slice(0, 19)}: manifest ${image.manifest.digest} was refused for lacking it, though its mount was answered as done \\(MANIFEST_BLOB_UNKNOWN\\): uploading it`));
    assert.match(r.stderr, /\(2 blobs: 2 copied, 0 mounted, 0 already there\)/);
    const manifestPuts = proxy.requests().filter((q) => q.method === 'PUT' && q.path === '/v2/dst/app/manifests/v1');
    assert.deepEqual(manifestPuts.map((q) => q.status), [400, 201]);
    // skopeo reads every blob from the registry itself and checks each against its digest.
    const pulled = join(tmp.path, 'pulled');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/dst/app:v1`, `oci:${pulled}:v1`]);
    validateLayout(pulled, 'v1');
    assert.match(run('skopeo', ['inspect', '--raw', `oci:${pulled}:v1`]), new RegExp(image.layers[0]!.slice('sha256:'.length)));
  });
});
