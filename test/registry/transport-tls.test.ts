import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { makeCaChain } from '../support/certs.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from './support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

/** Only the trust a test names: no system bundle, no CA a CI image adds through the environment. */
const NO_SYSTEM_TRUST = { SSL_CERT_DIR: '', SSL_CERT_FILE: missingPath('ca-bundle.pem'), NODE_EXTRA_CA_CERTS: '' };

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

/**
 * Certificates a CA cannot fix: one for another name, one that has expired, one not valid yet.
 * Each is one line naming what is wrong and what fixes it, as skopeo's x509 errors name it, not
 * a hint to add the CA that is already trusted.
 */
describe('a certificate for another name, or outside its dates', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let rootFile: string;
  const registries: Record<'otherName' | 'expired' | 'future', RunningRegistry | undefined> = { otherName: undefined, expired: undefined, future: undefined };

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    const pki = join(tmp.path, 'pki');
    mkdirSync(pki);
    const chain = makeCaChain(pki);
    rootFile = chain.rootFile;
    const serve = async (leaf: { chainFile: string; keyFile: string }) =>
      startRegistry({ tls: true, serverCert: { certFile: leaf.chainFile, keyFile: leaf.keyFile, caFile: chain.rootFile } });
    const loopback = ['IP:127.0.0.1', 'DNS:localhost'];
    registries.otherName = await serve(chain.leaf('other-name', { altNames: ['DNS:registry.example.com', 'DNS:*.registry.example.com', 'IP:10.0.0.5'] }));
    registries.expired = await serve(chain.leaf('expired', { altNames: loopback, notBefore: '20200101000000Z', notAfter: '20200201000000Z' }));
    registries.future = await serve(chain.leaf('future', { altNames: loopback, notBefore: '20990101000000Z', notAfter: '20990201000000Z' }));
  });
  after(async () => {
    for (const registry of Object.values(registries)) await registry?.stop();
    await tmp?.cleanup();
  });

  const push = (registry: RunningRegistry) =>
    runCliAsync(['push', `${registry.host}/dates/app:1`, '--layout', image.layout, '--tag', 'v1', '--ca-file', rootFile], { env: NO_SYSTEM_TRUST });

  it('another name: the names it is valid for and the one asked for, as skopeo says it', async () => {
    const { host } = registries.otherName!;
    assertOneLineError(await push(registries.otherName!), new RegExp(`^ocipush: cannot reach ${host}: TLS certificate is valid for registry\\.example\\.com, \\*\\.registry\\.example\\.com, 10\\.0\\.0\\.5, not 127\\.0\\.0\\.1 \\(reach the registry by a name its certificate holds, or use --insecure to skip verification\\)$`));
    requireTool('skopeo');
    await assert.rejects(skopeoDigest(`${host}/dates/app:1`, registries.otherName!.certDir!), /x509: certificate is valid for 10\.0\.0\.5, not 127\.0\.0\.1/);
  });

  it('expired, or not valid yet: the dates or the clock, never --ca-file', async () => {
    assertOneLineError(await push(registries.expired!), new RegExp(`^ocipush: cannot reach ${registries.expired!.host}: TLS certificate has expired \\(the registry must renew it, or this machine's clock is ahead; --insecure skips verification\\)$`));
    assertOneLineError(await push(registries.future!), new RegExp(`^ocipush: cannot reach ${registries.future!.host}: TLS certificate is not valid yet \\(this machine's clock is behind, or the certificate starts later; --insecure skips verification\\)$`));
    const forced = await runCliAsync(['push', `${registries.expired!.host}/dates/app:1`, '--layout', image.layout, '--tag', 'v1', '--insecure'], { env: NO_SYSTEM_TRUST });
    assertOk(forced);
  });
});
