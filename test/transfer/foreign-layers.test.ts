import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { podman } from '../archive/support.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer } from '../support/token-issuer.js';
import { OciLayout } from '../../src/content/layout.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { staticCredentials } from '../../src/registry/credentials/static.js';
import { LazyBlobs } from '../../src/transfer/lazy-blobs.js';
import { missingPath, requireTool, run, tempDir } from '../support/tools.js';

/**
 * Foreign (non-distributable) layers, as Windows base images have them: the manifest names the
 * layer with `urls`, and the registry does not hold it. crane and skopeo leave such a layer out of
 * a registry or a layout, and read it from its URL when they need its bytes (a docker archive,
 * a filesystem, a check). The layer is served here by a plain HTTP server of the test, under a
 * signed-looking URL whose query must reach it as written.
 */
describe('foreign layers', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let server: http.Server;
  let served: { url: string; authorization?: string }[] = [];
  let serving = true;
  let foreignUrl = '';
  const foreign = tarGz('foreign.txt', 'the Windows base layer\n');
  const own = tarGz('hello.txt', 'hello\n');

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry({ foreignLayerUrls: '^http://127\\.0\\.0\\.1:' });
    server = http.createServer((req, res) => {
      served.push({ url: req.url ?? '', authorization: req.headers.authorization });
      if (serving && req.url === '/layers/foreign.tgz?sig=a%2Fb&expires=1') res.end(foreign.gz);
      else { res.statusCode = 404; res.end('no such object'); }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    foreignUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/layers/foreign.tgz?sig=a%2Fb&expires=1`;
    // The image as a Windows base image is published: an OCI layout without the foreign blob,
    // copied by skopeo, which leaves the foreign layer out of the registry.
    const layout = writeLayout(join(tmp.path, 'source'), foreign, own, foreignUrl);
    for (const [format, repo] of [['oci', 'win/oci'], ['v2s2', 'win/docker']] as const) {
      run('skopeo', ['copy', '-q', '--format', format, '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${registry.host}/${repo}:v1`]);
    }
  });
  after(async () => {
    server?.close();
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    served = [];
    serving = true;
  });

  it('the registry does not hold the layer: the test image is what Windows images look like', async () => {
    const r = await fetch(`${registry.url}/v2/win/docker/blobs/${foreign.digest}`, { method: 'HEAD' });
    assert.equal(r.status, 404);
  });

  for (const repo of ['win/docker', 'win/oci']) {
    it(`copy ${repo} to a docker archive: the layer is read from its URL, and podman loads the archive`, async () => {
      const archive = join(tmp.path, `${repo.replace('/', '-')}.tar`);
      assertOk(await runCliAsync(['copy', `${registry.host}/${repo}:v1`, `docker-archive:${archive}:win:1`]));
      assert.deepEqual(served, [{ url: new URL(foreignUrl).pathname + new URL(foreignUrl).search, authorization: undefined }]);
      const p = podman(join(tmp.path, `podman-${repo.replace('/', '-')}`));
      try {
        assert.match(p.run(['load', '-i', archive]), /Loaded image.*win:1/);
      } finally {
        p.cleanup();
      }
    });
  }

  it('validate and rootfs read the layer from its URL', async () => {
    const v = await runCliAsync(['validate', `${registry.host}/win/docker:v1`]);
    assertOk(v);
    // --fast asks the registry whether each blob is there: the foreign layer never is, and is no problem.
    assertOk(await runCliAsync(['validate', '--fast', `${registry.host}/win/docker:v1`]));
    const out = join(tmp.path, 'rootfs.tar');
    assertOk(await runCliAsync(['rootfs', `${registry.host}/win/docker:v1`, '-o', out]));
    assert.deepEqual(run('tar', ['-tf', out]).split('\n').filter(Boolean).sort(), ['foreign.txt', 'hello.txt']);
  });

  it('a pull leaves the layer out, as skopeo does; export then reads it from its URL', async () => {
    const layout = join(tmp.path, 'pulled');
    const pulled = await runCliAsync(['pull', `${registry.host}/win/docker:v1`, `oci:${layout}:win`]);
    assertOk(pulled);
    assert.match(pulled.stderr, /\(3 blobs: 2 downloaded, 0 already there, 1 foreign layer left at its URLs\)/);
    assert.ok(!readdirSync(join(layout, 'blobs', 'sha256')).includes(foreign.digest.slice(7)), 'the pull did not fetch the foreign layer');
    assert.equal(served.length, 0);
    const archive = join(tmp.path, 'exported.tar');
    assertOk(await runCliAsync(['validate', '--fast', `oci:${layout}:win`]));
    assertOk(await runCliAsync(['export', `oci:${layout}:win=win:2`, '-o', archive]));
    // (A loopback host is first asked GET /v2/ for its scheme, as any loopback registry is.)
    assert.equal(served.filter((r) => r.url.startsWith('/layers/')).length, 1);
    assert.ok(served.every((r) => r.authorization === undefined));
    const p = podman(join(tmp.path, 'podman-export'));
    try {
      assert.match(p.run(['load', '-i', archive]), /Loaded image.*win:2/);
    } finally {
      p.cleanup();
    }
    // Read back, the archive is the image the layout holds: the layer stays foreign, at its URL,
    // and the registry never gets the bytes of a layer its author does not let be distributed.
    const up = await runCliAsync(['copy', `docker-archive:${archive}`, `${registry.host}/win/exported:v1`]);
    assertOk(up);
    assert.match(up.stderr, /1 foreign layer left at its URLs/);
    const digestOf = (repo: string) => JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/${repo}`])).Digest as string;
    assert.equal(digestOf('win/exported:v1'), digestOf('win/docker:v1'));
    assert.equal((await fetch(`${registry.url}/v2/win/exported/blobs/${foreign.digest}`, { method: 'HEAD' })).status, 404);
  });

  it('a copy between registries never reads the layer: it stays at its URL', async () => {
    const copied = await runCliAsync(['copy', `${registry.host}/win/docker:v1`, `${registry.host}/win/copied:v1`]);
    assertOk(copied);
    assert.match(copied.stderr, /\(3 blobs: 0 copied, 2 mounted, 0 already there, 1 foreign layer left at its URLs\)/);
    assert.deepEqual(served, []);
  });

  it('a registry that refuses foreign URLs (distribution by default): one line naming the layer, at once', async () => {
    const strict = await startRegistry();
    try {
      const r = await runCliAsync(['push', `oci:${join(tmp.path, 'source')}:v1`, `${strict.host}/win/app:v1`]);
      assert.equal(r.status, 1, r.stderr);
      const last = r.stderr.trimEnd().split('\n').pop()!;
      assert.match(last, new RegExp(`^ocipush: .*push manifest .*: the registry refuses the foreign layer ${foreign.digest} \\(at http://127\\.0\\.0\\.1:\\d+/layers/.*\\), which it does not hold \\(distribution takes one only when validation\\.manifests\\.urls\\.allow matches its URL\\)$`));
      // distribution answers 500, which the same request again cannot change: sent once.
      const puts = (await strict.settledAccessLog()).filter((e) => e.method === 'PUT' && e.path.includes('/manifests/'));
      assert.equal(puts.length, 1);
    } finally {
      await strict.stop();
    }
  });

  it('a URL that does not serve the layer: one line naming the layer and why, and no archive', async () => {
    serving = false;
    const archive = join(tmp.path, 'broken.tar');
    const r = await runCliAsync(['copy', `${registry.host}/win/docker:v1`, `docker-archive:${archive}:win:1`]);
    assert.equal(r.status, 1, r.stderr);
    const last = r.stderr.trimEnd().split('\n').pop()!;
    assert.match(last, new RegExp(`^ocipush: .*foreign layer ${foreign.digest} is not there, and no URL of it served it \\(127\\.0\\.0\\.1:\\d+: 404`));
    assert.ok(!existsSync(archive), 'no archive is left');
  });
});

