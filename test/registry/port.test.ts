import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcipushError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/http.js';
import { tempDir } from '../support/tools.js';
import { runCliAsync } from '../cli/registry-support.js';

describe('a registry port out of range', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => { tmp = await tempDir(); });
  after(() => tmp?.cleanup());

  it('is a usage error naming the port (exit 2, one line), not "Invalid URL"', async () => {
    for (const [registry, port] of [['127.0.0.1:99999', '99999'], ['registry.example:0', '0'], ['[::1]:70000', '70000']] as const) {
      const r = await runCliAsync(['pull', `${registry}/app:1`, '--layout', join(tmp.path, 'l')]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ocipush: invalid image reference "${registry}/app:1": port ${port} of ${registry} is out of range (1-65535)\n`);
    }
  });

  it('a client for such a registry is refused with EUSAGE', () => {
    assert.throws(() => new RegistryClient('127.0.0.1:99999'), (err: unknown) => err instanceof OcipushError && err.code === 'EUSAGE' && err.message === 'registry 127.0.0.1:99999: port 99999 is out of range (1-65535)');
    assert.throws(() => new RegistryClient('[::1]:65536'), /port 65536 is out of range/);
  });
});
