import test from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, formatReference, isLoopbackRegistry, referenceTarget } from '../../src/oci/reference.js';
import { OcipushError } from '../../src/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

test('parses registry, repository, tag and digest as docker does', () => {
  assert.deepEqual(parseReference('localhost:5000/hello:0.1'), { registry: 'localhost:5000', repository: 'hello', tag: '0.1' });
  assert.deepEqual(parseReference('127.0.0.1:5000/a/b/c'), { registry: '127.0.0.1:5000', repository: 'a/b/c' });
  assert.deepEqual(parseReference('alpine'), { registry: 'docker.io', repository: 'library/alpine' });
  assert.deepEqual(parseReference('alpine:3.18'), { registry: 'docker.io', repository: 'library/alpine', tag: '3.18' });
  assert.deepEqual(parseReference('org/app'), { registry: 'docker.io', repository: 'org/app' });
  assert.deepEqual(parseReference('ghcr.io/org/base@' + D), { registry: 'ghcr.io', repository: 'org/base', digest: D });
  assert.deepEqual(parseReference(`ghcr.io/org/base:v1@${D}`), { registry: 'ghcr.io', repository: 'org/base', tag: 'v1', digest: D });
  assert.deepEqual(parseReference('localhost/x'), { registry: 'localhost', repository: 'x' });
  assert.deepEqual(parseReference('index.docker.io/library/busybox'), { registry: 'docker.io', repository: 'library/busybox' });
});

test('refuses malformed references with a usage error naming the reference', () => {
  // A host is dot-separated labels that start and end with a letter or digit: "./build" names no registry ".".
  for (const bad of ['', 'Hello/World:1', 'host:5000/repo:bad tag', 'repo@sha256:abc', 'repo:', './build', '../out/app:1', '.host/app', 'host./app', 'a..b/app', '-a.b/app']) {
    assert.throws(() => parseReference(bad), (err: unknown) => err instanceof OcipushError && err.code === 'EUSAGE' && err.message.includes(`"${bad}"`));
  }
});

test('a tag the grammar refuses says what a tag holds; a second colon or a slash after the tag is named as such', () => {
  assert.throws(() => parseReference('localhost:5000/hello:-x'), {
    code: 'EUSAGE',
    message: 'invalid image reference "localhost:5000/hello:-x": invalid tag "-x" (letters, digits and _ . -, at most 128, not starting with . or -)',
  });
  // Read as docker reads them, the colon belongs to the repository: the line said only "lowercase letters, digits and . _ - only".
  for (const [text, repository] of [['localhost:5000/hello:0.1:2', 'hello:0.1'], ['localhost:5000/hello:v/1', 'hello:v/1'], ['app:1:2', 'library/app:1']]) {
    assert.throws(() => parseReference(text!), {
      code: 'EUSAGE',
      message: `invalid image reference "${text}": invalid repository name "${repository}" (a tag follows the last ":" and holds no ":" or "/")`,
    });
  }
});

test('a registry named without a repository says how to name one', () => {
  for (const [text, registry] of [['[::1]:5000', '[::1]:5000'], ['[::1]', '[::1]'], ['[fd00::2]:443/', '[fd00::2]:443'], ['localhost:5000/', 'localhost:5000'], ['reg.example.com/', 'reg.example.com']]) {
    assert.throws(() => parseReference(text!), { code: 'EUSAGE', message: `invalid image reference "${text}": a registry without a repository: write ${registry}/REPOSITORY[:TAG]` });
  }
});

test('a URL is refused with the reference it should have been, not as a repository named "/host/app"', () => {
  assert.throws(() => parseReference('http://127.0.0.1:5000/app:1'), {
    code: 'EUSAGE',
    message: 'invalid image reference "http://127.0.0.1:5000/app:1": a reference has no http://: write 127.0.0.1:5000/app:1 (plain HTTP is --plain-http; localhost and 127.x need no flag)',
  });
  assert.throws(() => parseReference('HTTPS://ghcr.io/me/app'), /a reference has no https:\/\/: write ghcr\.io\/me\/app /);
});

test('formats and targets references', () => {
  const ref = parseReference(`localhost:5000/hello:0.1@${D}`);
  assert.equal(formatReference(ref), `localhost:5000/hello:0.1@${D}`);
  assert.equal(referenceTarget(ref), D);
  assert.equal(referenceTarget(parseReference('localhost:5000/hello')), 'latest');
});

test('loopback registries are recognised for plain HTTP', () => {
  assert.ok(isLoopbackRegistry('localhost:5000'));
  assert.ok(isLoopbackRegistry('127.0.0.1:5000'));
  assert.ok(isLoopbackRegistry('[::1]:5000'));
  assert.ok(!isLoopbackRegistry('registry.example.com'));
  assert.ok(!isLoopbackRegistry('10.0.0.1:5000'));
});