/**
 * A foreign layer's URL is the image author's, not the registry's: a host there that answers 401
 * with a Bearer challenge must not make ocipush ask the realm it names for a token with the
 * registry's credentials (it would receive them).
 */
describe('a foreign layer URL that challenges for credentials', () => {
  it('gets no credentials, and its realm is never asked', async () => {
    const tmp = await tempDir();
    const password = 'foreign-Secret-93b1';
    const issuer = await startTokenIssuer({ users: { alice: { password } } });
    const registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } }, foreignLayerUrls: '^http://' });
    const seen: { host: string; url: string; authorization?: string }[] = [];
    const record = (host: string) => (req: http.IncomingMessage) => seen.push({ host, url: req.url ?? '', authorization: req.headers.authorization });
    const realm = http.createServer((req, res) => { record('realm')(req); res.end('{"token":"stolen"}'); });
    const cdn = http.createServer((req, res) => {
      record('cdn')(req);
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(realm.address() as AddressInfo).port}/token",service="evil"` });
      res.end();
    });
    await Promise.all([realm, cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    try {
      const layer = tarGz('foreign.txt', 'guarded\n');
      const own = tarGz('hello.txt', 'hello\n');
      const layout = writeLayout(join(tmp.path, 'source'), layer, own, `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/layer.tgz`);
      // Not run(): skopeo must be answered by the token issuer, which lives in this process.
      await promisify(execFile)('skopeo', ['copy', '-q', '--dest-tls-verify=false', '--dest-creds', `alice:${password}`, `oci:${layout}:v1`, `docker://${registry.host}/win/guarded:v1`]);
      const archive = join(tmp.path, 'guarded.tar');
      const r = await runCliAsync(['copy', `${registry.host}/win/guarded:v1`, `docker-archive:${archive}:win:1`, '-u', 'alice', '--password-stdin'], {
        input: `${password}\n`, env: { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, DOCKER_CONFIG: missingPath('docker-config') },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.trimEnd().split('\n').pop()!, /foreign layer .* is not there, and no URL of it served it \(127\.0\.0\.1:\d+: 401/);
      assert.deepEqual(seen.filter((s) => s.host === 'realm'), [], 'the realm a foreign URL names is never asked');
      assert.ok(seen.some((s) => s.host === 'cdn') && seen.every((s) => s.authorization === undefined), 'nothing sent with credentials');
    } finally {
      realm.close();
      cdn.close();
      await registry.stop();
      await issuer.stop();
      await tmp.cleanup();
    }
  });
});

