import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { assertOneLineError, runCliAsync } from '../cli/registry-support.js';

/**
 * A push or pull starts with its real request, not `GET /v2/`. A web server that is no registry
 * (every path 404, POST 501, as a static file server answers) must still be named as such, in one
 * line, not as "manifest not found" or "start upload: 501".
 */
describe('a host that is not a registry', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let web: Server;
  let host: string;
  let registry: RunningRegistry;
  const seen: string[] = [];
  const layout = () => join(tmp.path, 'layout');

  before(async () => {
    tmp = await tempDir('ocipush-not-registry-');
    web = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.statusCode = req.method === 'POST' ? 501 : 404;
      res.end(req.method === 'HEAD' ? undefined : '<html>not here</html>');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(web.address() as AddressInfo).port}`;
    registry = await startRegistry();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const built = runCli(['build', rootfs, '--layout', layout(), '--tag', 'app:1']);
    assert.equal(built.status, 0, built.stderr);
  });
  after(async () => {
    await new Promise<void>((resolve) => web.close(() => resolve()));
    await registry?.stop();
    await tmp?.cleanup();
  });

  const notRegistry = new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: check the registry API \\(GET /v2/\\): 404 Not Found \\(is it a container registry\\?\\)$`);

  it('push, pull, copy and inspect say so in one line, exit 1, and ask GET /v2/ once', async () => {
    for (const args of [
      ['push', `${host}/app:1`, '--layout', layout(), '--tag', 'app:1'],
      ['pull', `${host}/app:1`, '--layout', join(tmp.path, 'pulled')],
      ['copy', `${host}/app:1`, `${registry.host}/copied:1`],
      ['inspect', `${host}/app:1`],
    ]) {
      seen.length = 0;
      const r = await runCliAsync(args);
      assertOneLineError(r, notRegistry);
      assert.equal(seen.filter((s) => s === 'GET /v2/').length, 1, `${args[0]}: ${seen.join(', ')}`);
    }
  });

  it('--json carries it as EREGISTRY, never ENOTFOUND', async () => {
    const r = await runCliAsync(['pull', `${host}/app:1`, '--layout', join(tmp.path, 'pulled2'), '--json']);
    assert.equal(r.status, 1);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EREGISTRY');
  });

  it('a real registry is not asked GET /v2/ for a missing manifest: it says so itself', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['pull', `${registry.host}/nothing/here:1`, '--layout', join(tmp.path, 'pulled3')]);
    assertOneLineError(r, /manifest not found$/);
    // The harness's own settle probe is a /v2/?harness-settle=… request: only ocipush's count.
    const log = await registry.settledAccessLog();
    assert.deepEqual(log.filter((l) => l.uri === '/v2/').map((l) => `${l.method} ${l.uri}`), []);
    assert.ok(log.some((l) => l.path === '/v2/nothing/here/manifests/1' && l.status === 404), JSON.stringify(log));
  });
});

/**
 * --plain-http to a registry that speaks HTTPS: Go's server answers the plain request with a bare
 * 400 ("Client sent an HTTP request to an HTTPS server."), which every verb used to show as
 * "check manifest app:1: 400 Bad Request".
 */
describe('--plain-http to a registry that speaks HTTPS', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  const layout = () => join(tmp.path, 'layout');
  const speaksHttps = /^ocipush: 127\.0\.0\.1:\d+ speaks HTTPS, not plain HTTP \(it answered a plain request with 400 "Client sent an HTTP request to an HTTPS server\."\): leave out --plain-http$/;

  before(async () => {
    tmp = await tempDir('ocipush-plain-to-tls-');
    registry = await startRegistry({ tls: true });
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const built = runCli(['build', rootfs, '--layout', layout(), '--tag', 'app:1']);
    assert.equal(built.status, 0, built.stderr);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('push, pull, inspect, ls and login say so in one line (ENETWORK), nothing written', async () => {
    const env = { DOCKER_CONFIG: join(tmp.path, 'docker') };
    for (const args of [
      ['push', `${registry.host}/app:1`, '--layout', layout(), '--tag', 'app:1'],
      ['pull', `${registry.host}/app:1`, '--layout', join(tmp.path, 'pulled')],
      ['inspect', `${registry.host}/app:1`],
      ['ls', `${registry.host}/app`],
      ['login', registry.host, '-u', 'me', '--password-stdin'],
    ]) {
      const r = await runCliAsync([...args, '--plain-http'], { env, input: 'secret\n' });
      assertOneLineError(r, speaksHttps);
    }
    const json = await runCliAsync(['inspect', `${registry.host}/app:1`, '--plain-http', '--json']);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'ENETWORK');
    assert.equal(existsSync(join(tmp.path, 'docker', 'config.json')), false);
    assert.equal(existsSync(join(tmp.path, 'pulled')), false);
    // The registry itself is fine over HTTPS.
    const r = await runCliAsync(['push', `${registry.host}/app:1`, '--layout', layout(), '--tag', 'app:1', '--ca-file', registry.caFile!]);
    assert.equal(r.status, 0, r.stderr);
  });
});
