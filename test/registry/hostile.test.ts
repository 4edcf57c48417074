import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { OcipushError } from '../../src/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { runCliAsync } from '../cli/registry-support.js';

/** A registry (behind a proxy that answers for it) that serves content other than it promised. */
describe('a registry that serves wrong content', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let n = 0;

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
  beforeEach(() => { proxy.clearFaults(); proxy.clearRequests(); });

  /**
   * Serves, through the proxy, a manifest naming a small layer `declared` (digest and size) and
   * answers the layer's GET with `served`; then pulls it with the CLI.
   */
  async function pullServed(declared: { digest: string; size: number }, served: Buffer) {
    const repo = `hostile/p${++n}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, ...declared }],
    }));
    const octets = { 'content-type': 'application/octet-stream' };
    proxy.addFault({ method: 'GET', path: new RegExp(`^/v2/${repo}/manifests/v1$`), times: 9, fault: { kind: 'respond', status: 200, headers: { 'content-type': MediaType.OciManifest, 'docker-content-digest': sha256(manifest) }, body: manifest.toString() } });
    proxy.addFault({ method: 'GET', path: new RegExp(`^/v2/${repo}/blobs/${sha256(config)}$`), times: 9, fault: { kind: 'respond', status: 200, headers: octets, body: config.toString() } });
    proxy.addFault({ method: 'GET', path: new RegExp(`^/v2/${repo}/blobs/${declared.digest}$`), times: 9, fault: { kind: 'respond', status: 200, headers: octets, body: served.toString() } });
    return runCliAsync(['pull', `${proxy.host}/${repo}:v1`, '--layout', join(tmp.path, `layout${n}`), '--json']);
  }

  /** One error line on stderr (after the progress lines), EDIGEST as a JSON document on stdout, exit 1: never a stack. */
  function assertDigestError(r: { status: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
    assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines.filter((l) => !l.startsWith('pulling ')).length, 1, `one error line on stderr: ${r.stderr}`);
    assert.match(lines.at(-1)!, new RegExp(`^ocipush: ${pattern.source}`));
    const doc = JSON.parse(r.stdout) as { error?: { code?: string; message?: string } };
    assert.equal(doc.error?.code, 'EDIGEST');
    assert.match(doc.error?.message ?? '', pattern);
  }

  // ASCII, so that the proxy's string body is exactly these bytes.
  const bytes = (size: number) => Buffer.from(randomBytes(size).toString('hex').slice(0, size));

  it('a small blob whose bytes do not match its digest: one-line EDIGEST, valid --json', async () => {
    const real = bytes(10);
    const r = await pullServed({ digest: sha256(real), size: 10 }, bytes(10));
    assertDigestError(r, /\S+\/hostile\/p\d+: blob sha256:[0-9a-f]{64}: content has digest sha256:[0-9a-f]{64}, expected sha256:/);
  });

  it('a small blob longer than declared: one-line EDIGEST, valid --json', async () => {
    const real = bytes(10);
    const r = await pullServed({ digest: sha256(real), size: 10 }, Buffer.concat([real, bytes(20)]));
    assertDigestError(r, /\S+: blob sha256:[0-9a-f]{64}: more than the expected 10 bytes/);
  });

  it('a small blob under a sha512 digest it does not match: one-line EDIGEST, valid --json', async () => {
    const real = bytes(10);
    const digest = `sha512:${createHash('sha512').update(real).digest('hex')}`;
    const r = await pullServed({ digest, size: 10 }, bytes(10));
    assertDigestError(r, /\S+: blob sha512:[0-9a-f]{128}: content has digest sha512:[0-9a-f]{128}, expected sha512:/);
  });

  it('a manifest HEAD by digest answered 200 for another digest is a mismatch, not "already there"', async () => {
    const layout = await OciLayout.open(join(tmp.path, 'head-layout'), { create: true });
    const layer = await layout.putJson(MediaType.OciConfig, { pad: randomBytes(8).toString('hex') });
    const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [{ ...layer, mediaType: MediaType.OciLayerGzip }] });
    const other = sha256(Buffer.from('another manifest'));
    proxy.addFault({ method: 'HEAD', path: /\/manifests\/sha256:/, times: 9, fault: { kind: 'respond', status: 200, headers: { 'docker-content-digest': other, 'content-type': MediaType.OciManifest }, body: '' } });
    const client = connectRegistry(proxy.host);
    try {
      const err = await copyGraph(layout, new Repository(client, 'hostile/head'), manifest).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OcipushError, `rejected, not taken as already there (${String(err)})`);
      assert.equal(err.code, 'EDIGEST');
      assert.match(err.message, new RegExp(`check manifest hostile/head@${manifest.digest}: the registry answered for ${other}`));
      assert.ok(proxy.requests().every((r) => r.method !== 'PUT' || !r.path.includes('/manifests/')), 'no manifest pushed over it');
    } finally {
      await client.close();
    }
  });
});
