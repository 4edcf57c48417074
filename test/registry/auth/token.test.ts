import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { request } from 'undici';
import { OcipushError } from '../../../src/errors.js';
import { Authenticator } from '../../../src/registry/auth/authenticator.js';
import { scopeFor } from '../../../src/registry/auth/scope.js';
import type { CredentialSource, Credentials } from '../../../src/registry/auth/types.js';
import { chainCredentials } from '../../../src/registry/credentials/chain.js';
import { staticCredentials } from '../../../src/registry/credentials/static.js';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../../support/token-issuer.js';
import { blobOf, send, uploadBlob } from './support.js';

const PASSWORD = 'token-Secret-77c1';
const READER_PASSWORD = 'reader-Secret-0d2e';

describe('Bearer token auth against docker-registry and a token issuer', () => {
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  let clock = Date.now();

  before(async () => {
    issuer = await startTokenIssuer({
      users: {
        alice: { password: PASSWORD },
        reader: { password: READER_PASSWORD, access: () => ['pull'] },
      },
      anonymous: () => ['pull'],
    });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
  });
  beforeEach(() => {
    issuer.clearRequests();
    clock = Date.now();
  });

  function authFor(credentials: CredentialSource): Authenticator {
    return new Authenticator({ registry: registry.host, plainHttp: true, credentials, now: () => clock, userAgent: 'ocipush-test' });
  }
  const as = (username: string, password: string) => authFor(staticCredentials(registry.host, { username, password }));
  const pushScopes = (repo: string) => [scopeFor(repo, ['pull', 'push'])];

  it('gets a pull,push token with the password and pushes a blob; the next calls reuse it', async () => {
    const auth = as('alice', PASSWORD);
    const scopes = pushScopes('team/app');
    const blob = blobOf('bearer blob');
    assert.equal(await uploadBlob(auth, registry.url, 'team/app', blob, scopes), 201);
    const asked = issuer.requests();
    assert.equal(asked.length, 1, 'one token for the whole upload');
    assert.deepEqual(
      { method: asked[0].method, service: asked[0].service, scopes: asked[0].scopes, account: asked[0].account, user: asked[0].user, status: asked[0].status },
      { method: 'GET', service: issuer.service, scopes: ['repository:team/app:pull,push'], account: 'alice', user: 'alice', status: 200 },
    );
    assert.deepEqual(asked[0].granted, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);

    issuer.clearRequests();
    const head = await send(auth, `${registry.url}/v2/team/app/blobs/${blob.digest}`, scopes, { method: 'HEAD' });
    assert.deepEqual(head, { status: 200, location: undefined, challenges: 0 });
    assert.equal(await auth.authorization([...scopes].reverse()), await auth.authorization(scopes));
    assert.equal(issuer.requests().length, 0, 'the cached token served the same scope set');

    // Another scope set is another token, fetched up front (the realm is known by now).
    const other = await send(auth, `${registry.url}/v2/team/other/blobs/${blob.digest}`, [scopeFor('team/other', ['pull'])], { method: 'HEAD' });
    assert.equal(other.status, 404);
    assert.equal(other.challenges, 0);
    assert.deepEqual(issuer.requests().map((r) => r.scopes), [['repository:team/other:pull']]);
    assert.ok(!inspect(auth, { showHidden: true, depth: null }).includes('Bearer'));
  });

  it('fetches a new token once the cached one expires', async () => {
    const auth = as('alice', PASSWORD);
    const scopes = pushScopes('team/expiry');
    await send(auth, `${registry.url}/v2/team/expiry/tags/list`, scopes);
    assert.equal(issuer.requests().length, 1);
    const first = await auth.authorization(scopes);
    clock += 250_000; // still within the issuer's 300 s
    assert.equal(await auth.authorization(scopes), first);
    assert.equal(issuer.requests().length, 1);
    clock += 60_000; // past expiry
    const second = await auth.authorization(scopes);
    assert.notEqual(second, first);
    assert.equal(issuer.requests().length, 2);
    const res = await send(auth, `${registry.url}/v2/team/expiry/tags/list`, scopes);
    assert.equal(res.challenges, 0);
  });

  it('parallel 401s share one token request', async () => {
    const auth = as('alice', PASSWORD);
    const scopes = pushScopes('team/parallel');
    const results = await Promise.all(Array.from({ length: 6 }, () => send(auth, `${registry.url}/v2/team/parallel/tags/list`, scopes)));
    assert.ok(results.every((r) => r.status === 404 && r.challenges === 1));
    assert.equal(issuer.requests().length, 1);
  });

  it('adds the scopes a challenge asks for (a mount from another repository)', async () => {
    const auth = as('alice', PASSWORD);
    const blob = blobOf('mounted blob');
    assert.equal(await uploadBlob(auth, registry.url, 'team/source', blob, pushScopes('team/source')), 201);
    issuer.clearRequests();
    // Asked only for the target; the registry's challenge names the source too.
    const mount = await send(auth, `${registry.url}/v2/team/target/blobs/uploads/?mount=${blob.digest}&from=team/source`, pushScopes('team/target'), { method: 'POST' });
    assert.equal(mount.status, 201);
    const scopesAsked = issuer.requests().map((r) => r.scopes.join(' '));
    assert.ok(scopesAsked.at(-1)!.includes('repository:team/source:pull'), `last token request: ${scopesAsked.at(-1)}`);
    assert.ok(scopesAsked.at(-1)!.includes('repository:team/target:pull,push'));
  });

  it('a wrong password is EAUTH with the issuer\'s message, never the password', async () => {
    const auth = as('alice', 'wrong-' + PASSWORD);
    await assert.rejects(send(auth, `${registry.url}/v2/`, []), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.message, `authentication to ${registry.host} failed: authentication failed (token service ${new URL(issuer.url).host} answered 401)`);
      for (const text of [err.message, JSON.stringify(err), JSON.stringify(err.details), inspect(err, { depth: null, showHidden: true })]) {
        assert.ok(!text.includes(PASSWORD));
      }
      return true;
    });
  });

  it('credentials that lack push: one token, one retry, then EAUTH naming the scope', async () => {
    const auth = as('reader', READER_PASSWORD);
    const scopes = pushScopes('team/app');
    await assert.rejects(uploadBlob(auth, registry.url, 'team/app', blobOf('nope'), scopes), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'EAUTH');
      assert.match((err as Error).message, /^access denied by 127\.0\.0\.1:\d+: the credentials do not grant repository:team\/app:pull,push \(insufficient_scope\)$/);
      return true;
    });
    assert.equal(issuer.requests().length, 1, 'no loop of token requests');
  });

  it('re-fetches on a 401 for a token that is no longer fresh', async () => {
    issuer.users.late = { password: PASSWORD, access: () => ['pull'] };
    const auth = as('late', PASSWORD);
    const scopes = pushScopes('team/late');
    await assert.rejects(uploadBlob(auth, registry.url, 'team/late', blobOf('late'), scopes), /do not grant/);
    // The user gets push rights; the cached token (still unexpired) does not have them.
    issuer.users.late.access = () => ['*'];
    clock += 120_000;
    issuer.clearRequests();
    assert.equal(await uploadBlob(auth, registry.url, 'team/late', blobOf('late'), scopes), 201);
    assert.equal(issuer.requests().length, 1);
  });

  it('without credentials, an anonymous token pulls, and a push says there are no credentials', async () => {
    const auth = authFor(chainCredentials());
    const res = await send(auth, `${registry.url}/v2/team/app/tags/list`, [scopeFor('team/app', ['pull'])]);
    assert.equal(res.status, 404); // no tags yet, but authorised
    assert.equal(issuer.requests()[0].credentials, false);
    await assert.rejects(uploadBlob(auth, registry.url, 'team/app', blobOf('anon'), pushScopes('team/app')), /authentication required by .*: no credentials/);
  });

  it('an identity token is traded through the OAuth2 refresh_token grant', async () => {
    const res = await request(issuer.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: PASSWORD, service: issuer.service, client_id: 'test', access_type: 'offline' }).toString(),
    });
    const { refresh_token: refreshToken } = (await res.body.json()) as { refresh_token: string };
    assert.ok(refreshToken);
    issuer.clearRequests();
    const credentials: Credentials = { identityToken: refreshToken };
    const auth = authFor(staticCredentials(registry.host, credentials));
    assert.equal(await uploadBlob(auth, registry.url, 'team/oauth', blobOf('oauth'), pushScopes('team/oauth')), 201);
    const asked = issuer.requests();
    assert.equal(asked.length, 1);
    assert.deepEqual([asked[0].method, asked[0].grantType, asked[0].user, asked[0].scopes], ['POST', 'refresh_token', 'alice', ['repository:team/oauth:pull,push']]);
  });

  it('an unreachable realm is ENETWORK naming its host', async () => {
    const dead = 'http://127.0.0.1:9/token';
    const auth = as('alice', PASSWORD);
    await assert.rejects(auth.handleChallenge(`Bearer realm="${dead}",service="x"`, []), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'ENETWORK');
      assert.equal((err as Error).message, `cannot reach the token service 127.0.0.1:9 for ${registry.host}: connection refused`);
      return true;
    });
  });
});

