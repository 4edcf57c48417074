import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { makeSelfSignedCert } from '../support/certs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { MiB, skopeoDigest, umociImage, type UmociImage } from './support.js';

/**
 * A registry behind a TLS-terminating proxy that passes no `X-Forwarded-Proto: https` names its
 * upload sessions `http://HOST/v2/…/blobs/uploads/…` (distribution builds the Location from the
 * scheme it was spoken to in): here the fault proxy serves HTTPS and turns each upload Location
 * into plain HTTP.
 */
describe('an upload Location naming plain HTTP behind an HTTPS registry', () => {
  let registry: RunningRegistry;
  let front: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let caFile: string;
  let repoCount = 0;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    const cert = makeSelfSignedCert(tmp.path, 'front', '/CN=127.0.0.1', ['IP:127.0.0.1', 'DNS:localhost']);
    caFile = cert.certFile;
    front = await startFaultProxy({ target: registry.url, tls: cert });
  });
  after(async () => {
    await front?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    front.clearFaults();
    front.clearRequests();
  });

  /** An image of its own for each test: nothing to mount from an earlier one. */
  const freshImage = (): { image: UmociImage; repo: string } => {
    const tag = `t${++repoCount}`;
    return { image: umociImage(tmp.path, tag, [3.5 * MiB]), repo: `front/${tag}` };
  };

  const plainLocation = (to: (url: URL) => string) => front.addFault({
    path: /\/blobs\/uploads\//, times: 1000,
    fault: { kind: 'response-header', name: 'location', value: (v) => v && to(new URL(v)) },
  });

  for (const chunked of [false, true]) {
    it(`on the host that answered: the upload goes on over HTTPS there${chunked ? ' (in chunks)' : ''}, and the image lands`, async () => {
      plainLocation((url) => `http://${url.host}${url.pathname}${url.search}`);
      const { image, repo } = freshImage();
      const r = await runCliAsync(['push', `oci:${image.layout}:${repo.split('/')[1]}`, `${front.host}/${repo}:v1`, '--ca-file', caFile, ...(chunked ? ['--chunk-size', '1MiB'] : [])]);
      assertOk(r);
      assert.doesNotMatch(r.stderr, /connection reset|starting the upload again/);
      // Every blob request reached the HTTPS front, none went elsewhere.
      const uploads = front.requests().filter((q) => q.method === 'PUT' && q.path.includes('/blobs/uploads/'));
      assert.deepEqual(uploads.map((q) => q.status), [201, 201]);
      if (chunked) assert.equal(front.requests().filter((q) => q.method === 'PATCH' && q.status === 202).length, 5);
      assert.equal(skopeoDigest(`${registry.host}/${repo}:v1`), image.manifest.digest);
    });
  }

  it('on another host: refused in one line, no byte of the blob sent in the clear, no manifest', async () => {
    // The registry itself, on plain HTTP under another name: what would take the blob unencrypted.
    plainLocation((url) => `http://localhost:${registry.port}${url.pathname}${url.search}`);
    await registry.forgetAccessLog();
    const { image, repo } = freshImage();
    const r = await runCliAsync(['push', `oci:${image.layout}:${repo.split('/')[1]}`, `${front.host}/${repo}:v1`, '--ca-file', caFile]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    const errors = r.stderr.trimEnd().split('\n').filter((line) => line.startsWith('ocipush:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, new RegExp(`^ocipush: ${front.host}: start upload of blob sha256:[0-9a-f]{64}: the registry named a plain-HTTP upload location \\(localhost:${registry.port}\\); refusing to send the blob unencrypted`));
    const log = await registry.settledAccessLog();
    assert.deepEqual(log.filter((e) => e.method === 'PATCH' || (e.method === 'PUT' && e.path.includes('/blobs/'))), []);
    assert.deepEqual(log.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/')), []);
  });
});

/**
 * An upload Location whose query carries bytes a re-encoding would change (`~`, `+`, `%2B`, `=`
 * in a value, `%7E`): a storage that signs its upload URLs checks the query as it wrote it, so
 * every request to the session, the closing `PUT ?digest=` too, must carry those bytes as they
 * came, as crane and skopeo carry a PATCH's.
 */
describe('an upload Location whose query a re-encoding would change', () => {
  const signed = 'sig=a~b+c%2Bd=e%7Ef';
  let registry: RunningRegistry;
  let front: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    front = await startFaultProxy({ target: registry.url });
  });
  after(async () => {
    await front?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  for (const chunked of [false, true]) {
    it(`reaches the registry unchanged in every request to the session${chunked ? ' (in chunks)' : ''}, and the image lands`, async () => {
      front.clearFaults();
      front.clearRequests();
      front.addFault({
        path: /\/blobs\/uploads\//, times: 1000,
        fault: { kind: 'response-header', name: 'location', value: (v) => v && `${v}${v.includes('?') ? '&' : '?'}${signed}` },
      });
      const tag = chunked ? 'chunked' : 'whole';
      const image = umociImage(tmp.path, tag, [3.5 * MiB]);
      assertOk(await runCliAsync(['push', `oci:${image.layout}:${tag}`, `${front.host}/signed/${tag}:v1`, ...(chunked ? ['--chunk-size', '1MiB'] : [])]));
      const session = front.requests().filter((q) => q.method !== 'POST' && q.path.includes('/blobs/uploads/'));
      assert.ok(session.some((q) => q.method === 'PUT'), 'a closing PUT');
      if (chunked) assert.ok(session.some((q) => q.method === 'PATCH'), 'PATCHes');
      for (const q of session) {
        const query = q.path.slice(q.path.indexOf('?') + 1).split('&');
        assert.ok(query.includes(signed), `${q.method} ${q.path}`);
        if (q.method === 'PUT') assert.match(q.path, /&digest=sha256%3A[0-9a-f]{64}$/);
      }
      assert.equal(skopeoDigest(`${registry.host}/signed/${tag}:v1`), image.manifest.digest);
    });
  }
});

/**
 * A registry that names its upload sessions by its public name (distribution's `http.host`) while
 * the client reached it by another (here `localhost` for `127.0.0.1`, one server behind both):
 * the credentials stay with the name the user gave, as crane and docker keep them, so the upload
 * there is refused with the registry's login challenge.
 */
describe('an upload Location on another name of a registry that wants credentials', () => {
  let registry: RunningRegistry;
  let front: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry({ auth: { htpasswd: { users: { alice: 'secret' } } } });
    front = await startFaultProxy({ target: registry.url });
    front.addFault({ path: /\/blobs\/uploads\//, times: 1000, fault: { kind: 'response-header', name: 'location', value: (v) => v?.replace('//127.0.0.1:', '//localhost:') } });
  });
  after(async () => {
    await front?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('is refused in one line saying why (credentials kept to the name given) and what to push to; no credentials reach the other name, nothing pushed; pushed by that name, the image lands', async () => {
    const image = umociImage(tmp.path, 'v1', [64 * 1024]);
    const login = { env: { DOCKER_CONFIG: join(tmp.path, 'no-config') }, input: 'secret' };
    const r = await runCliAsync(['push', `oci:${image.layout}:v1`, `${front.host}/public/app:v1`, '-q', '-u', 'alice', '--password-stdin'], login);
    const other = `localhost:${front.port}`;
    assertOneLineError(r, new RegExp(`^ocipush: ${front.host}: push blob sha256:[0-9a-f]{64}: the registry named its upload location on another host, ${other}, which asks for credentials \\(401 UNAUTHORIZED: authentication required\\); they go to ${front.host} alone, as crane and docker send them: push to ${other} by that name`));
    const elsewhere = front.requests().filter((q) => q.path.includes('/blobs/uploads/') && q.method !== 'POST');
    assert.ok(elsewhere.length > 0);
    for (const q of elsewhere) assert.equal(q.requestHeaders.authorization, undefined, `${q.method} ${q.path}`);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method === 'PUT' && e.path.includes('/manifests/')), []);
    assertOk(await runCliAsync(['push', `oci:${image.layout}:v1`, `${other}/public/app:v1`, '-q', '-u', 'alice', '--password-stdin'], login));
    assert.equal(skopeoDigest(`${registry.host}/public/app:v1`, ['--creds', 'alice:secret']), image.manifest.digest);
  });
});
