import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { staticCredentials } from '../../src/registry/credentials/static.js';
import { Repository } from '../../src/registry/repository.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { freePort, startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { blobPath, umociImage, type UmociImage } from './support.js';

const PASSWORD = 'redirect-Secret-51aa';

/**
 * Registries send blob downloads to other hosts (S3, a CDN). Here a proxy in front of a
 * password-protected registry answers a blob GET with 307 to a second registry holding the same
 * blob anonymously, behind a proxy that records what it was sent.
 */
describe('redirects to another host', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let guarded: RunningRegistry;
  let storage: RunningRegistry;
  let front: FaultProxy;
  let blobHost: FaultProxy;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [300_000]);
    guarded = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    storage = await startRegistry();
    front = await startFaultProxy({ target: guarded.url });
    blobHost = await startFaultProxy({ target: storage.url });
    const layout = await OciLayout.open(image.layout);
    const credentials = staticCredentials(guarded.host, { username: 'alice', password: PASSWORD });
    for (const [host, creds] of [[guarded.host, credentials], [storage.host, undefined]] as const) {
      const client = connectRegistry(host, { credentials: creds });
      await copyGraph(layout, new Repository(client, 'redirect/app'), image.manifest, { rootReference: 'v1' });
      await client.close();
    }
  });
  after(async () => {
    await front?.stop();
    await blobHost?.stop();
    await guarded?.stop();
    await storage?.stop();
    await tmp?.cleanup();
  });

  it('follows the 307, never sends the Authorization header to the other host, and verifies the blob', async () => {
    const layer = image.layers[0]!;
    front.addFault({ method: 'GET', path: new RegExp(`/blobs/${layer}$`), fault: { kind: 'respond', status: 307, headers: { location: `${blobHost.url}/v2/redirect/app/blobs/${layer}?signature=abc` } } });
    const client = connectRegistry(front.host, { credentials: staticCredentials(front.host, { username: 'alice', password: PASSWORD }) });
    const dir = join(tmp.path, 'pulled');
    try {
      const repo = new Repository(client, 'redirect/app');
      await copyGraph(repo, await OciLayout.open(dir, { create: true }), await repo.resolve('v1'), { rootReference: 'v1' });
    } finally {
      await client.close();
    }
    assert.ok(readFileSync(blobPath(dir, layer)).equals(readFileSync(blobPath(image.layout, layer))));
    const redirected = front.requests().find((r) => r.status === 307);
    assert.equal(redirected?.requestHeaders.authorization, '<redacted>', 'the registry itself gets the credentials');
    const followed = blobHost.requests();
    assert.deepEqual(followed.map((r) => [r.method, r.path, r.status]), [['GET', `/v2/redirect/app/blobs/${layer}?signature=abc`, 200]]);
    assert.equal(followed[0]!.requestHeaders.authorization, undefined, 'no Authorization for the other host');
  });

  it('a HEAD redirected with 303 stays a HEAD (as Go follows it): an existence check never downloads the blob', async () => {
    const layer = image.layers[0]!;
    front.addFault({ method: 'HEAD', path: new RegExp(`/blobs/${layer}$`), fault: { kind: 'respond', status: 303, headers: { location: `${blobHost.url}/v2/redirect/app/blobs/${layer}?see-other=1` } } });
    const before = blobHost.requests().length;
    const client = connectRegistry(front.host, { credentials: staticCredentials(front.host, { username: 'alice', password: PASSWORD }) });
    try {
      const repo = new Repository(client, 'redirect/app');
      const size = readFileSync(blobPath(image.layout, layer)).length;
      assert.equal(await repo.exists({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer as `sha256:${string}`, size }), true);
    } finally {
      await client.close();
      front.clearFaults();
    }
    assert.deepEqual(blobHost.requests().slice(before).map((r) => [r.method, r.path, r.status]), [['HEAD', `/v2/redirect/app/blobs/${layer}?see-other=1`, 200]]);
  });

  it('a 300 with a Location is the answer, not a redirect: skopeo (Go) does not follow it, nor ocipush', async () => {
    requireTool('skopeo');
    const layer = image.layers[0]!;
    front.addFault({ method: 'GET', path: new RegExp(`/blobs/${layer}$`), times: Infinity, fault: { kind: 'respond', status: 300, headers: { location: `${blobHost.url}/v2/redirect/app/blobs/${layer}?choice=1` } } });
    const before = blobHost.requests().length;
    try {
      // Before: followed as a redirect (any 3xx but 304 was), the blob fetched from the other host.
      const r = await runCliAsync(['pull', '-q', `${front.host}/redirect/app:v1`, `oci:${join(tmp.path, 'multiple-choices')}:v1`, '-u', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /300/, r.stderr);
      const skopeo = await promisify(execFile)('skopeo', ['copy', '-q', '--src-tls-verify=false', '--src-creds', `alice:${PASSWORD}`, `docker://${front.host}/redirect/app:v1`, `oci:${join(tmp.path, 'skopeo-300')}:v1`]).then(() => 'copied', () => 'refused');
      assert.equal(skopeo, 'refused', 'skopeo does not follow a 300 either');
    } finally {
      front.clearFaults();
    }
    assert.deepEqual(blobHost.requests().slice(before), [], 'the Location of a 300 is never asked');
  });

  it('another host that cannot be reached is named, not the registry that answered (a firewall letting the registry through, not its CDN)', async () => {
    const layer = image.layers[0]!;
    // Port 9 (discard): nothing listens there, and no other test's server can take it.
    const closed = 9;
    front.addFault({ method: 'GET', path: new RegExp(`/blobs/${layer}$`), times: Infinity, fault: { kind: 'respond', status: 307, headers: { location: `http://127.0.0.1:${closed}/bucket/docker/registry/v2/blobs/data?X-Amz-Signature=abc` } } });
    try {
      // --timeout 1s: the retries a refused connection gets once the registry has answered stop early.
      const r = await runCliAsync(['pull', '-q', '--timeout', '1s', `${front.host}/redirect/app:v1`, `oci:${join(tmp.path, 'unreachable')}:v1`, '-u', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
      const last = r.stderr.trimEnd().split('\n').at(-1)!;
      assert.equal(r.status, 1, r.stderr);
      assert.equal(last, `ocipush: cannot reach 127.0.0.1:${closed}, where ${front.host} redirected the request: connection refused`);
      assert.ok(r.stderr.trimEnd().split('\n').slice(0, -1).every((l) => l.includes(`cannot reach 127.0.0.1:${closed}, where `) && /, retrying in /.test(l)), r.stderr);
    } finally {
      front.clearFaults();
    }
  });

  it('a refusal by the other host (an S3 signed URL that expired) is named as that host\'s, with its reason, not as the registry refusing the credentials', async () => {
    const layer = image.layers[0]!;
    front.addFault({ method: 'GET', path: new RegExp(`/blobs/${layer}$`), times: Infinity, fault: { kind: 'respond', status: 307, headers: { location: `${blobHost.url}/bucket/docker/registry/v2/blobs/data?X-Amz-Expires=1200&X-Amz-Signature=abc` } } });
    const expired = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>1200</X-Amz-Expires></Error>';
    blobHost.addFault({ method: 'GET', times: Infinity, fault: { kind: 'respond', status: 403, headers: { 'content-type': 'application/xml' }, body: expired } });
    try {
      const login = ['-u', 'alice', '--password-stdin'];
      const line = new RegExp(`^ocipush: ${front.host}: fetch blob ${layer}: ${blobHost.host}, where it was redirected, answered 403 AccessDenied: Request has expired$`);
      assertOneLineError(await runCliAsync(['pull', '-q', `${front.host}/redirect/app:v1`, `oci:${join(tmp.path, 'expired')}:v1`, ...login], { input: `${PASSWORD}\n` }), line);
      const json = await runCliAsync(['pull', '--json', `${front.host}/redirect/app:v1`, `oci:${join(tmp.path, 'expired')}:v1`, ...login], { input: `${PASSWORD}\n` });
      assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'EREGISTRY');
    } finally {
      front.clearFaults();
      blobHost.clearFaults();
    }
  });
});

