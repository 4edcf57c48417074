import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertOk, runCliAsync } from '../../cli/registry-support.js';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../../support/token-issuer.js';
import { missingPath, tempDir } from '../../support/tools.js';
import { skopeoDigestAsync, umociImage, type UmociImage } from '../support.js';

const PASSWORD = 'token-Retry-7c1e';

/**
 * A token service that sheds load (Docker Hub's auth.docker.io and other hosted issuers answer
 * 429 or 503 at times): the token request is tried again under the registry client's retry
 * policy, as crane does, instead of failing the whole push at the first answer. A proxy in front
 * of the token issuer adds the fault; `Retry-After: 0` keeps the waits out of the test.
 */
describe('a token service that answers 429 or 503 for a while', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let issuer: TokenIssuer;
  let proxy: FaultProxy;
  let registry: RunningRegistry;
  const env = { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config') };

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [2048]);
    issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } } });
    proxy = await startFaultProxy({ target: issuer.url });
    registry = await startRegistry({ auth: { token: { realm: `${proxy.url}/token`, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
  });
  after(async () => {
    await registry?.stop();
    await proxy?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    proxy.clearFaults();
    proxy.clearRequests();
  });

  const push = (repo: string) => runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/${repo}:v1`, '-u', 'alice', '--password-stdin'], { input: `${PASSWORD}\n`, env });

  for (const status of [429, 503]) {
    it(`${status} twice, then a token: the push goes through`, async () => {
      proxy.addFault({ path: /^\/token/, times: 2, fault: { kind: 'respond', status, headers: { 'retry-after': '0' }, body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}' } });
      const repo = `retry/r${status}`;
      assertOk(await push(repo));
      assert.deepEqual(proxy.requests().filter((r) => r.path.startsWith('/token')).slice(0, 3).map((r) => r.status), [status, status, 200]);
      assert.equal(await skopeoDigestAsync(`${registry.host}/${repo}:v1`, ['--creds', `alice:${PASSWORD}`]), image.manifest.digest);
    });
  }

  it('a 401 from the token service is final: asked once, one line', async () => {
    const r = await runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/retry/denied:v1`, '-u', 'alice', '--password-stdin'], { input: 'wrong\n', env });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trimEnd().split('\n').pop()!, /^ocipush: authentication to .* failed/);
    assert.equal(proxy.requests().filter((r) => r.path.startsWith('/token')).length, 1);
  });

  it('a token service that keeps failing: a bounded number of tries, then its answer in one line', async () => {
    proxy.addFault({ path: /^\/token/, times: Infinity, fault: { kind: 'respond', status: 503, headers: { 'retry-after': '0' } } });
    const r = await push('retry/down');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trimEnd().split('\n').pop()!, /^ocipush: token service 127\.0\.0\.1:\d+ for 127\.0\.0\.1:\d+ answered 503/);
    assert.equal(proxy.requests().filter((r) => r.path.startsWith('/token')).length, 6);
  });
});
