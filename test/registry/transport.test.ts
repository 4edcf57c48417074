import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { originWithScheme, trustedCAs } from '../../src/registry/transport.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeSelfSignedCert } from '../support/certs.js';
import { requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from './support.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';

const PASSWORD = 'origin-Secret-51f0';

/**
 * A registry named as distribution's grammar allows but not as a URL prints it: with its scheme's
 * default port (`reg.example.com:443`), in capitals (`LOCALHOST:5000`). Every answer's URL is in
 * the short form; the registry's own origin must be too, or its 401 challenge is never taken up
 * ("401 Unauthorized (authentication required …)" with the right credentials given).
 */
describe('the registry origin', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let image: UmociImage;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    env = { DOCKER_CONFIG: join(tmp.path, 'docker') };
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('is written as a URL names it', () => {
    assert.equal(originWithScheme('reg.example.com:443', 'https'), 'https://reg.example.com');
    assert.equal(originWithScheme('reg.example.com:80', 'http'), 'http://reg.example.com');
    assert.equal(originWithScheme('reg.example.com:80', 'https'), 'https://reg.example.com:80');
    assert.equal(originWithScheme('Reg.Example.COM:5000', 'https'), 'https://reg.example.com:5000');
    assert.equal(originWithScheme('[0:0:0:0:0:0:0:1]:5000', 'http'), 'http://[::1]:5000');
    assert.equal(originWithScheme('docker.io', 'https'), 'https://registry-1.docker.io');
  });

  it('a host in capitals: login, push and pull with credentials; skopeo reads the image with the same name', async () => {
    const host = registry.host.replace('127.0.0.1', 'LOCALHOST');
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }));
    assertOk(await runCliAsync(['push', `${host}/case/app:1`, '--layout', image.layout, '--tag', 'v1'], { env }));
    assertOk(await runCliAsync(['pull', `${host}/case/app:1`, '--layout', join(tmp.path, 'pulled')], { env }));
    requireTool('skopeo');
    const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, '--format', '{{.Digest}}', `docker://${host}/case/app:1`], { encoding: 'utf8' });
    assert.equal(stdout.trim(), image.manifest.digest);
  });

  describe('with the scheme\'s default port, reached through an HTTP proxy', () => {
    let proxy: FaultProxy;
    before(async () => { proxy = await startFaultProxy({ target: registry.url }); });
    after(async () => { await proxy?.stop(); });

    it('registry.ocipush.test:80 with --plain-http: push and read back with credentials', async () => {
      // The proxy sends every request to the real registry: a remote registry on port 80 as a
      // corporate proxy reaches it. (Credentials over plain HTTP to a remote host need --insecure.)
      const proxied = { ...env, HTTP_PROXY: proxy.url, http_proxy: '', NO_PROXY: '', no_proxy: '' };
      const flags = ['--plain-http', '--insecure', '-u', 'alice', '--password-stdin'];
      const ref = 'registry.ocipush.test:80/port/app:1';
      assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'v1', ...flags], { env: proxied, input: PASSWORD }));
      const r = await runCliAsync(['digest', ref, ...flags], { env: proxied, input: PASSWORD });
      assertOk(r);
      assert.equal(r.stdout.trim(), image.manifest.digest);
      // The request targets were the short form, as the answers' URLs are.
      assert.ok(proxy.requests().every((q) => q.path.startsWith('http://registry.ocipush.test/')), JSON.stringify(proxy.requests().slice(0, 3)));
    });
  });
});

/**
 * The CA variables Go reads (crane, skopeo, docker): SSL_CERT_DIR, directories separated by ':'
 * whose every file is read for certificates, and SSL_CERT_FILE, which counts as unset when empty.
 */
