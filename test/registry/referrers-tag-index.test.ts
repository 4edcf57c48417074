import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startOci11Proxy } from '../support/oci11-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { skopeoRawManifest, skopeoTags, umociImage, type UmociImage } from './support.js';
import { EMPTY_DESCRIPTOR } from '../../src/oci/descriptor.js';
import type { Digest } from '../../src/oci/digest.js';
import { RegistryClient } from '../../src/registry/http.js';
import { pushReferrers, referrerDescriptor, type SettleClock } from '../../src/registry/referrers.js';

// Each attach, sign or SBOM --attach on a registry without the referrers API rewrote the
// sha256-<hex> index and left the one before it in the repository, untagged, for good: ten
// signatures, ten dead indexes. oras deletes the one it replaced (unless SkipReferrersGC).

interface Index { manifests: { digest: string }[] }

describe('the sha256-<hex> index of the referrers tag schema, in a registry without the referrers API', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let other: UmociImage;
  let proxy: FaultProxy;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    image = umociImage(tmp.path, 'one', [3_000]);
    other = umociImage(tmp.path, 'two', [2_000], join(tmp.path, 'other'));
    writeFileSync(join(tmp.path, 'notes.txt'), 'notes\n');
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  const tagOf = (digest: string) => digest.replace(':', '-');
  /** Whether the registry still serves the manifest by digest, as skopeo asks for it. */
  const held = (repo: string, digest: string): boolean => {
    try {
      skopeoRawManifest(`${registry.host}/${repo}@${digest}`);
      return true;
    } catch {
      return false;
    }
  };
  const indexOf = (repo: string) => {
    const { bytes, digest } = skopeoRawManifest(`${registry.host}/${repo}:${tagOf(image.manifest.digest)}`);
    return { digest, digests: (JSON.parse(bytes.toString()) as Index).manifests.map((m) => m.digest) };
  };

  /** The OCI indexes the registry still serves in `repo`, by the revisions its storage links. */
  const indexesHeld = (repo: string): string[] => {
    const dir = join(registry.storageDir, 'docker/registry/v2/repositories', repo, '_manifests/revisions/sha256');
    return readdirSync(dir).map((hex) => `sha256:${hex}`).filter((d) => {
      try {
        return (JSON.parse(skopeoRawManifest(`${registry.host}/${repo}@${d}`).bytes.toString()) as { mediaType?: string }).mediaType === 'application/vnd.oci.image.index.v1+json';
      } catch {
        return false;
      }
    });
  };

  it('attach and delete of a referrer delete the index they replaced; the current one and every referrer stay', async () => {
    const ref = `${registry.host}/gc/app:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const attached: string[] = [];
    const indexes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', `n=${i}`]);
      assertOk(r);
      attached.push(r.stdout.trim());
      indexes.push(indexOf('gc/app').digest);
    }
    assert.deepEqual(indexOf('gc/app').digests, attached);
    assert.deepEqual(indexes.map((d) => held('gc/app', d)), [false, false, true], 'only the index the tag names is left');
    for (const d of attached) assert.ok(held('gc/app', d), d);

    assertOk(await runCliAsync(['delete', `${registry.host}/gc/app@${attached[0]}`]));
    assert.deepEqual(indexOf('gc/app').digests, attached.slice(1));
    assert.equal(held('gc/app', indexes[2]!), false, 'the index the delete replaced is gone too');
    assert.deepEqual(skopeoTags(`${registry.host}/gc/app`), ['1', tagOf(image.manifest.digest)]);
  });

  it('a registry that refuses deletes (405) keeps the old index, without a word: the attach is done', async () => {
    proxy.addFault({ method: 'DELETE', times: Infinity, fault: { kind: 'respond', status: 405, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}' } });
    const ref = `${proxy.host}/gc/kept:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const first = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
    assertOk(first);
    const old = indexOf('gc/kept').digest;
    const second = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.approval', '-a', 'ok=yes']);
    assertOk(second);
    assert.match(second.stderr, /^attached application\/vnd\.example\.approval .*\(referrers tag schema\)\n$/);
    assert.deepEqual(indexOf('gc/kept').digests, [first.stdout.trim(), second.stdout.trim()]);
    assert.ok(held('gc/kept', old));
    assert.equal(proxy.requests().filter((r) => r.method === 'DELETE' && r.status === 405).length, 1, 'asked once, not retried');
  });

  // An attach whose index update failed for good left its artifact's manifest in the registry,
  // stored and listed nowhere (oras attach and regctl leave it so): it is deleted again, unless
  // the update went through with its answer lost, or the registry will not delete it (then the
  // line names it and how to remove it).
  describe('an index update that fails', () => {
    const tag = () => tagOf(image.manifest.digest);
    const refused = (status: number) => ({ method: 'PUT', path: new RegExp(`/manifests/${tag()}$`), times: Infinity, fault: { kind: 'respond' as const, status } });
    async function withOneReferrer(repo: string): Promise<string> {
      proxy.clearFaults();
      assertOk(await runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--quiet']));
      const first = await runCliAsync(['attach', `${registry.host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=1']);
      assertOk(first);
      return first.stdout.trim();
    }

    it('refused (403): the artifact is deleted again, the index left as it was; attach again adds it', async () => {
      const first = await withOneReferrer('fail/refused');
      const before = indexOf('fail/refused');
      proxy.addFault(refused(403));
      const r = await runCliAsync(['attach', `${proxy.host}/fail/refused:1`, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
      const line = new RegExp(`^ocipush: ${proxy.host}: update referrers index fail/refused:${tag()}: 403 UNKNOWN: fault proxy: injected 403 \\((sha256:[0-9a-f]{64}) not added: deleted again\\)$`);
      assertOneLineError(r, line);
      const artifact = line.exec(r.stderr.trimEnd())![1]!;
      assert.equal(held('fail/refused', artifact), false);
      assert.deepEqual(indexOf('fail/refused'), before);
      proxy.clearFaults();
      const again = await runCliAsync(['attach', `${proxy.host}/fail/refused:1`, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
      assertOk(again);
      assert.equal(again.stdout.trim(), artifact);
      assert.deepEqual(indexOf('fail/refused').digests, [first, artifact]);
    });

    it('written, its answer lost (504 after the registry stored it): read back, listed, the attach is done', async () => {
      const first = await withOneReferrer('fail/lost');
      proxy.addFault({ ...refused(504), fault: { kind: 'rewrite-status', status: 504 } });
      const r = await runCliAsync(['attach', `${proxy.host}/fail/lost:1`, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
      assertOk(r);
      const artifact = r.stdout.trim();
      assert.ok(held('fail/lost', artifact));
      assert.deepEqual(indexOf('fail/lost').digests, [first, artifact]);
    });

    it('refused, and the registry refuses the delete too: the line names the artifact and the command that removes it', async () => {
      await withOneReferrer('fail/kept');
      proxy.addFault(refused(403));
      proxy.addFault({ method: 'DELETE', times: Infinity, fault: { kind: 'respond', status: 405, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}' } });
      const r = await runCliAsync(['attach', `${proxy.host}/fail/kept:1`, '--artifact-type', 'application/vnd.example.notes', join(tmp.path, 'notes.txt')]);
      const line = new RegExp(`^ocipush: ${proxy.host}: update referrers index fail/kept:${tag()}: 403 UNKNOWN: fault proxy: injected 403 \\((sha256:[0-9a-f]{64}) stored, not listed: ocipush delete ${proxy.host}/fail/kept@\\1 removes it\\)$`);
      assertOneLineError(r, line);
      assert.ok(held('fail/kept', line.exec(r.stderr.trimEnd())![1]!));
    });
  });

  // Eight attaches of one image at once on docker-registry 2.8 kept five to eight of their
  // entries: a writer that read the index before another's write and wrote it after the other's
  // read-back dropped the other's entry, seen by neither. Each writer now reads the index back a
  // settle after its write and puts back what went. Two attaches through two proxies are held in
  // that order, the worst one: both read, B writes, then A's write of what it read lands, and only
  // then is B's read after its write answered (that the read waits a settle, the clock's test
  // below shows). The index each wrote that the other's write took the tag from goes too.
  it('two attaches at once, one writing over the other after the other wrote: both stay listed', { timeout: 120_000 }, async () => {
    const repo = 'race/two';
    assertOk(await runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--quiet']));
    const first = await runCliAsync(['attach', `${registry.host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=0']);
    assertOk(first);
    const deferred = () => { let resolve!: () => void; const promise = new Promise<void>((r) => { resolve = r; }); return { promise, resolve }; };
    const [aPutArrived, bWrote, aPutLanded] = [deferred(), deferred(), deferred()];
    const index = new RegExp(`/manifests/${tagOf(image.manifest.digest)}$`);
    const a = await startFaultProxy({ target: registry.url });
    const b = await startFaultProxy({ target: registry.url });
    try {
      a.addFault({ method: 'PUT', path: index, fault: { kind: 'around', before: () => { aPutArrived.resolve(); return bWrote.promise; }, after: () => { aPutLanded.resolve(); } } });
      b.addFault({ method: 'PUT', path: index, fault: { kind: 'around', before: () => aPutArrived.promise, after: () => { bWrote.resolve(); } } });
      let bReads = 0;
      b.addFault({ method: 'GET', path: index, times: Infinity, fault: { kind: 'around', before: () => (++bReads === 2 ? aPutLanded.promise : undefined), after: () => {} } });
      const [ra, rb] = await Promise.all(['a', 'b'].map((n) =>
        runCliAsync(['attach', `${(n === 'a' ? a : b).host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', `n=${n}`])));
      assertOk(ra!);
      assertOk(rb!);
      assert.deepEqual(new Set(indexOf(repo).digests), new Set([first.stdout.trim(), ra!.stdout.trim(), rb!.stdout.trim()]));
      assert.ok(bReads >= 3, 'B wrote its entry again and read it back');
      // B's first index, which A's write took the tag from, stayed untagged for good: A deleted
      // the one it had read, not B's, which it never saw.
      assert.deepEqual(indexesHeld(repo), [indexOf(repo).digest], 'no index but the one the tag names is left');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  /** The empty config an artifact names, put in `repo` as a client would upload it. */
  const putEmptyBlob = async (repo: string) => {
    const session = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(session.headers.get('location')!, registry.url);
    location.searchParams.set('digest', EMPTY_DESCRIPTOR.digest);
    assert.equal((await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: '{}' })).status, 201);
  };
  /** An artifact manifest referring to the image, its bytes and descriptor. */
  const artifactOf = (n: string) => {
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.example.notes',
      config: EMPTY_DESCRIPTOR, layers: [EMPTY_DESCRIPTOR], annotations: { n },
      subject: { mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size },
    }));
    return { bytes, descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest, size: bytes.length } };
  };

  // What the settle is for, with the clock the library takes: another writer (oras, an older
  // ocipush) read the index before our write and its write of what it read lands while we wait.
  // The read after the wait finds our entry gone and writes it again. Without the wait, the read
  // back came at once, found the entry, and the other write, landing after it, dropped it.
  it('a stale write that lands during the settle the clock waits is undone: both entries stay', async () => {
    const repo = 'race/clock';
    assertOk(await runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--quiet']));
    await putEmptyBlob(repo);
    const [theirs, ours] = [artifactOf('theirs'), artifactOf('ours')];
    const indexUrl = `${registry.url}/v2/${repo}/manifests/${tagOf(image.manifest.digest)}`;
    assert.equal((await fetch(`${registry.url}/v2/${repo}/manifests/${theirs.descriptor.digest}`, { method: 'PUT', headers: { 'content-type': theirs.descriptor.mediaType }, body: theirs.bytes })).status, 201);
    // Their read: no index yet. Their write: an index of their entry alone.
    assert.equal((await fetch(indexUrl, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })).status, 404);
    const theirWrite = async () => {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [referrerDescriptor(theirs.descriptor, theirs.bytes)] });
      assert.equal((await fetch(indexUrl, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body })).status, 201);
    };
    const waits: number[] = [];
    let landed = false;
    const clock: SettleClock = { now: () => 0, sleep: async (ms) => { waits.push(ms); if (!landed) { landed = true; await theirWrite(); } } };
    const client = new RegistryClient(registry.host);
    try {
      const [result] = await pushReferrers(client, repo, image.manifest.digest, [ours], { clock });
      assert.equal(result!.indexWrites, 2, 'written, found undone after the settle, written again');
    } finally {
      await client.close();
    }
    if (!landed) await theirWrite();
    assert.deepEqual(new Set(indexOf(repo).digests), new Set([theirs.descriptor.digest, ours.descriptor.digest]));
    assert.ok(waits.length === 2 && waits.every((ms) => ms >= 100), `a settle of at least 100 ms after each write: ${waits.join(', ')}`);
  });

  // A push read the tag index before uploading its referrers' blobs and manifests (at once with
  // asking which the registry had) and wrote it after them: its read-to-write time was the whole
  // upload, which no other writer's settle covers (an SBOM of a large image takes seconds). A push
  // of the same image carrying another SBOM that wrote, read back and settled meanwhile lost its
  // entry unseen by either. Held in that order: W reads the index and uploads; its referrer's
  // manifest waits until U (the other SBOM) has pushed and exited; then W writes the index.
  it('a push whose referrers upload while another push writes the index: both SBOMs stay listed', { timeout: 120_000 }, async () => {
    const repo = 'race/pushes';
    const rootfs = join(tmp.path, 'sbom-rootfs');
    await mkdir(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const [spdx, cyclonedx] = [join(tmp.path, 'sbom-spdx'), join(tmp.path, 'sbom-cyclonedx')];
    for (const [layout, format] of [[spdx, 'spdx'], [cyclonedx, 'cyclonedx']]) assertOk(await runCliAsync(['build', rootfs, '--layout', layout!, '--sbom', '--sbom-format', format!, '--quiet']));
    const referrerOf = async (layout: string) => (JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; artifactType?: string }[] }).manifests.find((m) => m.artifactType)!.digest;
    const [u, w] = [await referrerOf(spdx), await referrerOf(cyclonedx)];
    const deferred = () => { let resolve!: () => void; const promise = new Promise<void>((r) => { resolve = r; }); return { promise, resolve }; };
    const [wUploading, uDone] = [deferred(), deferred()];
    const p = await startFaultProxy({ target: registry.url });
    try {
      p.addFault({ method: 'PUT', path: new RegExp(`/manifests/${w}$`), fault: { kind: 'around', before: () => { wUploading.resolve(); return uDone.promise; }, after: () => {} } });
      const pushW = runCliAsync(['push', `${p.host}/${repo}:w`, '--layout', cyclonedx, '--quiet']);
      await wUploading.promise;
      const pushU = await runCliAsync(['push', `${registry.host}/${repo}:u`, '--layout', spdx, '--quiet']);
      uDone.resolve();
      assertOk(pushU);
      assertOk(await pushW);
      const subject = skopeoRawManifest(`${registry.host}/${repo}:u`).digest;
      const listed = (JSON.parse(skopeoRawManifest(`${registry.host}/${repo}:${tagOf(subject)}`).bytes.toString()) as Index).manifests.map((m) => m.digest);
      assert.deepEqual(new Set(listed), new Set([u, w]), p.requests().map((r) => `${r.method} ${r.path} ${r.status}`).join('\n'));
    } finally {
      await p.stop();
    }
  });

  // A delete of a referrer rewrites the index from its own read: one that read it before an
  // attach's write and writes after it drops the attach's entry unseen by the delete. The
  // attach's read after its settle finds it gone and puts it back. Held in that order: the delete
  // reads; the attach writes (its first write, naming the deleted referrer, refused by the
  // registry; then without it); the delete's write lands; only then is the attach's read after
  // the settle answered.
  it('a delete whose write lands after an attach wrote its entry: the entry stays, the deleted one goes', { timeout: 120_000 }, async () => {
    const repo = 'race/delete';
    assertOk(await runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--quiet']));
    const [kept, gone] = [await runCliAsync(['attach', `${registry.host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=kept']), await runCliAsync(['attach', `${registry.host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=gone'])];
    assertOk(kept);
    assertOk(gone);
    const deferred = () => { let resolve!: () => void; const promise = new Promise<void>((r) => { resolve = r; }); return { promise, resolve }; };
    const [dRead, aWrote, dPutLanded] = [deferred(), deferred(), deferred()];
    const index = new RegExp(`/manifests/${tagOf(image.manifest.digest)}$`);
    const a = await startFaultProxy({ target: registry.url });
    const d = await startFaultProxy({ target: registry.url });
    try {
      d.addFault({ method: 'GET', path: index, fault: { kind: 'around', before: () => {}, after: () => { dRead.resolve(); } } });
      d.addFault({ method: 'PUT', path: index, fault: { kind: 'around', before: () => aWrote.promise, after: () => { dPutLanded.resolve(); } } });
      let aPuts = 0;
      let aReadsAfter = 0;
      a.addFault({ method: 'PUT', path: index, times: Infinity, fault: { kind: 'around', before: async () => { await dRead.promise; aPuts++; }, after: () => { if (aPuts === 2) aWrote.resolve(); } } });
      a.addFault({ method: 'GET', path: index, times: Infinity, fault: { kind: 'around', before: () => (aPuts >= 2 && ++aReadsAfter === 1 ? dPutLanded.promise : undefined), after: () => {} } });
      const [ra, rd] = await Promise.all([
        runCliAsync(['attach', `${a.host}/${repo}:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=a']),
        runCliAsync(['delete', `${d.host}/${repo}@${gone.stdout.trim()}`]),
      ]);
      assertOk(ra!);
      assertOk(rd!);
      assert.deepEqual(new Set(indexOf(repo).digests), new Set([kept.stdout.trim(), ra!.stdout.trim()]), a.requests().map((r) => `${r.method} ${r.path} ${r.status}`).join('\n'));
      assert.deepEqual(indexesHeld(repo), [indexOf(repo).digest], 'no index but the one the tag names is left');
    } finally {
      await a.stop();
      await d.stop();
    }
  });

  // The settle is there for registries that ignore If-Match; one that refused a stale write with
  // 412 has shown it honours it, and each update there still waited 100 ms and read once more.
  // Two attaches read the same index (a barrier); the one whose PUT is refused merges and writes
  // again, and is then done: three reads of the index (the first, after the 412, the read-back)
  // where it made four, the other attach's two (the first, the read-back after its settle).
  it('a registry that answered a stale index write 412 is not waited on for a settle', async () => {
    const tag = tagOf(image.manifest.digest);
    const p = await startOci11Proxy({ target: registry.url, conditionalPuts: true, barrier: { match: (m, path) => m === 'GET' && path.endsWith(`/manifests/${tag}`), count: 2 } });
    try {
      const ref = `${p.host}/settle/conditional:1`;
      assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
      const [a, b] = await Promise.all(['a', 'b'].map((n) => runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', `n=${n}`])));
      assertOk(a!);
      assertOk(b!);
      assert.deepEqual(new Set(indexOf('settle/conditional').digests), new Set([a!.stdout.trim(), b!.stdout.trim()]));
      const log = p.log().join('\n');
      assert.equal(p.log().filter((l) => l.startsWith(`PUT /v2/settle/conditional/manifests/${tag} 412`)).length, 1, log);
      assert.equal(p.log().filter((l) => l.startsWith(`GET /v2/settle/conditional/manifests/${tag} `)).length, 5, log);
    } finally {
      await p.stop();
    }
  });

  // Since writers delete the index they replace, a reader can find the tag naming an index
  // deleted as it reads: docker-registry answers that GET 404 (the revision unknown, not the tag).
  // Taken for "no index yet", attach wrote an index of its one referrer: every other one unlisted.
  it('a tag that names an index deleted as it is read is read again, not taken for no index', async () => {
    const ref = `${registry.host}/gc/moving:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const first = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=1']);
    assertOk(first);
    const tag = tagOf(image.manifest.digest);
    const link = join(registry.storageDir, 'docker/registry/v2/repositories/gc/moving/_manifests/tags', tag, 'current/link');
    const deleted = `sha256:${'0'.repeat(64)}`;
    let saved: Buffer | undefined;
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.addFault({
      method: 'GET', path: new RegExp(`/manifests/${tag}$`),
      // The instant another writer has moved the tag on and deleted the index this GET found.
      fault: { kind: 'around', before: async () => { saved = await readFile(link); await writeFile(link, deleted); }, after: async () => { await writeFile(link, saved!); } },
    });
    const second = await runCliAsync(['attach', `${proxy.host}/gc/moving:1`, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=2']);
    assertOk(second);
    assert.deepEqual(proxy.requests().filter((r) => r.method === 'GET' && r.path.endsWith(tag)).map((r) => [r.fault, r.status]).slice(0, 2), [['around', 404], [undefined, 200]]);
    assert.deepEqual(indexOf('gc/moving').digests, [first.stdout.trim(), second.stdout.trim()]);
  });

  // A Docker manifest list under the sha256-<hex> tag (some image's platforms tagged there) was
  // read as the referrers index: referrers listed its platform image as a referrer and copy copied
  // it as one; attach wrote it back as an OCI index and got a bare '400 MANIFEST_INVALID'.
  it('a Docker manifest list under the referrers tag is no referrers index: one line, the tag left as it was', async () => {
    const ref = `${registry.host}/gc/listed:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    assertOk(await runCliAsync(['push', `${registry.host}/gc/listed:2`, '--layout', other.layout, '--quiet']));
    const two = skopeoRawManifest(`${registry.host}/gc/listed:2`);
    const list = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: two.digest, size: two.bytes.length, platform: { architecture: 'amd64', os: 'linux' } }],
    });
    const put = await fetch(`${registry.url}/v2/gc/listed/manifests/${tagOf(image.manifest.digest)}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.docker.distribution.manifest.list.v2+json' }, body: list });
    assert.equal(put.status, 201);
    const said = new RegExp(`^ocipush: ${registry.host}/gc/listed:${tagOf(image.manifest.digest)}: the referrers tag holds a Docker manifest list, not an OCI image index$`);
    assertOneLineError(await runCliAsync(['referrers', ref]), said);
    const attach = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', 'n=1']);
    assert.equal(attach.status, 1);
    const notAdded = /^ocipush: .* \((sha256:[0-9a-f]{64}) not added: deleted again\)$/.exec(attach.stderr.trimEnd());
    assert.ok(notAdded, attach.stderr);
    assert.match(attach.stderr.trimEnd().replace(/ \(sha256:[0-9a-f]{64} not added: deleted again\)$/, ''), said);
    assert.equal(held('gc/listed', notAdded[1]!), false, 'the artifact no index lists is not left behind');
    assert.equal(skopeoRawManifest(`${registry.host}/gc/listed:${tagOf(image.manifest.digest)}`).bytes.toString(), list);
    assertOneLineError(await runCliAsync(['copy', ref, `${registry.host}/gc/listed-copy:1`, '--quiet']), said);
    // A referrer of that image deleted: the manifest goes, and the line says so before the index's
    // trouble (it read as if the delete had failed).
    await putEmptyBlob('gc/listed');
    const artifact = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.example.notes',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }],
      subject: { mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size },
    });
    const artifactDigest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;
    assert.equal((await fetch(`${registry.url}/v2/gc/listed/manifests/${artifactDigest}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: artifact })).status, 201);
    assertOneLineError(await runCliAsync(['delete', `${registry.host}/gc/listed@${artifactDigest}`]),
      new RegExp(`^ocipush: deleted ${registry.host}/gc/listed@${artifactDigest}, but its entry in the referrers index of ${image.manifest.digest} stays: .*the referrers tag holds a Docker manifest list, not an OCI image index$`));
    assert.equal((await fetch(`${registry.url}/v2/gc/listed/manifests/${artifactDigest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 404, 'the referrer is gone');
  });
});
