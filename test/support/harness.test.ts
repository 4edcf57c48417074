/**
 * Self-tests of the registry harness: each piece is driven by real clients (skopeo, curl, Node's
 * HTTP client) against the real docker-registry, so push tests can trust what it reports.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failWith, startFaultProxy, tooManyRequests } from './fault-proxy.js';
import { freePort, parseAccessLine, startRegistry } from './registry.js';
import { startTinyproxy } from './tinyproxy.js';
import { parseScope, startTokenIssuer } from './token-issuer.js';
import { REPO_ROOT, requireTool, run, tempDir } from './tools.js';

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous on purpose: the token issuer and fault proxy live in this process and must keep serving. */
function exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function skopeo(args: string[]): Promise<Exec> {
  return exec('skopeo', ['--insecure-policy', ...args]);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | Buffer[]; ca?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.request(url, { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const chunks = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let work: { path: string; cleanup: () => Promise<void> };
let image: string;
let manifestDigest: string;

before(async () => {
  requireTool('skopeo');
  requireTool('umoci');
  requireTool('curl');
  work = await tempDir('ocipush-harness-test-');
  const layout = join(work.path, 'layout');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:v1`]);
  const file = join(work.path, 'hello.txt');
  writeFileSync(file, 'hello from the harness\n');
  run('umoci', ['insert', '--image', `${layout}:v1`, file, '/hello.txt']);
  image = `oci:${layout}:v1`;
  manifestDigest = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest;
});

after(async () => {
  await work?.cleanup();
});

describe('startRegistry', () => {
  test('serves /v2/, takes a push from skopeo, logs every request, and cleans up on stop', async () => {
    const registry = await startRegistry();
    try {
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      const v2 = await fetch(`${registry.url}/v2/`);
      assert.equal(v2.status, 200);
      assert.equal(v2.headers.get('docker-distribution-api-version'), 'registry/2.0');

      const copy = await skopeo(['copy', '--dest-tls-verify=false', image, `docker://${registry.host}/plain/app:v1`]);
      assert.equal(copy.code, 0, copy.stderr);
      const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/plain/app:v1`]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.equal(JSON.parse(inspect.stdout).layers.length, 1);

      const log = await registry.settledAccessLog();
      assert.ok(log.some((e) => e.method === 'GET' && e.path === '/v2/' && e.status === 200), 'the fetch of /v2/ is logged');
      const manifestPut = log.filter((e) => e.method === 'PUT' && e.path === '/v2/plain/app/manifests/v1');
      assert.deepEqual(manifestPut.map((e) => e.status), [201]);
      assert.ok(log.some((e) => e.method === 'PUT' && e.path.startsWith('/v2/plain/app/blobs/uploads/') && e.uri.includes('digest=sha256%3A')),
        'blob uploads finish with PUT …?digest=');
      assert.ok(log.every((e) => !e.userAgent.includes('ocipush-harness-probe')), 'harness probes are not reported');
      assert.ok(existsSync(join(registry.storageDir, 'docker/registry/v2/repositories/plain/app')), 'content is in storageDir');

      registry.clearAccessLog();
      const manifest = await fetch(`${registry.url}/v2/plain/app/manifests/${manifestDigest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(manifest.status, 200);
      assert.deepEqual((await registry.settledAccessLog()).map((e) => [e.method, e.path, e.status]), [['HEAD', `/v2/plain/app/manifests/${manifestDigest}`, 200]]);
    } finally {
      await registry.stop();
    }
    assert.equal(processAlive(registry.pid), false, 'the registry process is gone');
    assert.equal(existsSync(registry.storageDir), false, 'the temp storage is removed');
  });

  test('a port another test\'s registry won is not taken for the new one: it starts on another port, its own', async () => {
    const first = await startRegistry();
    const ports: number[] = [];
    // The first port offered is the one the other registry holds, as when both found it free.
    const second = await startRegistry({ choosePort: async () => { ports.push(ports.length === 0 ? first.port : await freePort()); return ports.at(-1)!; } });
    try {
      assert.notEqual(second.port, first.port, 'the new registry is not the other one');
      assert.equal(ports.length, 2, 'a second port was tried');
      const copy = await skopeo(['copy', '--dest-tls-verify=false', image, `docker://${second.host}/own/app:v1`]);
      assert.equal(copy.code, 0, copy.stderr);
      assert.ok((await second.settledAccessLog()).some((e) => e.method === 'PUT' && e.path === '/v2/own/app/manifests/v1'));
      assert.ok((await first.settledAccessLog()).every((e) => !e.path.startsWith('/v2/own/')), 'nothing reached the other registry');
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  test('keeps answering while this process is blocked in a synchronous child that makes many requests', async () => {
    // Its logs once went into pipes this process drained only between events: 600 requests
    // (about 300 KB of log lines) made inside spawnSync filled them and stalled the registry.
    const registry = await startRegistry();
    try {
      const script = `const http = require('node:http');
        let left = 600;
        const next = () => http.get(process.argv[1], (res) => { res.resume(); res.on('end', () => (--left > 0 ? next() : process.exit(0))); }).on('error', (e) => { console.error(e.message); process.exit(1); });
        next();`;
      const child = spawnSync(process.execPath, ['-e', script, `${registry.url}/v2/`], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(child.status, 0, child.error?.message ?? child.stderr);
      assert.equal((await registry.settledAccessLog()).filter((e) => e.path === '/v2/' && e.status === 200).length, 600);
    } finally {
      await registry.stop();
    }
  });

  test('htpasswd auth: challenges, refuses a wrong password, accepts the right one', async () => {
    const registry = await startRegistry({ auth: { htpasswd: { users: { alice: 'wonderland' } } } });
    try {
      const anonymous = await fetch(`${registry.url}/v2/`);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      const basic = Buffer.from('alice:wonderland').toString('base64');
      assert.equal((await fetch(`${registry.url}/v2/`, { headers: { authorization: `Basic ${basic}` } })).status, 200);

      const wrong = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:nope', image, `docker://${registry.host}/auth/app:v1`]);
      assert.notEqual(wrong.code, 0);
      const right = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wonderland', image, `docker://${registry.host}/auth/app:v1`]);
      assert.equal(right.code, 0, right.stderr);
      const log = await registry.settledAccessLog();
      assert.ok(log.some((e) => e.status === 401), 'the refusals are logged');
      assert.ok(log.some((e) => e.method === 'PUT' && e.path === '/v2/auth/app/manifests/v1' && e.status === 201));
    } finally {
      await registry.stop();
    }
  });

  test('tls: serves HTTPS with a certificate skopeo and Node trust through caFile/certDir', async () => {
    const registry = await startRegistry({ tls: true });
    try {
      assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(registry.caFile && registry.certDir);
      const ca = readFileSync(registry.caFile);
      assert.equal((await request(`${registry.url}/v2/`, { ca })).status, 200);
      await assert.rejects(request(`${registry.url}/v2/`), /self[- ]signed|unable to verify/i, 'not trusted without the CA');
      const curl = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', registry.caFile, `https://localhost:${registry.port}/v2/`]);
      assert.equal(curl.stdout, '200', 'the certificate also names localhost');

      const copy = await skopeo(['copy', '--dest-cert-dir', registry.certDir, image, `docker://${registry.host}/tls/app:v1`]);
      assert.equal(copy.code, 0, copy.stderr);
      const untrusted = await skopeo(['inspect', '--raw', `docker://${registry.host}/tls/app:v1`]);
      assert.notEqual(untrusted.code, 0, 'verification is on by default and fails without the CA');
    } finally {
      await registry.stop();
    }
  });
});

describe('startTinyproxy', () => {
  test('a port another test\'s server won is not taken for the proxy: it starts on another port and proxies there', async () => {
    requireTool('curl');
    const registry = await startRegistry();
    const ports: number[] = [];
    // The first port offered is the registry's, as when both found it free: tinyproxy cannot bind it.
    const proxy = await startTinyproxy({ choosePort: async () => { ports.push(ports.length === 0 ? registry.port : await freePort()); return ports.at(-1)!; } });
    try {
      assert.notEqual(proxy.port, registry.port, 'the proxy is not the registry');
      assert.equal(ports.length, 2, 'a second port was tried');
      const through = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--noproxy', '', '-x', proxy.url, `${registry.url}/v2/`], { encoding: 'utf8' });
      assert.equal(through.stdout, '200', through.stderr);
      assert.deepEqual(proxy.requests(), [{ method: 'GET', target: `${registry.url}/v2/` }]);
    } finally {
      await proxy.stop();
      await registry.stop();
    }
  });
});

describe('startTokenIssuer', () => {
  test('token auth end to end: skopeo gets scoped tokens, the registry enforces them, requests are recorded', async () => {
    const issuer = await startTokenIssuer({
      users: {
        alice: { password: 'alice-pw', access: (name) => (name.startsWith('alice/') ? ['pull', 'push'] : ['pull']) },
        bob: { password: 'bob-pw', access: () => ['pull'] },
      },
    });
    const registry = await startRegistry({ auth: { token: issuer } });
    try {
      const challenge = await fetch(`${registry.url}/v2/`);
      assert.equal(challenge.status, 401);
      assert.equal(challenge.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}"`);

      const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pw', image, `docker://${registry.host}/alice/app:v1`]);
      assert.equal(push.code, 0, push.stderr);
      const asked = issuer.requests();
      assert.ok(asked.length > 0);
      assert.ok(asked.every((r) => r.user === 'alice' && r.credentials && r.status === 200 && r.service === issuer.service));
      assert.ok(asked.some((r) => r.scopes.includes('repository:alice/app:pull,push')), JSON.stringify(asked));
      assert.ok(asked.some((r) => r.granted.some((g) => g.name === 'alice/app' && g.actions.includes('push'))));
      assert.doesNotMatch(JSON.stringify(asked), /alice-pw/, 'passwords are never recorded');

      issuer.clearRequests();
      const denied = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'bob:bob-pw', image, `docker://${registry.host}/alice/app:v2`]);
      assert.notEqual(denied.code, 0, 'bob may only pull');
      assert.ok(issuer.requests().some((r) => r.user === 'bob' && r.granted.every((g) => !g.actions.includes('push'))));

      const wrongPassword = await fetch(`${issuer.realm}?service=${issuer.service}&scope=repository:alice/app:pull`, {
        headers: { authorization: `Basic ${Buffer.from('alice:bad').toString('base64')}` },
      });
      assert.equal(wrongPassword.status, 401);

      const anonymous = await fetch(`${issuer.realm}?service=${issuer.service}&scope=repository:alice/app:pull`);
      assert.equal(anonymous.status, 200);
      const body = (await anonymous.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
      assert.equal(body.token, body.access_token);
      assert.equal(body.expires_in, 300);
      const tags = await fetch(`${registry.url}/v2/alice/app/tags/list`, { headers: { authorization: `Bearer ${body.token}` } });
      assert.equal(tags.status, 401, 'an anonymous token grants nothing by default');
      const last = issuer.requests().at(-1)!;
      assert.equal(last.credentials, false);
      assert.deepEqual(last.granted, [{ type: 'repository', name: 'alice/app', actions: [] }]);

      const pulled = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', 'bob:bob-pw', `docker://${registry.host}/alice/app:v1`]);
      assert.equal(pulled.code, 0, pulled.stderr);
    } finally {
      await registry.stop();
      await issuer.stop();
    }
  });

  test('OAuth2 POST form: password grant gives a refresh token that can be used again', async () => {
    const issuer = await startTokenIssuer({ users: { carol: { password: 'carol-pw' } } });
    try {
      const form = new URLSearchParams({ grant_type: 'password', username: 'carol', password: 'carol-pw', service: issuer.service, scope: 'repository:c/app:pull,push', client_id: 'test' });
      const first = await fetch(issuer.realm, { method: 'POST', body: form });
      assert.equal(first.status, 200);
      const { refresh_token } = (await first.json()) as { refresh_token: string };
      assert.ok(refresh_token);
      const again = await fetch(issuer.realm, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token, service: issuer.service, scope: 'repository:c/app:pull' }),
      });
      assert.equal(again.status, 200);
      const log = issuer.requests();
      assert.deepEqual(log.map((r) => [r.method, r.grantType, r.user, r.status]), [['POST', 'password', 'carol', 200], ['POST', 'refresh_token', 'carol', 200]]);
      assert.deepEqual(log[1].granted, [{ type: 'repository', name: 'c/app', actions: ['pull'] }]);
      assert.doesNotMatch(JSON.stringify(log), /carol-pw/);
    } finally {
      await issuer.stop();
    }
  });
});

describe('startFaultProxy', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  before(async () => { registry = await startRegistry(); });
  after(async () => { await registry?.stop(); });

  test('forwards transparently and rewrites Location headers to itself', async () => {
    const proxy = await startFaultProxy({ target: registry.url });
    try {
      const started = await request(`${proxy.url}/v2/proxy/loc/blobs/uploads/`, { method: 'POST' });
      assert.equal(started.status, 202);
      assert.ok(started.headers.location?.startsWith(`${proxy.url}/v2/proxy/loc/blobs/uploads/`), started.headers.location);
      const status = await request(started.headers.location!);
      assert.equal(status.status, 204);
      assert.deepEqual(proxy.requests().map((r) => [r.method, r.status]), [['POST', 202], ['GET', 204]]);
    } finally {
      await proxy.stop();
    }
  });

  test('a 500 once on the manifest PUT: skopeo fails on it (it does not retry 5xx), the next push passes', async () => {
    const proxy = await startFaultProxy({ target: registry.url, faults: [failWith(500, { method: 'PUT', path: /\/manifests\// })] });
    try {
      const failed = await skopeo(['copy', '--retry-times', '1', '--dest-tls-verify=false', image, `docker://${proxy.host}/proxy/retry:v1`]);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr, /500 Internal Server Error/);
      assert.equal(proxy.pendingFaults().length, 0, 'the fault fired');
      const again = await skopeo(['copy', '--dest-tls-verify=false', image, `docker://${proxy.host}/proxy/retry:v1`]);
      assert.equal(again.code, 0, again.stderr);

      const puts = proxy.requests().filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
      assert.deepEqual(puts.map((r) => [r.status, r.fault]), [[500, 'respond'], [201, undefined]]);
      assert.ok(puts[0].requestBytes > 0 && puts[0].forwardedBytes === 0, 'the refused manifest body was read, not forwarded');
      assert.ok(proxy.requests().some((r) => r.method === 'HEAD' && r.path.includes('/blobs/sha256:') && r.status === 200),
        'the second push found the blobs of the first');
      const registryPuts = (await registry.settledAccessLog()).filter((e) => e.method === 'PUT' && e.path === '/v2/proxy/retry/manifests/v1');
      assert.equal(registryPuts.length, 1, 'the injected failure never reached the registry');
    } finally {
      await proxy.stop();
    }
  });

  test('429 with Retry-After, `skip` lets the first matches through, and times limits the fault', async () => {
    const proxy = await startFaultProxy({ target: registry.url });
    try {
      proxy.addFault(tooManyRequests(1, { method: 'GET', path: /^\/v2\/$/, skip: 1, times: 2 }));
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await request(`${proxy.url}/v2/`));
      assert.deepEqual(answers.map((a) => a.status), [200, 429, 429, 200]);
      assert.equal(answers[1].headers['retry-after'], '1');
      assert.deepEqual(proxy.requests().map((r) => r.fault), [undefined, 'respond', 'respond', undefined]);
    } finally {
      await proxy.stop();
    }
  });

  test('cut-request drops the connection mid-upload after exactly N body bytes reached the registry', async () => {
    const proxy = await startFaultProxy({ target: registry.url, faults: [{ method: 'PATCH', fault: { kind: 'cut-request', afterBytes: 1000 } }] });
    try {
      const started = await request(`${proxy.url}/v2/proxy/cut/blobs/uploads/`, { method: 'POST' });
      const location = started.headers.location!;
      const uuid = started.headers['docker-upload-uuid'] as string;
      const body = Buffer.alloc(256 * 1024, 7);
      await assert.rejects(
        request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length }, body }),
        /socket hang up|ECONNRESET|EPIPE/,
      );
      const cut = proxy.requests().find((r) => r.method === 'PATCH')!;
      assert.deepEqual([cut.fault, cut.status, cut.forwardedBytes, cut.error], ['cut-request', undefined, 1000, 'cut-request fault']);
      // The registry logs the broken PATCH once it notices the disconnect.
      const logged = await registry.waitForAccess((e) => e.method === 'PATCH' && e.path.endsWith(uuid));
      assert.equal(logged.status, 500);
      assert.match(registry.logs(), /"copied":1000,[^\n]*"client disconnected during blob PATCH"/);
      // distribution 2.8 keeps those bytes but the Location still says offset 0: the session is dead.
      const resumed = await request(location);
      assert.equal(resumed.status, 404);
      assert.match(resumed.body, /BLOB_UPLOAD_INVALID/);
    } finally {
      await proxy.stop();
    }
  });

  test('a cut-request rule does not fire on a body shorter than its cut point', async () => {
    const proxy = await startFaultProxy({ target: registry.url, faults: [{ method: 'PATCH', fault: { kind: 'cut-request', afterBytes: 1000 } }] });
    try {
      const started = await request(`${proxy.url}/v2/proxy/short/blobs/uploads/`, { method: 'POST' });
      const small = Buffer.alloc(999, 1);
      const patched = await request(started.headers.location!, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': small.length }, body: small });
      assert.equal(patched.status, 202);
      assert.equal(proxy.requests().at(-1)!.fault, undefined);
      assert.equal(proxy.pendingFaults().length, 1);
    } finally {
      await proxy.stop();
    }
  });

  test('max-body answers 413 for bodies over the cap, by Content-Length or while streaming chunks', async () => {
    const proxy = await startFaultProxy({ target: registry.url, faults: [{ method: 'PATCH', fault: { kind: 'max-body', maxBytes: 4096 } }] });
    try {
      const started = await request(`${proxy.url}/v2/proxy/cap/blobs/uploads/`, { method: 'POST' });
      const location = started.headers.location!;
      const big = Buffer.alloc(10_000, 1);
      const declared = await request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': big.length }, body: big });
      assert.equal(declared.status, 413);
      const chunked = await request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: [big.subarray(0, 3000), big.subarray(3000)] });
      assert.equal(chunked.status, 413);
      // A declared body over the cap is never forwarded; a chunked one only until it passes the cap.
      assert.deepEqual(proxy.requests().filter((r) => r.method === 'PATCH').map((r) => [r.fault, r.requestBytes, r.forwardedBytes <= 4096]),
        [['max-body', 10_000, true], ['max-body', 10_000, true]]);
      assert.equal(proxy.requests().find((r) => r.method === 'PATCH')!.forwardedBytes, 0);

      // The chunked attempt may have fed the registry part of its body before the cap was hit,
      // which kills that upload session (as a real cut does), so the last PATCH starts afresh.
      const fresh = await request(`${proxy.url}/v2/proxy/cap/blobs/uploads/`, { method: 'POST' });
      const small = Buffer.alloc(4096, 2);
      const fits = await request(fresh.headers.location!, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': small.length }, body: small });
      assert.equal(fits.status, 202);
      assert.equal(fits.headers.range, '0-4095');
      const patches = (await registry.settledAccessLog()).filter((e) => e.method === 'PATCH' && e.path.startsWith('/v2/proxy/cap/'));
      assert.ok(patches.some((e) => e.status === 202), 'the body under the cap reached the registry');
    } finally {
      await proxy.stop();
    }
  });

  test('a body cap stands alongside one-off faults on the same requests', async () => {
    const proxy = await startFaultProxy({
      target: registry.url,
      faults: [{ method: 'PATCH', fault: { kind: 'max-body', maxBytes: 4096 } }, failWith(500, { method: 'PATCH' })],
    });
    try {
      const started = await request(`${proxy.url}/v2/proxy/both/blobs/uploads/`, { method: 'POST' });
      const location = started.headers.location!;
      const patch = (size: number) => request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': size }, body: Buffer.alloc(size, 5) });
      assert.equal((await patch(100)).status, 500);
      assert.equal((await patch(5000)).status, 413);
      assert.equal((await patch(100)).status, 202);
      assert.deepEqual(proxy.requests().slice(1).map((r) => r.fault), ['respond', 'max-body', undefined]);
      assert.equal(proxy.pendingFaults().length, 1, 'the cap stays; the 500 is used up');
    } finally {
      await proxy.stop();
    }
  });

  test('cut-response drops the connection after N bytes of a blob download', async () => {
    const proxy = await startFaultProxy({ target: registry.url });
    try {
      const blob = Buffer.alloc(50_000, 3);
      const { createHash } = await import('node:crypto');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const started = await request(`${registry.url}/v2/proxy/down/blobs/uploads/`, { method: 'POST' });
      const put = await request(`${started.headers.location}&digest=${encodeURIComponent(digest)}`, {
        method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': blob.length }, body: blob,
      });
      assert.equal(put.status, 201);
      proxy.addFault({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'cut-response', afterBytes: 100 } });
      await assert.rejects(request(`${proxy.url}/v2/proxy/down/blobs/${digest}`), /aborted|ECONNRESET|socket hang up/);
      const record = proxy.requests().at(-1)!;
      assert.deepEqual([record.status, record.responseBytes, record.fault], [200, 100, 'cut-response']);
      const whole = await request(`${proxy.url}/v2/proxy/down/blobs/${digest}`);
      assert.equal(whole.body.length, 50_000, 'the next request passes');
    } finally {
      await proxy.stop();
    }
  });
});