describe('SSL_CERT_DIR and SSL_CERT_FILE', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let image: UmociImage;
  let certDir: string;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    registry = await startRegistry({ tls: true });
    certDir = join(tmp.path, 'ssl-certs');
    mkdirSync(certDir);
    // Any file name counts (an OpenSSL hash name, .pem), and a file that holds no certificate is passed over.
    copyFileSync(registry.caFile!, join(certDir, 'registry-ca.pem'));
    writeFileSync(join(certDir, 'README'), 'not a certificate\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('a CA in SSL_CERT_DIR is trusted, as skopeo trusts it; without it the certificate is refused', async () => {
    const ref = `${registry.host.replace('127.0.0.1', 'localhost')}/ssl/app:1`;
    const env = { SSL_CERT_DIR: `${join(tmp.path, 'absent')}:${certDir}`, SSL_CERT_FILE: '', NODE_EXTRA_CA_CERTS: '' };
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'v1'], { env }));
    requireTool('skopeo');
    const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--format', '{{.Digest}}', `docker://${ref}`], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(stdout.trim(), image.manifest.digest);
    const r = await runCliAsync(['digest', ref], { env: { SSL_CERT_DIR: '', SSL_CERT_FILE: '', NODE_EXTRA_CA_CERTS: '' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /TLS certificate is (self-signed|signed by an unknown authority)/);
  });

  it('each certificate goes to OpenSSL once, however many places hold it (the bundle, SSL_CERT_DIR\'s files, NODE_EXTRA_CA_CERTS, --ca-file)', async () => {
    const ca = readFileSync(registry.caFile!, 'utf8');
    const dir = join(tmp.path, 'everywhere');
    mkdirSync(dir);
    const other = readFileSync(makeSelfSignedCert(dir, 'other', '/CN=another CA').certFile, 'utf8');
    const bundle = join(dir, 'ca-certificates.crt');
    // As /etc/ssl/certs holds them: the bundle, and each certificate in a file of its own (here one with CRLF line ends).
    writeFileSync(bundle, `${ca}\n${other}`);
    writeFileSync(join(dir, 'registry.pem'), ca.replace(/\n/g, '\r\n'));
    const saved = { SSL_CERT_FILE: process.env.SSL_CERT_FILE, SSL_CERT_DIR: process.env.SSL_CERT_DIR, NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS };
    Object.assign(process.env, { SSL_CERT_FILE: bundle, SSL_CERT_DIR: `${dir}:${certDir}`, NODE_EXTRA_CA_CERTS: bundle });
    try {
      const cas = trustedCAs(registry.host, [other]);
      const bodies = cas.map((pem) => pem.replace(/\s+/g, ''));
      assert.equal(new Set(bodies).size, bodies.length, 'no certificate twice');
      for (const pem of [ca, other]) assert.equal(bodies.filter((b) => b === pem.trim().replace(/\s+/g, '')).length, 1);
      assert.ok(cas.every((pem) => /^-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----$/.test(pem)), 'certificates only (the README beside them is left out)');
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
    // The same environment for the CLI: the registry is trusted through it.
    const r = await runCliAsync(['digest', `${registry.host.replace('127.0.0.1', 'localhost')}/ssl/app:1`], { env: { SSL_CERT_FILE: bundle, SSL_CERT_DIR: dir, NODE_EXTRA_CA_CERTS: bundle } });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
  });

  it('an empty SSL_CERT_FILE leaves the system bundle in', () => {
    const bundle = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem', '/etc/ssl/ca-bundle.pem'].find((p) => existsSync(p));
    if (bundle === undefined) return;
    // NODE_EXTRA_CA_CERTS may name the bundle too (CI images set it so): out of the way.
    const saved = { SSL_CERT_FILE: process.env.SSL_CERT_FILE, NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS };
    process.env.SSL_CERT_FILE = '';
    delete process.env.NODE_EXTRA_CA_CERTS;
    try {
      const first = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(readFileSync(bundle, 'utf8'))![0];
      assert.ok(trustedCAs('registry.example.com').some((pem) => pem.replace(/\s+/g, '') === first.replace(/\s+/g, '')));
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
  });
});