describe('a layout whose foreign layer URL challenges for credentials', () => {
  it('is read without the credentials the caller gives for registries', async () => {
    const tmp = await tempDir();
    const seen: string[] = [];
    const realm = http.createServer((req, res) => { seen.push(`realm ${req.headers.authorization ?? ''}`); res.end('{"token":"stolen"}'); });
    const cdn = http.createServer((req, res) => {
      seen.push(`cdn ${req.headers.authorization ?? ''}`);
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(realm.address() as AddressInfo).port}/token",service="evil"` });
      res.end();
    });
    await Promise.all([realm, cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const layer = tarGz('foreign.txt', 'guarded\n');
    const dir = writeLayout(join(tmp.path, 'layout'), layer, tarGz('hello.txt', 'hello\n'), `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/layer.tgz`);
    // A library caller whose connect gives its credentials to whatever registry it is asked for.
    const lazy = new LazyBlobs(await OciLayout.open(dir), { connect: (host) => connectRegistry(host, { credentials: staticCredentials(host, { username: 'alice', password: 'lib-Secret-4410' }) }) });
    try {
      await assert.rejects(
        async () => { for await (const _ of await lazy.fetch({ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: layer.digest as `sha256:${string}`, size: layer.gz.length, urls: [`http://127.0.0.1:${(cdn.address() as AddressInfo).port}/layer.tgz`] })) { /* read */ } },
        /foreign layer .* is not there, and no URL of it served it/,
      );
      // (The URL's host may run its own anonymous token dance; the caller's password never leaves.)
      assert.ok(seen.length > 0 && seen.every((s) => !s.includes('Basic')), seen.join(', '));
    } finally {
      await lazy.close();
      realm.close();
      cdn.close();
      await tmp.cleanup();
    }
  });
});

describe('a foreign layer whose URLs are not http or https', () => {
  it('is named with why none could be read', async () => {
    const tmp = await tempDir();
    const layer = tarGz('foreign.txt', 'elsewhere\n');
    const dir = writeLayout(join(tmp.path, 'layout'), layer, tarGz('hello.txt', 'hello\n'), 'ftp://example.invalid/layer.tgz');
    const lazy = new LazyBlobs(await OciLayout.open(dir));
    try {
      await assert.rejects(
        lazy.fetch({ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: layer.digest as `sha256:${string}`, size: layer.gz.length, urls: ['ftp://example.invalid/layer.tgz', 'http//broken'] }),
        (err: Error) => /none of its urls is http or https/.test(err.message),
      );
    } finally {
      await lazy.close();
      await tmp.cleanup();
    }
  });
});

interface Blob { bytes: Buffer; digest: string }
interface Layer { gz: Buffer; digest: string; diffId: string }

function blob(bytes: Buffer): Blob {
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/** A one-file layer: a ustar archive, gzipped. */
function tarGz(name: string, content: string): Layer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('0', 156);
  header.write('ustar\x0000', 257);
  header.fill(' ', 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const tar = Buffer.concat([header, data, Buffer.alloc(512 - (data.length % 512 || 512)), Buffer.alloc(1024)]);
  const gz = gzipSync(tar);
  return { gz, digest: blob(gz).digest, diffId: blob(tar).digest };
}

/** An OCI layout with an image of a foreign layer (not in the layout) under one of its own. */
function writeLayout(dir: string, foreign: Layer, own: Layer, url: string): string {
  const dirBlobs = join(dir, 'blobs', 'sha256');
  mkdirSync(dirBlobs, { recursive: true });
  const put = (b: Blob) => writeFileSync(join(dirBlobs, b.digest.slice(7)), b.bytes);
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [foreign.diffId, own.diffId] } })));
  put(config);
  put({ bytes: own.gz, digest: own.digest });
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.bytes.length },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: foreign.digest, size: foreign.gz.length, urls: [url] },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: own.digest, size: own.gz.length },
    ],
  })));
  put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  }));
  return dir;
}
