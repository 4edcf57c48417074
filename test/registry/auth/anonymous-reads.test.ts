import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../../support/token-issuer.js';
import { tempDir } from '../../support/tools.js';
import { umociImage, type UmociImage } from '../support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../../cli/registry-support.js';
import { envWith, skopeoFails, skopeoRaw } from '../../cli/copy-support.js';

const PASSWORD = 'anon-Secret-5c1e';
const NO_CREDENTIALS = /^ocipush: authentication required by 127\.0\.0\.1:\d+: no credentials \(use --username\/--password-stdin, OCIPUSH_USERNAME\/OCIPUSH_PASSWORD, or docker login\)$/;

/**
 * A token registry as Docker Hub and ghcr are: anonymous users get pull tokens for public
 * repositories, and an empty token for the rest, so a repository that does not exist and a
 * private one are refused alike.
 */
describe('a registry whose anonymous users pull public repositories only', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  const env = envWith();
  const creds = () => ['--creds', `alice:${PASSWORD}`];

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD }, bob: { password: PASSWORD, access: (name) => (name.startsWith('public/') ? ['pull'] : []) } }, anonymous: (name) => (name.startsWith('public/') ? ['pull'] : []) });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    assertOk(await runCliAsync(['push', `${registry.host}/team/private:1`, '--layout', image.layout, '--tag', 'v1', '-u', 'alice', '--password-stdin'], { input: PASSWORD, env }));
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  it('reading a private or mistyped repository without credentials names both, as docker does', async () => {
    for (const repository of ['team/private', 'team/privat']) {
      const wanted = new RegExp(`^ocipush: ${registry.host.replace(/\./g, '\\.')}/${repository}: no such repository, or it is private and needs credentials \\(none given: use --username/--password-stdin, OCIPUSH_USERNAME/OCIPUSH_PASSWORD, or docker login\\)$`);
      assertOneLineError(await runCliAsync(['digest', `${registry.host}/${repository}:1`], { env }), wanted);
      assertOneLineError(await runCliAsync(['pull', `${registry.host}/${repository}:1`, '--layout', `${tmp.path}/pulled`], { env }), wanted);
      assertOneLineError(await runCliAsync(['ls', `${registry.host}/${repository}`], { env }), wanted);
    }
    // With credentials that reach other repositories only, the same two causes.
    const bob = ['-u', 'bob', '--password-stdin'];
    assertOneLineError(await runCliAsync(['digest', `${registry.host}/team/privat:1`, ...bob], { env, input: PASSWORD }), /^ocipush: access denied by 127\.0\.0\.1:\d+: no such repository, or the credentials do not grant repository:team\/privat:pull \(insufficient_scope\)$/);
    // A public repository is read anonymously; one that is missing there is just missing.
    assertOneLineError(await runCliAsync(['digest', `${registry.host}/public/missing:1`], { env }), /public\/missing:1: manifest not found$/);
  });

  it('a push or a copy into a repository without credentials says only that credentials are missing, and writes nothing', async () => {
    issuer.clearRequests();
    assertOneLineError(await runCliAsync(['push', `${registry.host}/team/new:1`, '--layout', image.layout, '--tag', 'v1'], { env }), NO_CREDENTIALS);
    // As docker and crane ask it: a push token from the first request on.
    assert.ok(issuer.requests().length > 0 && issuer.requests().every((r) => r.scopes.every((s) => s === 'repository:team/new:pull,push')), JSON.stringify(issuer.requests().map((r) => r.scopes)));
    assertOneLineError(await runCliAsync(['copy', `oci:${image.layout}:v1`, `${registry.host}/team/copied:1`], { env }), NO_CREDENTIALS);
    // Anonymous users may read public/: the checks pass, the upload is refused.
    const pub = await runCliAsync(['push', `${registry.host}/public/new:1`, '--layout', image.layout, '--tag', 'v1'], { env });
    assert.equal(pub.status, 1);
    assert.match(pub.stderr.trimEnd().split('\n').at(-1)!, NO_CREDENTIALS);
    for (const repository of ['team/new', 'team/copied', 'public/new']) {
      assert.match((await skopeoFails(`${registry.host}/${repository}:1`, creds())) ?? 'found', /manifest unknown|name unknown/i, repository);
    }
    assert.ok((await skopeoRaw(`${registry.host}/team/private:1`, creds())).bytes.length > 0);
  });
});
