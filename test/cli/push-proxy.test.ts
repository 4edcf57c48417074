import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { nonLoopbackAddress, relay, type Relay } from '../support/relay.js';
import { startTinyproxy, type RunningProxy } from '../support/tinyproxy.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, skopeoDigestAsync, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

const PROXY_PASSWORD = 'proxy-Secret-5e2a';
/** tinyproxy 1.11 answers wrong credentials with 401 (missing ones with 407; fixed in 1.12); others say 407 to both. */
const WRONG_CREDENTIALS = '(?:401 Unauthorized|407 Proxy Authentication Required)';

/** No proxy or credentials from the machine running the tests; each test sets what it needs. */
const clean = {
  HTTP_PROXY: undefined, http_proxy: undefined, HTTPS_PROXY: undefined, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined,
  OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config'),
};

/**
 * ocipush behind a real forward proxy (tinyproxy). Loopback is never proxied, so the registries
 * are reached through this machine's non-loopback address, relayed to 127.0.0.1.
 */
describe('push through HTTP_PROXY / HTTPS_PROXY', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let address: string;
  let plain: RunningRegistry;
  let tls: RunningRegistry;
  let issuer: TokenIssuer;
  let tokenRegistry: RunningRegistry;
  let plainRelay: Relay;
  let tlsRelay: Relay;
  let issuerRelay: Relay;
  let tokenRelay: Relay;
  let proxy: RunningProxy;
  let authProxy: RunningProxy;
  let strictProxy: RunningProxy;
  let deadPort: number;

  before(async () => {
    address = nonLoopbackAddress();
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1.5 * MiB, 300 * 1024]);
    plain = await startRegistry();
    tls = await startRegistry({ tls: true });
    plainRelay = await relay(address, plain.port);
    tlsRelay = await relay(address, tls.port);
    // A token service on a non-loopback address too, so its requests have to take the proxy.
    issuer = await startTokenIssuer({ anonymous: () => ['pull', 'push'] });
    issuerRelay = await relay(address, Number(new URL(issuer.url).port));
    const realm = `http://${address}:${issuerRelay.port}/token`;
    tokenRegistry = await startRegistry({ auth: { token: { realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    tokenRelay = await relay(address, tokenRegistry.port);
    proxy = await startTinyproxy();
    authProxy = await startTinyproxy({ basicAuth: { user: 'alice', password: PROXY_PASSWORD } });
    strictProxy = await startTinyproxy({ connectPorts: [443] });
    // A proxy that is not there: the discard port, which no test server takes (they listen on
    // ephemeral ports), not a port found free now that another test's server may take meanwhile.
    deadPort = 9;
  });
  after(async () => {
    for (const r of [plainRelay, tlsRelay, issuerRelay, tokenRelay]) await r?.close();
    for (const p of [proxy, authProxy, strictProxy]) await p?.stop();
    for (const r of [plain, tls, tokenRegistry]) await r?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  const push = (target: string, extra: string[], env: Record<string, string | undefined>) =>
    runCliAsync(['push', target, '--layout', image.layout, ...extra], { env: { ...clean, ...env } });
  const newRequests = (p: RunningProxy, before: number) => p.requests().slice(before);

  it('--plain-http: every request goes to HTTP_PROXY in absolute form; skopeo sees the digest', async () => {
    const seen = proxy.requests().length;
    const host = `${address}:${plainRelay.port}`;
    const r = await push(`${host}/proxied/app:1`, ['--plain-http'], { HTTP_PROXY: proxy.url });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    const requests = newRequests(proxy, seen);
    assert.ok(requests.length > 0, proxy.log());
    assert.ok(requests.every((e) => e.method !== 'CONNECT' && e.target.startsWith(`http://${host}/v2/`)), JSON.stringify(requests));
    assert.ok(requests.some((e) => e.method === 'PUT' && e.target === `http://${host}/v2/proxied/app/manifests/1`), JSON.stringify(requests));
    assert.equal(await skopeoDigestAsync(`${plain.host}/proxied/app:1`), image.manifest.digest);
  });

  it('token service requests take the proxy as well', async () => {
    const seen = proxy.requests().length;
    const r = await push(`${address}:${tokenRelay.port}/proxied/tokened:1`, ['--plain-http'], { http_proxy: proxy.url });
    assertOk(r);
    const requests = newRequests(proxy, seen);
    assert.ok(requests.some((e) => e.method === 'GET' && e.target.startsWith(`http://${address}:${issuerRelay.port}/token?`)), JSON.stringify(requests));
    assert.ok(issuer.requests().length > 0);
    assert.equal(await skopeoDigestAsync(`${tokenRegistry.host}/proxied/tokened:1`), image.manifest.digest);
  });

  it('a TLS registry is reached through a CONNECT tunnel, with ocipush\'s TLS settings inside it', async () => {
    const host = `${address}:${tlsRelay.port}`;
    // The certificate names 127.0.0.1 and localhost: through the tunnel it is checked, and refused.
    const refused = await push(`${host}/proxied/tls:1`, [], { HTTPS_PROXY: proxy.url });
    assertOneLineError(refused, /^ocipush: cannot reach [\d.]+:\d+: TLS certificate is self-signed and not trusted \(use --ca-file FILE, or --insecure to skip verification\)$/);
    const withCa = await push(`${host}/proxied/tls:1`, ['--ca-file', tls.caFile!], { HTTPS_PROXY: proxy.url });
    assertOneLineError(withCa, /^ocipush: cannot reach ([\d.]+):\d+: TLS certificate is valid for 127\.0\.0\.1, localhost, not \1 \(reach the registry by a name its certificate holds, or use --insecure to skip verification\)$/);

    const seen = proxy.requests().length;
    const r = await push(`${host}/proxied/tls:1`, ['--insecure'], { HTTPS_PROXY: proxy.url });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    const requests = newRequests(proxy, seen);
    assert.ok(requests.length > 0, proxy.log());
    assert.deepEqual([...new Set(requests.map((e) => `${e.method} ${e.target}`))], [`CONNECT ${host}`]);
    assert.equal(await skopeoDigestAsync(`${tls.host}/proxied/tls:1`), image.manifest.digest);
  });

  it('HTTPS_PROXY is not used for plain HTTP, nor HTTP_PROXY for HTTPS (as in Go)', async () => {
    const seen = proxy.requests().length;
    const r = await push(`${address}:${plainRelay.port}/proxied/direct:1`, ['--plain-http'], { HTTPS_PROXY: `http://127.0.0.1:${deadPort}` });
    assertOk(r);
    assert.equal(proxy.requests().length, seen);
  });

  it('NO_PROXY sends matching hosts directly', async () => {
    const dead = `http://127.0.0.1:${deadPort}`;
    for (const noProxy of [address, `example.com, ${address}:${plainRelay.port}`, `${address.replace(/\.\d+$/, '.0')}/24`, '*']) {
      const r = await push(`${address}:${plainRelay.port}/proxied/bypass:1`, ['--plain-http'], { HTTP_PROXY: dead, NO_PROXY: noProxy });
      assertOk(r);
    }
    const lower = await push(`${address}:${plainRelay.port}/proxied/bypass:2`, ['--plain-http'], { http_proxy: dead, no_proxy: address });
    assertOk(lower);
    // Another port of the same host is not covered by host:port.
    const other = await push(`${address}:${plainRelay.port}/proxied/bypass:3`, ['--plain-http'], { HTTP_PROXY: dead, NO_PROXY: `${address}:1` });
    assert.equal(other.status, 1, other.stderr);
  });

  it('loopback registries are never proxied, even with both variables set and no NO_PROXY', async () => {
    const dead = `http://127.0.0.1:${deadPort}`;
    for (const host of [plain.host, `localhost:${plain.port}`]) {
      const r = await push(`${host}/proxied/loopback:1`, [], { HTTP_PROXY: dead, HTTPS_PROXY: dead });
      assertOk(r);
      assert.equal(r.stdout.trim(), image.manifest.digest);
    }
    // A loopback TLS registry: the scheme probe and the push still connect directly.
    const r = await push(`${tls.host}/proxied/loopback:1`, ['--ca-file', tls.caFile!], { HTTP_PROXY: dead, HTTPS_PROXY: dead });
    assertOk(r);
  });

  it('proxy credentials in the URL work, and never show', async () => {
    const withAuth = authProxy.url.replace('http://', `http://alice:${PROXY_PASSWORD}@`);
    const plainHost = `${address}:${plainRelay.port}`;
    const tlsHost = `${address}:${tlsRelay.port}`;
    const viaHttp = await push(`${plainHost}/proxied/auth:1`, ['--plain-http'], { HTTP_PROXY: withAuth });
    assertOk(viaHttp);
    const viaTunnel = await push(`${tlsHost}/proxied/auth:1`, ['--insecure'], { HTTPS_PROXY: withAuth });
    assertOk(viaTunnel);
    assert.equal(await skopeoDigestAsync(`${tls.host}/proxied/auth:1`), image.manifest.digest);

    const proxyHost = `127.0.0.1:${authProxy.port}`;
    const none = await push(`${plainHost}/proxied/auth:2`, ['--plain-http'], { HTTP_PROXY: authProxy.url });
    assertOneLineError(none, new RegExp(`^ocipush: proxy ${proxyHost} \\(from HTTP_PROXY\\) refused ${plainHost}: 407 Proxy Authentication Required \\(give credentials in HTTP_PROXY: http://user:password@host:port\\)$`));
    const wrong = authProxy.url.replace('http://', `http://alice:not-${PROXY_PASSWORD}@`);
    const wrongTunnel = await push(`${tlsHost}/proxied/auth:2`, ['--insecure'], { https_proxy: wrong });
    assertOneLineError(wrongTunnel, new RegExp(`^ocipush: proxy ${proxyHost} \\(from https_proxy\\) refused ${tlsHost}: ${WRONG_CREDENTIALS} \\(the credentials in https_proxy were refused\\)$`));
    // In absolute form tinyproxy (before 1.12) answers wrong credentials with its own 401: the proxy's, not the registry's.
    const wrongForward = await push(`${plainHost}/proxied/auth:2`, ['--plain-http'], { HTTP_PROXY: wrong });
    assertOneLineError(wrongForward, new RegExp(`^ocipush: proxy ${proxyHost} \\(from HTTP_PROXY\\) refused ${plainHost}: ${WRONG_CREDENTIALS} \\(the credentials in HTTP_PROXY were refused\\)$`));
    for (const r of [viaHttp, viaTunnel, none, wrongTunnel, wrongForward]) {
      const output = r.stdout + r.stderr;
      assert.ok(!output.includes(PROXY_PASSWORD) && !output.includes('alice'), output);
      assert.ok(!output.includes(Buffer.from(`alice:${PROXY_PASSWORD}`).toString('base64')), output);
    }
  });

  it('a proxy password with a bare % (not %25): one line naming the variable, and only the requests that would use it fail', async () => {
    const plainHost = `${address}:${plainRelay.port}`;
    // As Go reads it (crane, skopeo: "invalid URL escape"), a % that starts no escape makes no URL.
    const bare = authProxy.url.replace('http://', 'http://carol:off%zz-Secret-77c1@');
    const refused = await push(`${plainHost}/proxied/percent:1`, ['--plain-http'], { HTTP_PROXY: bare });
    assertOneLineError(refused, new RegExp(`^ocipush: HTTP_PROXY: the user or password of proxy 127\\.0\\.0\\.1:${authProxy.port} holds a % that is not followed by two hex digits \\(write % as %25\\)$`), 2);
    assert.ok(!refused.stderr.includes('Secret-77c1') && !refused.stderr.includes('carol'), refused.stderr);
    // The loopback registry is never proxied: the variable does not stop its push.
    assertOk(await push(`${plain.host}/proxied/percent:2`, [], { HTTP_PROXY: bare, HTTPS_PROXY: bare }));
    assert.equal(await skopeoDigestAsync(`${plain.host}/proxied/percent:2`), image.manifest.digest);
  });

  it('a proxy that refuses the tunnel or is not there gives one line naming it (without credentials)', async () => {
    const tlsHost = `${address}:${tlsRelay.port}`;
    const forbidden = await push(`${tlsHost}/proxied/refused:1`, ['--insecure'], { HTTPS_PROXY: strictProxy.url });
    assertOneLineError(forbidden, new RegExp(`^ocipush: proxy 127\\.0\\.0\\.1:${strictProxy.port} \\(from HTTPS_PROXY\\) refused ${tlsHost}: 403 Forbidden$`));
    // A name the proxy cannot resolve: tinyproxy answers the CONNECT 500, its failure to reach it, not a refusal.
    const unknown = await push('registry.ocipush.invalid:5000/proxied/unknown:1', ['--timeout', '2s'], { HTTPS_PROXY: proxy.url });
    assert.equal(unknown.status, 1, unknown.stderr);
    // Worth another try (a gateway's failure): the retries are told, then the one line.
    assert.deepEqual(unknown.stderr.trimEnd().split('\n').filter((l) => !/, retrying in /.test(l)).length, 1, unknown.stderr);
    assert.match(unknown.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: proxy 127\\.0\\.0\\.1:${proxy.port} \\(from HTTPS_PROXY\\) could not reach registry\\.ocipush\\.invalid:5000: 500 Internal Server Error$`));
    // In absolute form (HTTP_PROXY, a plain-HTTP registry) the same failure is the proxy's own error page, not the registry's 500.
    const unknownPlain = await push('registry.ocipush.invalid:5000/proxied/unknown:1', ['--plain-http', '--timeout', '2s'], { HTTP_PROXY: proxy.url });
    assert.equal(unknownPlain.status, 1, unknownPlain.stderr);
    assert.match(unknownPlain.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: proxy 127\\.0\\.0\\.1:${proxy.port} \\(from HTTP_PROXY\\) could not reach registry\\.ocipush\\.invalid:5000: 500 Internal Server Error$`));

    for (const [variable, target, extra] of [['HTTPS_PROXY', tlsHost, ['--insecure']], ['HTTP_PROXY', `${address}:${plainRelay.port}`, ['--plain-http']]] as const) {
      const dead = await push(`${target}/proxied/dead:1`, [...extra], { [variable]: `http://bob:${PROXY_PASSWORD}@127.0.0.1:${deadPort}` });
      assertOneLineError(dead, new RegExp(`^ocipush: cannot reach proxy 127\\.0\\.0\\.1:${deadPort} \\(from ${variable}\\): connection refused$`));
      assert.ok(!dead.stderr.includes(PROXY_PASSWORD) && !dead.stderr.includes('bob'));
    }
  });

  it('pull and inspect take the proxy too', async () => {
    const host = `${address}:${plainRelay.port}`;
    const seen = proxy.requests().length;
    const inspect = await runCliAsync(['inspect', `${host}/proxied/app:1`, '--plain-http'], { env: { ...clean, HTTP_PROXY: proxy.url } });
    assertOk(inspect);
    assert.ok(inspect.stdout.includes(image.manifest.digest), inspect.stdout);
    const pull = await runCliAsync(['pull', `${host}/proxied/app:1`, '--layout', `${tmp.path}/pulled`, '--plain-http'], { env: { ...clean, HTTP_PROXY: proxy.url } });
    assertOk(pull);
    assert.ok(newRequests(proxy, seen).some((e) => e.method === 'GET' && /\/blobs\/sha256:/.test(e.target)), proxy.log());
  });
});