test('scripts/registry.sh starts a local registry in the background and stops it (docker-registry mode)', async () => {
  const port = await freePort();
  const env = { OCIPUSH_REGISTRY_MODE: 'local', OCIPUSH_REGISTRY_PORT: String(port), OCIPUSH_REGISTRY_DIR: join(work.path, 'script-state') };
  const script = join(REPO_ROOT, 'scripts', 'registry.sh');
  try {
    const started = await exec('bash', [script, 'start'], env);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`running \\(docker-registry, pid \\d+\\) at http://127\\.0\\.0\\.1:${port}/v2/`));
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2/`)).status, 200);
    assert.equal((await exec('bash', [script, 'status'], env)).code, 0);
    const again = await exec('bash', [script, 'start'], env);
    assert.match(again.stdout, /already running/);
    const clash = await exec('bash', [script, 'start'], { ...env, OCIPUSH_REGISTRY_DIR: join(work.path, 'script-state-2') });
    assert.notEqual(clash.code, 0);
    assert.match(clash.stderr, /something else already answers/);
  } finally {
    const stopped = await exec('bash', [script, 'stop'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
  }
  assert.equal((await exec('bash', [script, 'status'], env)).code, 3);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/v2/`));
});

test('parsers: access log lines and token scopes', () => {
  assert.deepEqual(
    parseAccessLine('127.0.0.1 - - [24/Nov/2026:10:30:51 +0000] "PATCH /v2/a/b/blobs/uploads/u?_state=x HTTP/1.1" 202 0 "" "skopeo/1.9.3"'),
    { method: 'PATCH', path: '/v2/a/b/blobs/uploads/u', uri: '/v2/a/b/blobs/uploads/u?_state=x', status: 202, bytes: 0, userAgent: 'skopeo/1.9.3' },
  );
  assert.equal(parseAccessLine('{"level":"info","msg":"listening"}'), undefined);
  assert.deepEqual(parseScope('repository:library/app:pull,push'), { type: 'repository', name: 'library/app', actions: ['pull', 'push'] });
  assert.deepEqual(parseScope('repository(plugin):p:pull'), { type: 'repository', name: 'p', actions: ['pull'] });
  assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
  assert.equal(parseScope('nonsense'), undefined);
});
