import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Authenticator } from '../../../src/registry/auth/authenticator.js';
import { staticCredentials } from '../../../src/registry/credentials/static.js';
import { chainCredentials } from '../../../src/registry/credentials/chain.js';
import { OcipushError } from '../../../src/errors.js';

const PASSWORD = 'pa55-policy-secret';

function auth(registry: string, plainHttp: boolean, allowInsecureBasic = false) {
  return new Authenticator({ registry, plainHttp, allowInsecureBasic, credentials: staticCredentials(registry, { username: 'u', password: PASSWORD }) });
}

function isAuthError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof OcipushError);
    assert.equal(err.code, 'EAUTH');
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(PASSWORD));
    return true;
  };
}

describe('where credentials may go', () => {
  it('refuses Basic over plain HTTP to a host that is not loopback', async () => {
    const a = auth('registry.example.com:5000', true);
    await assert.rejects(a.handleChallenge('Basic realm="r"', []), isAuthError(/refusing to send credentials to registry\.example\.com:5000 over plain HTTP/));
    assert.equal(await a.authorization([]), undefined);
  });

  it('sends Basic over plain HTTP to loopback, over HTTPS anywhere, and over plain HTTP when forced', async () => {
    for (const a of [auth('127.0.0.1:5000', true), auth('localhost:5000', true), auth('registry.example.com', false), auth('registry.example.com:5000', true, true)]) {
      assert.equal(await a.handleChallenge('Basic realm="r"', []), true);
      assert.equal(await a.authorization([]), `Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}`);
    }
  });

  it('refuses credentials to a plain-HTTP token realm on another host, before any connection', async () => {
    const a = auth('registry.example.com', false);
    await assert.rejects(
      a.handleChallenge('Bearer realm="http://auth.example.com/token",service="s"', ['repository:x:pull']),
      isAuthError(/token service auth\.example\.com/),
    );
  });

  it('names the ways to give credentials when there are none', async () => {
    const a = new Authenticator({ registry: 'reg.example.com', plainHttp: false, credentials: chainCredentials() });
    await assert.rejects(
      a.handleChallenge('Basic realm="r"', []),
      isAuthError(/^authentication required by reg\.example\.com: no credentials \(use --username\/--password-stdin, OCIPUSH_USERNAME\/OCIPUSH_PASSWORD, or docker login\)$/),
    );
  });

  it('rejects a realm that is not an http(s) URL', async () => {
    const a = auth('registry.example.com', false);
    await assert.rejects(a.handleChallenge('Bearer realm="file:///etc/passwd"', []), (err: unknown) => (err as OcipushError).code === 'EREGISTRY');
  });

  it('gives up on a second Basic refusal, and explains it', async () => {
    const a = auth('127.0.0.1:5000', true);
    assert.equal(await a.handleChallenge('Basic realm="r"', [], { authorization: undefined }), true);
    const sent = await a.authorization([]);
    assert.equal(await a.handleChallenge('Basic realm="r"', [], { authorization: sent }), false);
    // Without `sent`, the current header is taken as the refused one.
    assert.equal(await a.handleChallenge('Basic realm="r"', []), false);
    // A late 401 for a request that went out anonymous is not a refusal.
    assert.equal(await a.handleChallenge('Basic realm="r"', [], { authorization: undefined }), true);
    const err = a.refusedError();
    assert.equal(err.code, 'EAUTH');
    assert.match(err.message, /authentication to 127\.0\.0\.1:5000 failed: username or password refused/);
  });

  it('reports an unsupported scheme', async () => {
    const a = auth('127.0.0.1:5000', true);
    assert.equal(await a.handleChallenge('Negotiate', []), false);
    assert.match(a.refusedError().message, /does not support \(negotiate\)/);
  });
});
