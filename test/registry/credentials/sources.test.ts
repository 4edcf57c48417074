import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { OcipushError } from '../../../src/errors.js';
import { chainCredentials } from '../../../src/registry/credentials/chain.js';
import { defaultCredentials } from '../../../src/registry/credentials/default.js';
import { envCredentials } from '../../../src/registry/credentials/env.js';
import { staticCredentials } from '../../../src/registry/credentials/static.js';
import { readPasswordStdin } from '../../../src/registry/credentials/stdin.js';
import { tempDir } from '../../support/tools.js';

describe('credential sources', () => {
  it('static credentials answer for their registry only (Hub by any of its names)', async () => {
    const s = staticCredentials('127.0.0.1:5000', { username: 'u', password: 'p' });
    assert.equal((await s.get('127.0.0.1:5000'))?.password, 'p');
    assert.equal(await s.get('127.0.0.1:5001'), undefined);
    const hub = staticCredentials('docker.io', { username: 'h', password: 'q' });
    assert.equal((await hub.get('index.docker.io'))?.username, 'h');
  });

  it('environment variables apply to the target registry and must come in pairs', async () => {
    const env = { OCIPUSH_USERNAME: 'envuser', OCIPUSH_PASSWORD: 'envpass' };
    const s = envCredentials('reg.example.com', env);
    assert.equal((await s.get('reg.example.com'))?.username, 'envuser');
    assert.equal((await s.get('base.example.com')), undefined);
    assert.equal(await envCredentials('reg.example.com', {}).get('reg.example.com'), undefined);
    assert.equal((await envCredentials('r', { OCIPUSH_REGISTRY_TOKEN: 'tok' }).get('r'))?.registryToken, 'tok');
    await assert.rejects(envCredentials('r', { OCIPUSH_USERNAME: 'u' }).get('r'), /OCIPUSH_USERNAME is set but OCIPUSH_PASSWORD is not/);
    await assert.rejects(envCredentials('r', { OCIPUSH_PASSWORD: 'p' }).get('r'), /OCIPUSH_PASSWORD is set but OCIPUSH_USERNAME is not/);
  });

  it('a chain answers with the first source that has something', async () => {
    const chain = chainCredentials(staticCredentials('a', { username: 'first', password: '1' }), staticCredentials('a', { username: 'second', password: '2' }), staticCredentials('b', { username: 'b', password: '3' }));
    assert.equal((await chain.get('a'))?.username, 'first');
    assert.equal((await chain.get('b'))?.username, 'b');
    assert.equal(await chain.get('c'), undefined);
  });

  it('defaultCredentials prefers flags, then environment, then the docker config', async () => {
    const dir = await tempDir();
    try {
      const env = { HOME: dir.path, OCIPUSH_USERNAME: 'envuser', OCIPUSH_PASSWORD: 'envpass' };
      assert.equal((await defaultCredentials({ registry: 'r', username: 'flag', password: 'x', env }).get('r'))?.username, 'flag');
      assert.equal((await defaultCredentials({ registry: 'r', env }).get('r'))?.username, 'envuser');
      assert.equal(await defaultCredentials({ registry: 'r', env: { HOME: dir.path } }).get('r'), undefined);
      assert.throws(() => defaultCredentials({ registry: 'r', username: 'u', env }), (e: unknown) => (e as OcipushError).code === 'EUSAGE');
      assert.throws(() => defaultCredentials({ registry: 'r', password: 'p', env }), /--password-stdin needs --username/);
    } finally {
      await dir.cleanup();
    }
  });

  it('readPasswordStdin strips exactly one trailing newline (then one carriage return) and decodes characters split between reads', async () => {
    assert.equal(await readPasswordStdin(Readable.from([Buffer.from('se'), Buffer.from('cret\n')])), 'secret');
    assert.equal(await readPasswordStdin(Readable.from(['secret\r\n'])), 'secret');
    assert.equal(await readPasswordStdin(Readable.from(['two\n\n'])), 'two\n');
    assert.equal(await readPasswordStdin(Readable.from([' spaced '])), ' spaced ');
    // As docker login and crane auth login read it: a newline, then a carriage return.
    assert.equal(await readPasswordStdin(Readable.from(['secret\r'])), 'secret');
    assert.equal(await readPasswordStdin(Readable.from(['secret\r\r\n'])), 'secret\r');
    // A character whose bytes come in two reads: é is C3 A9, € is E2 82 AC.
    const word = Buffer.from('pässwörd€\n');
    assert.equal(await readPasswordStdin(Readable.from([word.subarray(0, 3), word.subarray(3, 12), word.subarray(12)])), 'pässwörd€');
    await assert.rejects(readPasswordStdin(Readable.from(['\n'])), /no password on standard input/);
    await assert.rejects(readPasswordStdin(Readable.from([])), /no password on standard input/);
  });
});
