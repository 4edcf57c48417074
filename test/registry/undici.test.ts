import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undici, undiciProxyParts } from '../../src/registry/undici.js';
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

test('the proxy parts load piecemeal too, and only when a proxy variable is set', async () => {
  assert.equal(undiciProxyParts().loadedFrom, 'parts', 'src/registry/undici.ts fell back to the whole package for the proxy parts');
  // A fresh process: this one has loaded them just now.
  const script = `
    const { createRequire } = await import('node:module');
    const { createDispatcher } = await import(${JSON.stringify(new URL('../../src/registry/transport.js', import.meta.url).href)});
    const d = createDispatcher('registry.example.com');
    const require = createRequire(import.meta.url);
    const loaded = Object.keys(require.cache).some((p) => p.includes('proxy-agent'));
    await d.close();
    console.log(JSON.stringify(loaded));`;
  const loads = (env: NodeJS.ProcessEnv) => {
    const clean = { ...process.env, HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '', ...env };
    return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: clean, encoding: 'utf8' })) as boolean;
  };
  assert.equal(loads({}), false);
  assert.equal(loads({ NO_PROXY: '*' }), false);
  assert.equal(loads({ https_proxy: 'http://127.0.0.1:9' }), true);
});
