import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge } from '../../../src/registry/auth/challenge.js';
import { mergeScopes, scopeFor, scopeKey } from '../../../src/registry/auth/scope.js';

describe('parseChallenge', () => {
  it('reads a distribution Bearer challenge with a quoted scope holding a comma', () => {
    const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/app:pull,push"';
    assert.deepEqual(parseChallenge(header), [{
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/app:pull,push' },
    }]);
  });

  it('reads error="insufficient_scope" and several scopes', () => {
    const header = 'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"';
    const [c] = parseChallenge(header);
    assert.equal(c.params.error, 'insufficient_scope');
    assert.equal(c.params.scope, 'repository:a:pull,push repository:b:pull');
  });

  it('splits several challenges in one header, schemes case-insensitive', () => {
    const parsed = parseChallenge('BASIC realm="Registry Realm", bEaReR realm="https://a/token", service=reg, Negotiate');
    assert.deepEqual(parsed.map((c) => c.scheme), ['basic', 'bearer', 'negotiate']);
    assert.deepEqual(parsed[0].params, { realm: 'Registry Realm' });
    assert.deepEqual(parsed[1].params, { realm: 'https://a/token', service: 'reg' });
    assert.deepEqual(parsed[2].params, {});
  });

  it('accepts unquoted values, spaces around =, escaped quotes and upper-case names', () => {
    const [c] = parseChallenge('Bearer Realm = https://a/t , Service="a \\"quoted\\" name", scope=repository:x:pull');
    assert.deepEqual(c.params, { realm: 'https://a/t', service: 'a "quoted" name', scope: 'repository:x:pull' });
  });

  it('keeps a token68 apart from a following challenge', () => {
    const parsed = parseChallenge('Negotiate abc123==, Basic realm="r"');
    assert.equal(parsed.length, 2);
    assert.equal(parsed[0].params[''], 'abc123==');
    assert.deepEqual(parsed[1], { scheme: 'basic', params: { realm: 'r' } });
  });

  it('survives empty and malformed headers without throwing', () => {
    assert.deepEqual(parseChallenge(''), []);
    assert.deepEqual(parseChallenge('Basic'), [{ scheme: 'basic', params: {} }]);
    assert.deepEqual(parseChallenge('Bearer realm="unterminated').at(0)?.params, { realm: 'unterminated' });
    assert.doesNotThrow(() => parseChallenge(',,, ="x", @@'));
  });
});

describe('scopes', () => {
  it('formats a repository scope', () => {
    assert.equal(scopeFor('library/app', ['pull', 'push']), 'repository:library/app:pull,push');
    assert.equal(scopeFor('app', ['pull', 'pull']), 'repository:app:pull');
  });

  it('merges actions per resource and keys equal access equally', () => {
    assert.deepEqual(
      mergeScopes(['repository:a:push', 'repository:b:pull', 'repository:a:pull repository:b:pull']),
      ['repository:a:pull,push', 'repository:b:pull'],
    );
    assert.equal(scopeKey(['repository:a:push,pull', 'repository:b:pull']), scopeKey(['repository:b:pull', 'repository:a:pull', 'repository:a:push']));
    assert.notEqual(scopeKey(['repository:a:pull']), scopeKey(['repository:a:pull,push']));
    assert.deepEqual(mergeScopes(['registry:catalog:*']), ['registry:catalog:*']);
  });
});
