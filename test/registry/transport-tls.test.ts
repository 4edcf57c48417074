import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { makeCaChain } from '../support/certs.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from './support.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';

/** Only the trust a test names: no system bundle, no CA a CI image adds through the environment. */
const NO_SYSTEM_TRUST = { SSL_CERT_DIR: '', SSL_CERT_FILE: '/nonexistent', NODE_EXTRA_CA_CERTS: '' };

async function skopeoDigest(ref: string, certDir: string): Promise<string> {
  requireTool('skopeo');
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--cert-dir', certDir, '--format', '{{.Digest}}', `docker://${ref}`], { encoding: 'utf8' });
  return stdout.trim();
}

/**
 * A company's registry: its certificate signed by an intermediate CA, which the root signed; the
 * server sends the intermediate along. What is handed out to trust is often the intermediate, the
 * CA that issues the servers' certificates.
 */
describe('a registry whose certificate an intermediate CA signed', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let registry: RunningRegistry;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    const pki = join(tmp.path, 'pki');
    mkdirSync(pki);
    const chain = makeCaChain(pki);
    const leaf = chain.leaf('registry', { altNames: ['IP:127.0.0.1', 'DNS:localhost'] });
    registry = await startRegistry({ tls: true, serverCert: { certFile: leaf.chainFile, keyFile: leaf.keyFile, caFile: chain.intermediateFile } });
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('trusting the intermediate alone (--ca-file, --cert-dir, SSL_CERT_FILE) is enough, as it is for skopeo', async () => {
    const ref = `${registry.host}/chain/app:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'v1', '--ca-file', registry.caFile!], { env: NO_SYSTEM_TRUST }));
    for (const [flags, env] of [[['--cert-dir', registry.certDir!], NO_SYSTEM_TRUST], [[], { ...NO_SYSTEM_TRUST, SSL_CERT_FILE: registry.caFile! }]] as const) {
      const r = await runCliAsync(['digest', ref, ...flags], { env });
      assertOk(r);
      assert.equal(r.stdout.trim(), image.manifest.digest);
    }
    assert.equal(await skopeoDigest(ref, registry.certDir!), image.manifest.digest);
  });
});
