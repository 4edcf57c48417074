import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { OcipushError } from '../../../src/errors.js';
import { Authenticator } from '../../../src/registry/auth/authenticator.js';
import { scopeFor } from '../../../src/registry/auth/scope.js';
import { chainCredentials } from '../../../src/registry/credentials/chain.js';
import { staticCredentials } from '../../../src/registry/credentials/static.js';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { blobOf, send, uploadBlob } from './support.js';

const PASSWORD = 'htpasswd-Secret-9f3a';

describe('Basic auth against docker-registry with htpasswd', () => {
  let registry: RunningRegistry;
  before(async () => { registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } }); });
  after(() => registry?.stop());

  const authFor = (password: string | undefined) => new Authenticator({
    registry: registry.host,
    plainHttp: true,
    credentials: password === undefined ? chainCredentials() : staticCredentials(registry.host, { username: 'alice', password }),
  });

  it('starts anonymous, switches to Basic on the challenge, then pushes and finds a blob', async () => {
    const auth = authFor(PASSWORD);
    assert.equal(await auth.authorization([]), undefined);
    const ping = await send(auth, `${registry.url}/v2/`, []);
    assert.deepEqual(ping, { status: 200, location: undefined, challenges: 1 });
    const scopes = [scopeFor('team/app', ['pull', 'push'])];
    const blob = blobOf('basic auth blob');
    assert.equal(await uploadBlob(auth, registry.url, 'team/app', blob, scopes), 201);
    const head = await send(auth, `${registry.url}/v2/team/app/blobs/${blob.digest}`, scopes, { method: 'HEAD' });
    assert.deepEqual(head, { status: 200, location: undefined, challenges: 0 });
    assert.ok(!inspect(auth, { showHidden: true, depth: null }).includes(PASSWORD));
  });

  it('a wrong password ends in EAUTH after one retry, without the password in the error', async () => {
    const auth = authFor('wrong-' + PASSWORD);
    await assert.rejects(send(auth, `${registry.url}/v2/`, []), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.message, `authentication to ${registry.host} failed: username or password refused`);
      assert.ok(!JSON.stringify(err).includes(PASSWORD) && !inspect(err, { depth: null }).includes(PASSWORD));
      return true;
    });
    const gets = registry.accessLog().filter((e) => e.path === '/v2/' && e.status === 401);
    assert.ok(gets.length >= 2);
  });

  it('no credentials at all: EAUTH naming the ways to log in', async () => {
    await assert.rejects(send(authFor(undefined), `${registry.url}/v2/`, []), /^OcipushError: authentication required by 127\.0\.0\.1:\d+: no credentials/);
  });
});
