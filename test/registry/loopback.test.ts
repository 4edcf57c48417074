import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isLoopbackRegistry } from '../../src/oci/reference.js';
import { maySendSecrets } from '../../src/registry/auth/policy.js';
import { RegistryClient } from '../../src/registry/http.js';
import { registryOrigin } from '../../src/registry/transport.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, umociImage, type UmociImage } from './support.js';
import { runCliAsync } from '../cli/registry-support.js';

describe('loopback is localhost, 127.0.0.0/8 and ::1 as IP literals, nothing else', () => {
  it('decides by the literal, not by how a name starts', () => {
    for (const host of ['localhost', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.255.1.2:80', '[::1]:5000', '::1', '[0:0:0:0:0:0:0:1]']) {
      assert.equal(isLoopbackRegistry(host), true, host);
    }
    for (const host of ['127.evil.test', '127.evil.test:5000', '127.0.0.1.nip.io', 'app.localhost', '127.0.0.256', '127.0.0', '[::2]', '128.0.0.1', 'example.com']) {
      assert.equal(isLoopbackRegistry(host), false, host);
    }
  });

  it('127.evil.test gets HTTPS, and no credentials over plain HTTP', () => {
    assert.equal(registryOrigin('127.evil.test:5000'), 'https://127.evil.test:5000');
    const client = new RegistryClient('127.evil.test:5000');
    assert.ok(client.origin.startsWith('https://'), client.origin);
    void client.close();
    assert.equal(maySendSecrets(new URL('http://127.evil.test:5000/token'), false), false);
    assert.equal(maySendSecrets(new URL('http://127.0.0.1:5000/token'), false), true);
  });

  describe('a token realm named 127.evil.test', () => {
    let issuer: TokenIssuer;
    let registry: RunningRegistry;
    let tmp: { path: string; cleanup: () => Promise<void> };
    let image: UmociImage;
    before(async () => {
      tmp = await tempDir();
      image = umociImage(tmp.path, 'v1', [0.1 * MiB]);
      issuer = await startTokenIssuer({ users: { alice: { password: 'realm-Secret-91c2' } } });
      const realm = issuer.realm.replace('127.0.0.1', '127.evil.test');
      registry = await startRegistry({ auth: { token: { realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    });
    after(async () => {
      await registry?.stop();
      await issuer?.stop();
      await tmp?.cleanup();
    });

    it('receives no credentials: one EAUTH line refusing plain HTTP to a host that is not loopback', async () => {
      const r = await runCliAsync(['push', `${registry.host}/loop/app:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin'], {
        input: 'realm-Secret-91c2\n',
        env: { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, DOCKER_CONFIG: missingPath('docker-config') },
      });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.match(lines.at(-1)!, /^ocipush: refusing to send credentials to .* over plain HTTP \(127\.evil\.test:\d+ is not loopback\)/);
      assert.ok(!r.stderr.includes('realm-Secret-91c2'));
      assert.deepEqual(issuer.requests(), [], 'the token service was never asked');
    });
  });
});