describe('an OAuth2 token service that refuses a grant as RFC 6749 says, 400 invalid_grant', () => {
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  before(async () => {
    issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } }, oauth2Errors: true });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
  });

  it('an identity token it no longer takes: one EAUTH asked once, saying to log in again, the token never shown', async () => {
    const stale = 'stale-refresh-token-5d3e9a';
    const auth = new Authenticator({ registry: registry.host, plainHttp: true, credentials: staticCredentials(registry.host, { identityToken: stale }), userAgent: 'ocipush-test', retry: { retries: 5, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } });
    await assert.rejects(uploadBlob(auth, registry.url, 'team/stale', blobOf('stale'), [scopeFor('team/stale', ['pull', 'push'])]), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'EAUTH');
      assert.equal((err as Error).message, `authentication to ${registry.host} failed: the refresh token is invalid or expired (token service ${new URL(issuer.url).host} answered 400; the identity token of its login was refused: log in again)`);
      assert.ok(!(err as Error).message.includes(stale));
      return true;
    });
    assert.deepEqual(issuer.requests().map((r) => [r.method, r.grantType, r.status]), [['POST', 'refresh_token', 400]]);
  });
});

describe('a token the registry refuses as invalid (invalid_token) while it is still fresh to ocipush', () => {
  // The issuer says nothing usable about the lifetime (expires_in <= 0: ocipush keeps a token 60 s,
  // as the spec says), while the registry takes it only until exp + its 60 s of leeway: none with
  // exp 120 s back (a token service whose clock is behind). No test waits for a token to age.
  const setups: { issuer: TokenIssuer; registry: RunningRegistry }[] = [];
  async function setup(expiresIn: number | ((request: number) => number)) {
    const issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } }, expiresIn });
    const registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    setups.push({ issuer, registry });
    const auth = new Authenticator({ registry: registry.host, plainHttp: true, credentials: staticCredentials(registry.host, { username: 'alice', password: PASSWORD }), userAgent: 'ocipush-test' });
    return { issuer, registry, auth };
  }
  after(async () => {
    for (const { issuer, registry } of setups) {
      await registry.stop();
      await issuer.stop();
    }
  });

  it('is replaced once when it expired early, and the request goes through', async () => {
    // The first token is already past the registry's leeway; the next one is good.
    const { issuer, registry, auth } = await setup((request) => (request === 0 ? -120 : 300));
    const scopes = [scopeFor('team/short', ['pull', 'push'])];
    const sent = await send(auth, `${registry.url}/v2/team/short/tags/list`, scopes);
    assert.deepEqual([sent.status, sent.challenges], [404, 2], 'the first challenge asks for a token, the second refuses it as invalid');
    assert.equal(issuer.requests().length, 2, 'one new token');
  });

  it('a new token refused the same way ends in one EAUTH that says the token was invalid, not a missing grant', async () => {
    const { issuer, registry, auth } = await setup(-120);
    const scopes = [scopeFor('team/never', ['pull', 'push'])];
    await assert.rejects(send(auth, `${registry.url}/v2/team/never/tags/list`, scopes), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'EAUTH');
      assert.match((err as Error).message, /^access denied by 127\.0\.0\.1:\d+: it refused a new token for repository:team\/never:pull,push as invalid \(invalid_token\): expired or not yet valid by its clock/);
      assert.doesNotMatch((err as Error).message, /do not grant/);
      return true;
    });
    assert.equal(issuer.requests().length, 2, 'one retry, no loop');
  });
});