/**
 * An HTTPS registry whose blob storage speaks plain HTTP (S3 or MinIO without TLS): distribution's
 * own `redirect` storage middleware sends each blob GET there, and a plain file server serves the
 * registry's storage directory, as the bucket would. docker, skopeo and crane follow the redirect.
 */
describe('an HTTPS registry redirecting blob downloads to plain-HTTP storage', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let registry: RunningRegistry;
  let storage: Server;
  const served: string[] = [];

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [200_000]);
    const port = await freePort();
    registry = await startRegistry({ tls: true, blobRedirect: `http://127.0.0.1:${port}/` });
    storage = createServer((req, res) => {
      served.push(`${req.method} ${req.url}`);
      const file = join(registry.storageDir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      createReadStream(file).on('error', () => { res.statusCode = 404; res.end(); }).pipe(res);
    });
    await new Promise<void>((resolve) => storage.listen(port, '127.0.0.1', resolve));
    assertOk(await runCliAsync(['push', `${registry.host}/bucket/app:1`, '--layout', image.layout, '--ca-file', registry.caFile!]));
  });
  after(async () => {
    await new Promise((resolve) => storage?.close(resolve));
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull follows the blob redirect to plain HTTP, as skopeo does, and checks what comes back', async () => {
    const pulled = join(tmp.path, 'pulled');
    assertOk(await runCliAsync(['pull', `${registry.host}/bucket/app:1`, '--layout', pulled, '--ca-file', registry.caFile!]));
    const layer = image.layers[0]!;
    assert.ok(served.some((line) => line === `GET /docker/registry/v2/blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}/data`), served.join('\n'));
    assert.ok(readFileSync(blobPath(pulled, layer)).equals(readFileSync(blobPath(image.layout, layer))));
    // skopeo takes the same redirect: the registry and storage answer as the tools of the field expect.
    requireTool('skopeo');
    const before = served.length;
    await promisify(execFile)('skopeo', ['copy', '-q', '--src-cert-dir', registry.certDir!, `docker://${registry.host}/bucket/app:1`, `oci:${join(tmp.path, 'skopeo')}:1`]);
    assert.ok(served.length > before, 'skopeo took the redirect too');
  });
});
