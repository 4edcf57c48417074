import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undici, undiciProxyParts } from '../../src/registry/undici.js';
import { TUNNEL_TLS_CONNECTOR } from '../../src/registry/proxy-dispatcher.js';
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

test('the ProxyAgent keeps the connector of the TLS inside its tunnels where proxy-dispatcher.ts watches it', async () => {
  const { ProxyAgent } = undiciProxyParts();
  const agent = new ProxyAgent({ uri: 'http://127.0.0.1:9' });
  try {
    const field = Object.getOwnPropertySymbols(agent).find((s) => s.description === TUNNEL_TLS_CONNECTOR);
    assert.ok(field, `undici's ProxyAgent no longer has "${TUNNEL_TLS_CONNECTOR}": a client certificate refused through a proxy reads as "connection reset" again`);
    assert.equal(typeof (agent as unknown as Record<symbol, unknown>)[field], 'function');
  } finally {
    await agent.close();
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

test('the HTTP/2 half of undici is left unloaded: the module replaced is still one function, and a request loads no node:http2', async () => {
  // What undici.ts puts a stand-in for must still be what undici's Client calls (connectH2).
  const script = (body: string) => `
    const { createRequire } = await import('node:module');
    const require = createRequire(${JSON.stringify(import.meta.url)});
    ${body}`;
  const real = execFileSync(process.execPath, ['--input-type=module', '-e', script(`
    const h2 = require('undici/lib/dispatcher/client-h2.js');
    console.log(JSON.stringify({ type: typeof h2, name: h2.name, keys: Object.keys(h2) }));`)], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(real), { type: 'function', name: 'connectH2', keys: [] }, 'undici changed its HTTP/2 module: review withoutHttp2() in src/registry/undici.ts');
  const registry = await startRegistry();
  try {
    // process.moduleLoadList (undocumented, present since Node 0.x) names each built-in module loaded.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script(`
      const { connectRegistry } = await import(${JSON.stringify(new URL('../../src/registry/connect.js', import.meta.url).href)});
      const client = connectRegistry(${JSON.stringify(registry.host)});
      await client.ping();
      await client.close();
      console.log(JSON.stringify(['http2', 'tls'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m))));`)], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), []);
  } finally {
    await registry.stop();
  }
});
