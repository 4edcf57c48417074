import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFaultProxy, failWith, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { MiB, skopeoDigest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith, skopeoFails } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let source: RunningRegistry;
let destination: RunningRegistry;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
let n = 0;
const env = envWith();

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [3.5 * MiB]);
  source = await startRegistry();
  destination = await startRegistry();
  srcProxy = await startFaultProxy({ target: source.url });
  dstProxy = await startFaultProxy({ target: destination.url });
  assertOk(await runCliAsync(['push', `${source.host}/src/app:1`, '--layout', image.layout], { env }));
});
after(async () => {
  await srcProxy?.stop();
  await dstProxy?.stop();
  await source?.stop();
  await destination?.stop();
  await tmp?.cleanup();
});
beforeEach(() => {
  srcProxy.clearFaults();
  dstProxy.clearFaults();
  srcProxy.clearRequests();
  dstProxy.clearRequests();
});

const blobGet = /\/blobs\/sha256:/;
const uploadPut = /\/blobs\/uploads\/.*digest=/;

describe('copy through failures', () => {
  it('survives the destination cutting an upload and answering 500, and the source cutting a download', async () => {
    const repo = `dst/cut${++n}`;
    dstProxy.addFault({ method: 'PUT', path: uploadPut, fault: { kind: 'cut-request', afterBytes: MiB } });
    dstProxy.addFault(failWith(500, { method: 'PUT', path: uploadPut }));
    srcProxy.addFault({ method: 'GET', path: blobGet, fault: { kind: 'cut-response', afterBytes: 500_000 } });
    const r = await runCliAsync(['copy', `${srcProxy.host}/src/app:1`, `${dstProxy.host}/${repo}:1`], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest, r.stderr);
    assert.equal(skopeoDigest(`${destination.host}/${repo}:1`), image.manifest.digest);
    assert.equal(dstProxy.requests().filter((q) => q.fault === 'cut-request').length, 1);
    assert.equal(dstProxy.requests().filter((q) => q.fault === 'respond').length, 1);
    assert.equal(srcProxy.requests().filter((q) => q.fault === 'cut-response').length, 1);
  });

  it('a source serving corrupt bytes: fails with one line naming the blob, and the destination has no manifest', async () => {
    const repo = `dst/corrupt${++n}`;
    srcProxy.addFault({ method: 'GET', path: new RegExp(`/blobs/${image.layers[0]}`), times: Infinity, fault: { kind: 'corrupt-response', atByte: 2 * MiB } });
    const r = await runCliAsync(['copy', `${srcProxy.host}/src/app:1`, `${destination.host}/${repo}:1`], { env });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    const last = r.stderr.trimEnd().split('\n').at(-1)!;
    assert.match(last, new RegExp(`^ocipush: .*${image.layers[0]}.*(digest|DIGEST)`));
    assert.ok(await skopeoFails(`${destination.host}/${repo}:1`), 'no manifest in the destination');
    const log = await destination.settledAccessLog();
    assert.ok(!log.some((e) => e.method === 'PUT' && e.path.includes(`/${repo}/manifests/`)), 'no manifest PUT at all');
  });

  it('one blob refused for good: the upload in flight beside it is cancelled, its session deleted, and the line names the refused blob', async () => {
    const two = umociImage(join(tmp.path, 'two'), 'two', [MiB, MiB]);
    assertOk(await runCliAsync(['push', `${source.host}/src/two:1`, '--layout', two.layout], { env }));
    const [refused, waiting] = two.layers as [string, string];
    const repo = `dst/sibling${++n}`;
    const byDigest = (digest: string) => new RegExp(`digest=${digest.replace(':', '(:|%3A)')}`);
    let waitingSent!: () => void;
    const waitingAtProxy = new Promise<void>((resolve) => { waitingSent = resolve; });
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    // The refused blob is read from the source only once the other one's PUT is under way, which
    // then stays there (a large layer still going up) until the test ends.
    srcProxy.addFault({ method: 'GET', path: new RegExp(`/blobs/${refused}`), fault: { kind: 'around', before: () => waitingAtProxy, after: () => {} } });
    dstProxy.addFault({ method: 'PUT', path: byDigest(waiting), fault: { kind: 'around', before: () => { waitingSent(); return released; }, after: () => {} } });
    dstProxy.addFault(failWith(400, { method: 'PUT', path: byDigest(refused), times: Infinity }));
    try {
      const r = await runCliAsync(['copy', `${srcProxy.host}/src/two:1`, `${dstProxy.host}/${repo}:1`], { env });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: 127\\.0\\.0\\.1:\\d+: push blob ${refused}: 400 UNKNOWN: fault proxy: injected 400$`));
      const put = dstProxy.requests().find((q) => q.method === 'PUT' && byDigest(waiting).test(q.path))!;
      const session = put.path.split('?')[0]!;
      const deleted = dstProxy.requests().filter((q) => q.method === 'DELETE' && q.path.split('?')[0] === session);
      assert.deepEqual(deleted.map((q) => q.status), [204], 'the session of the upload cut off is deleted');
      // Asked of the registry itself, with the state the client held (without it distribution
      // answers 404 BLOB_UPLOAD_INVALID to any session): an open one answers 204, a deleted one
      // 404 BLOB_UPLOAD_UNKNOWN.
      for (const q of dstProxy.requests().filter((p) => p.method === 'PUT')) {
        const res = await fetch(`${destination.url}${q.path.replace(/&digest=[^&]*/, '')}`);
        assert.equal(res.status, 404, `${q.path.split('?')[0]} is no open session`);
        assert.match(await res.text(), /BLOB_UPLOAD_UNKNOWN/);
      }
    } finally {
      release();
    }
    assert.ok(await skopeoFails(`${destination.host}/${repo}:1`), 'no manifest in the destination');
  });

  it('--src-ca-file trusts the source\'s certificate only; without it, one line naming the flag', async () => {
    const tls = await startRegistry({ tls: true });
    try {
      assertOk(await runCliAsync(['copy', `${source.host}/src/app:1`, `${tls.host}/tls/app:1`, '--dest-ca-file', tls.caFile!], { env }));
      const refused = await runCliAsync(['copy', `${tls.host}/tls/app:1`, `${destination.host}/from-tls/app:1`], { env });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: cannot reach 127\.0\.0\.1:\d+: TLS certificate is self-signed and not trusted \(use --ca-file FILE/);
      assertOk(await runCliAsync(['copy', `${tls.host}/tls/app:1`, `${destination.host}/from-tls/app:1`, '--src-ca-file', tls.caFile!], { env }));
      assert.equal(skopeoDigest(`${destination.host}/from-tls/app:1`), image.manifest.digest);
    } finally {
      await tls.stop();
    }
  });

  it('a large copy writes nothing to TMPDIR or HOME', async () => {
    const big = umociImage(join(tmp.path, 'big'), 'big', [24 * MiB]);
    assertOk(await runCliAsync(['push', `${source.host}/src/big:1`, '--layout', big.layout], { env }));
    const home = join(tmp.path, 'home');
    const tmpdir = join(tmp.path, 'tmpdir');
    mkdirSync(home);
    mkdirSync(tmpdir);
    const r = await runCliAsync(['copy', `${source.host}/src/big:1`, `${destination.host}/dst/big:1`], { env: { ...env, HOME: home, TMPDIR: tmpdir } });
    assertOk(r);
    assert.equal(skopeoDigest(`${destination.host}/dst/big:1`), big.manifest.digest);
    // Node 22+ keeps ocipush's compiled code under ~/.cache/ocipush/compile-cache: code, not blob data.
    const compileCache = join(home, '.cache', 'ocipush', 'compile-cache');
    const large = filesOver(home, 64 * 1024).concat(filesOver(tmpdir, 64 * 1024)).filter((path) => !path.startsWith(compileCache + '/'));
    assert.deepEqual(large, []);
  });
});

function filesOver(dir: string, bytes: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if (entry.isFile() && statSync(path).size > bytes) found.push(path);
  }
  return found;
}
