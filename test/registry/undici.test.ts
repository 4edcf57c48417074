import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undici } from '../../src/registry/undici.js';
import { startRegistry } from '../support/registry.js';

test('undici is loaded piecemeal (a later undici that moved its files would lose the faster start-up)', () => {
  assert.equal(undici.loadedFrom, 'parts', 'src/registry/undici.ts fell back to the whole package: update the paths it loads');
});

test('the piecemeal Agent speaks to the real registry through the request API', async () => {
  const registry = await startRegistry();
  const agent = new undici.Agent();
  try {
    const res = await agent.request({ origin: `http://${registry.host}`, path: '/v2/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    await res.body.dump();
  } finally {
    await agent.close();
    await registry.stop();
  }
});
