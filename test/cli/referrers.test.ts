import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOci11Proxy, type Oci11Proxy } from '../support/oci11-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { skopeoRawManifest, skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

interface Index { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] }

describe('ocipush attach / referrers', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let notes: string;
  let report: string;
  const proxies: Oci11Proxy[] = [];

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [5_000]);
    notes = join(tmp.path, 'notes.txt');
    report = join(tmp.path, 'report.json');
    writeFileSync(notes, 'release notes\n');
    writeFileSync(report, '{"ok":true}\n');
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  async function proxy(options: Omit<Parameters<typeof startOci11Proxy>[0], 'target'>): Promise<Oci11Proxy> {
    const p = await startOci11Proxy({ target: registry.url, ...options });
    proxies.push(p);
    return p;
  }

  const tagOf = (digest: string) => digest.replace(':', '-');

  it('docker-registry 2.8 (no referrers API): the sha256-<hex> tag holds an index of the referrers, as skopeo reads it', () => {
    const ref = `${registry.host}/rf/app:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--quiet']));
    const a = runCli(['attach', ref, '--artifact-type', 'application/vnd.example.notes', `${notes}:text/plain`, '-a', 'purpose=docs']);
    assertOk(a);
    assert.match(a.stderr, /\(referrers tag schema\)\n$/);
    const b = runCli(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]);
    assertOk(b);
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/app:${tagOf(image.manifest.digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [
      [a.stdout.trim(), 'application/vnd.example.notes'],
      [b.stdout.trim(), 'application/vnd.example.report+json'],
    ]);
    assert.deepEqual(index.manifests[0]!.annotations, { purpose: 'docs' });
    // The artifact itself, as skopeo reads it: OCI 1.1 manifest with subject, empty config, the file as a layer.
    const artifact = JSON.parse(skopeoRawManifest(`${registry.host}/rf/app@${a.stdout.trim()}`).bytes.toString());
    assert.equal(artifact.artifactType, 'application/vnd.example.notes');
    assert.equal(artifact.subject.digest, image.manifest.digest);
    assert.equal(artifact.config.mediaType, 'application/vnd.oci.empty.v1+json');
    assert.deepEqual(artifact.layers.map((l: { mediaType: string; annotations: Record<string, string> }) => [l.mediaType, l.annotations['org.opencontainers.image.title']]), [['text/plain', 'notes.txt']]);

    const listed = runCli(['referrers', ref, '--json']);
    assertOk(listed);
    const doc = JSON.parse(listed.stdout);
    assert.equal(doc.via, 'tag-schema');
    assert.equal(doc.manifests.length, 2);
    const text = runCli(['referrers', ref, '--artifact-type', 'application/vnd.example.notes']);
    assert.equal(text.stdout, `${a.stdout.trim()} application/vnd.example.notes purpose=docs\n`);
    // Attaching the same file again adds the same manifest once.
    assertOk(runCli(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]));
    assert.equal(JSON.parse(runCli(['referrers', ref, '--json']).stdout).manifests.length, 2);
  });

  it('an OCI 1.1 registry (referrers API): the PUT is answered with OCI-Subject, no tag is written, GET referrers lists it', async () => {
    const p = await proxy({ referrersApi: true });
    const ref = `${p.host}/rf/api:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const a = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]);
    assertOk(a);
    assert.match(a.stderr, /\(referrers API\)\n$/);
    assert.ok(!p.log().some((l) => l.includes(`manifests/${tagOf(image.manifest.digest)}`)), 'no referrers tag');
    assert.deepEqual(skopeoTags(`${registry.host}/rf/api`), ['1']);
    const listed = JSON.parse((await runCliAsync(['referrers', ref, '--json'])).stdout);
    assert.equal(listed.via, 'api');
    assert.deepEqual(listed.manifests.map((m: { digest: string }) => m.digest), [a.stdout.trim()]);

    // Copied by digest on its own: its one PUT is answered with OCI-Subject, so no tag index is
    // read and the manifest is not sent again to learn it.
    assertOk(await runCliAsync(['copy', ref, `${p.host}/rf/api-copy:1`, '--no-referrers', '--quiet']));
    const before = p.log().length;
    assertOk(await runCliAsync(['copy', `${p.host}/rf/api@${a.stdout.trim()}`, `${p.host}/rf/api-copy@${a.stdout.trim()}`, '--quiet']));
    const copying = p.log().slice(before);
    assert.equal(copying.filter((l) => l.startsWith(`PUT /v2/rf/api-copy/manifests/${a.stdout.trim()}`)).length, 1, copying.join('\n'));
    assert.ok(!copying.some((l) => l.includes(`manifests/${tagOf(image.manifest.digest)}`)), copying.join('\n'));
    const copied = JSON.parse((await runCliAsync(['referrers', `${p.host}/rf/api-copy:1`, '--json'])).stdout);
    assert.deepEqual([copied.via, copied.manifests.map((m: { digest: string }) => m.digest)], ['api', [a.stdout.trim()]]);
  });

  it('a re-push (and a re-copy) of a build --sbom image asks the tag schema once and writes nothing; an OCI 1.1 registry is still told by the API', async () => {
    const rootfs = join(tmp.path, 'sbom-rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const layout = join(tmp.path, 'sbom-layout');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--sbom', '-q']));
    const ref = `${registry.host}/rf/again:1`;
    const first = await runCliAsync(['push', layout, ref, '--json']);
    assertOk(first);
    const sbom = (JSON.parse(first.stdout) as { referrers: { digest: string }[] }).referrers[0]!.digest;
    await registry.forgetAccessLog();
    const again = await runCliAsync(['push', layout, ref, '--json']);
    assertOk(again);
    const pushed = JSON.parse(again.stdout) as { digest: string; referrers: { digest: string; via: string }[] };
    assert.deepEqual(pushed.referrers.map((r) => [r.digest, r.via]), [[sbom, 'tag-schema']]);
    const requests = (await registry.settledAccessLog()).filter((e) => !e.uri.includes('harness-settle'));
    assert.deepEqual(requests.filter((e) => e.method !== 'GET' && e.method !== 'HEAD').map((e) => `${e.method} ${e.path}`), [], 'nothing written');
    assert.deepEqual(requests.filter((e) => e.path.includes('/blobs/')).map((e) => e.path), [], 'no blob of the SBOM asked about: its manifest is there');
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/again:${tagOf(pushed.digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [sbom]);
    // A copy made again likewise: the SBOM is there and listed, nothing is written.
    assertOk(await runCliAsync(['copy', ref, `${registry.host}/rf/again-copy:1`]));
    await registry.forgetAccessLog();
    assertOk(await runCliAsync(['copy', ref, `${registry.host}/rf/again-copy:1`]));
    const recopy = (await registry.settledAccessLog()).filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.deepEqual(recopy.map((e) => `${e.method} ${e.path}`), [], 'the second copy wrote nothing');
    // Where the registry has the API it keeps no tag index: the re-push PUTs and is answered by it.
    const p = await proxy({ referrersApi: true });
    for (let i = 0; i < 2; i++) {
      const viaApi = await runCliAsync(['push', layout, `${p.host}/rf/again-api:1`, '--json']);
      assertOk(viaApi);
      assert.deepEqual((JSON.parse(viaApi.stdout) as { referrers: { via: string }[] }).referrers.map((r) => r.via), ['api'], `push ${i + 1}`);
    }
  });

  it('a first push of an image with an SBOM and a signed provenance writes each referrer once and the tag index once', async () => {
    const rootfs = join(tmp.path, 'provenance-rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const keys = join(tmp.path, 'rf-keys');
    const env = { COSIGN_PASSWORD: 'rf-pw' };
    assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
    const layout = join(tmp.path, 'provenance-layout');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--sbom', '--provenance', '--key', `${keys}.key`, '-q'], { env }));
    await registry.forgetAccessLog();
    const pushed = await runCliAsync(['push', layout, `${registry.host}/rf/once:1`, '--json']);
    assertOk(pushed);
    const { digest, referrers } = JSON.parse(pushed.stdout) as { digest: string; referrers: { digest: string; artifactType?: string; via: string }[] };
    const made = referrers.filter((r) => r.via === 'tag-schema').map((r) => r.digest).sort();
    assert.equal(made.length, 2, pushed.stdout);
    const writes = (await registry.settledAccessLog()).filter((e) => e.method === 'PUT' && e.path.includes('/manifests/')).map((e) => e.path);
    // Before, each referrer's manifest went up twice (once with its blobs, once to read OCI-Subject) and each updated the index in turn.
    for (const m of made) assert.equal(writes.filter((w) => w.endsWith(`/manifests/${m}`)).length, 1, writes.join('\n'));
    assert.equal(writes.filter((w) => w.endsWith(`/manifests/${tagOf(digest)}`)).length, 1, writes.join('\n'));
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/once:${tagOf(digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), made);
    assert.deepEqual(index.manifests.map((m) => m.artifactType).sort(), ['application/spdx+json', 'application/vnd.dsse.envelope.v1+json']);
    // And the provenance is in cosign's .att too, verifiable as cosign's verify-attestation reads it.
    assertOk(await runCliAsync(['verify-attestation', `${registry.host}/rf/once:1`, '--key', `${keys}.pub`, '--type', 'slsaprovenance1']));
    // A copy to another repository likewise: each referrer's manifest once, its index once.
    await registry.forgetAccessLog();
    assertOk(await runCliAsync(['copy', `${registry.host}/rf/once:1`, `${registry.host}/rf/once-copy:1`]));
    const copyWrites = (await registry.settledAccessLog()).filter((e) => e.method === 'PUT' && e.path.startsWith('/v2/rf/once-copy/manifests/')).map((e) => e.path);
    for (const m of made) assert.equal(copyWrites.filter((w) => w.endsWith(`/manifests/${m}`)).length, 1, copyWrites.join('\n'));
    assert.equal(copyWrites.filter((w) => w.endsWith(`/manifests/${tagOf(digest)}`)).length, 1, copyWrites.join('\n'));
    const copied = JSON.parse(skopeoRawManifest(`${registry.host}/rf/once-copy:${tagOf(digest)}`).bytes.toString()) as Index;
    assert.deepEqual(copied.manifests.map((m) => m.digest).sort(), made);
    assertOk(await runCliAsync(['verify-attestation', `${registry.host}/rf/once-copy:1`, '--key', `${keys}.pub`, '--type', 'slsaprovenance1']));
    // With cosign's .att gone (skopeo delete), the provenance among the referrers still verifies, as in a layout;
    // without it too, nothing does.
    const att = skopeoRawManifest(`${registry.host}/rf/once-copy:${tagOf(digest)}.att`).digest;
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/rf/once-copy@${att}`]);
    assertOk(await runCliAsync(['verify-attestation', `${registry.host}/rf/once-copy:1`, '--key', `${keys}.pub`, '--type', 'slsaprovenance1']));
    const provenance = copied.manifests.find((m) => m.artifactType === 'application/vnd.dsse.envelope.v1+json')!.digest;
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/rf/once-copy@${provenance}`]);
    const none = await runCliAsync(['verify-attestation', `${registry.host}/rf/once-copy:1`, '--key', `${keys}.pub`]);
    assert.equal(none.status, 1, none.stderr);
    assert.match(none.stderr, /no attestations found/);
  });

  it('delete of a referrer takes it out of the sha256-<hex> index (the spec leaves that to clients); the last one takes the tag, as oras does', async () => {
    const ref = `${registry.host}/rf/gone:1`;
    const digestTag = tagOf(image.manifest.digest);
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const a = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]);
    const b = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]);
    assertOk(a);
    assertOk(b);
    const first = await runCliAsync(['delete', `${registry.host}/rf/gone@${a.stdout.trim()}`]);
    assertOk(first);
    assert.match(first.stderr, new RegExp(`and its entry in the referrers index of ${image.manifest.digest}\\n$`));
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/gone:${digestTag}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [b.stdout.trim()]);
    const listed = await runCliAsync(['referrers', ref, '--json']);
    assertOk(listed);
    assert.deepEqual((JSON.parse(listed.stdout) as Index).manifests.map((m) => m.digest), [b.stdout.trim()]);

    assertOk(await runCliAsync(['delete', `${registry.host}/rf/gone@${b.stdout.trim()}`]));
    assert.deepEqual(skopeoTags(`${registry.host}/rf/gone`), ['1']);
    assert.equal(skopeoRawManifest(`${registry.host}/rf/gone:1`).digest, image.manifest.digest, 'the subject stays');
  });

  it('copy skips a referrer the tag schema still lists after skopeo delete removed it; the image and the live referrer are copied', async () => {
    const ref = `${registry.host}/rf/stale:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const gone = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]);
    const live = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]);
    assertOk(gone);
    assertOk(live);
    // skopeo deletes the manifest and leaves the sha256-<hex> index as it was.
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/rf/stale@${gone.stdout.trim()}`]);

    const r = await runCliAsync(['copy', ref, `${registry.host}/rf/stale-copy:1`, '--json']);
    assertOk(r);
    assert.match(r.stderr, new RegExp(`manifest ${gone.stdout.trim().slice(0, 19)}: listed as a referrer of ${image.manifest.digest}, but the source no longer has it: skipped`));
    assert.deepEqual((JSON.parse(r.stdout) as { referrers: { digest: string }[] }).referrers.map((x) => x.digest), [live.stdout.trim()]);
    assert.equal(skopeoRawManifest(`${registry.host}/rf/stale-copy:1`).digest, image.manifest.digest);
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/stale-copy:${tagOf(image.manifest.digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [live.stdout.trim()]);
  });

  it('attach and delete after skopeo delete removed a referrer the sha256-<hex> index still lists: the entry that is gone leaves the index, which docker-registry refused to take while it named it', async () => {
    const ref = `${registry.host}/rf/pruned:1`;
    const digestTag = tagOf(image.manifest.digest);
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const gone = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]);
    const live = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]);
    assertOk(gone);
    assertOk(live);
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/rf/pruned@${gone.stdout.trim()}`]);

    const later = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes, '-a', 'again=yes']);
    assertOk(later);
    const listed = (JSON.parse(skopeoRawManifest(`${registry.host}/rf/pruned:${digestTag}`).bytes.toString()) as Index).manifests.map((m) => m.digest);
    assert.deepEqual(listed, [live.stdout.trim(), later.stdout.trim()]);

    // The same for a delete: another referrer gone behind the index's back does not stop it.
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/rf/pruned@${later.stdout.trim()}`]);
    assertOk(await runCliAsync(['delete', `${registry.host}/rf/pruned@${live.stdout.trim()}`]));
    assert.deepEqual(skopeoTags(`${registry.host}/rf/pruned`), ['1'], 'the index, left naming nothing there, goes as the last referrer\'s delete takes it');
  });

  it('a referrer copied by digest on its own is listed in the destination\'s sha256-<hex> index, as oras cp and crane copy list it', async () => {
    const ref = `${registry.host}/rf/one:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const a = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]);
    assertOk(a);
    assertOk(await runCliAsync(['copy', ref, `${registry.host}/rf/other:1`, '--no-referrers', '--quiet']));
    assertOk(await runCliAsync(['copy', `${registry.host}/rf/one@${a.stdout.trim()}`, `${registry.host}/rf/other:notes`, '--quiet']));
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/other:${tagOf(image.manifest.digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[a.stdout.trim(), 'application/vnd.example.notes']]);
    const listed = await runCliAsync(['referrers', `${registry.host}/rf/other:1`, '--json']);
    assertOk(listed);
    assert.deepEqual((JSON.parse(listed.stdout) as Index).manifests.map((m) => m.digest), [a.stdout.trim()]);
  });

  it('two attaches at once both survive: both read the same index, the conditional PUT makes the second merge', async () => {
    const digestTag = tagOf(image.manifest.digest);
    const p = await proxy({ conditionalPuts: true, barrier: { match: (m, path) => m === 'GET' && path.endsWith(`/manifests/${digestTag}`), count: 2 } });
    const ref = `${p.host}/rf/race:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const [a, b] = await Promise.all([
      runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', notes]),
      runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.report+json', report]),
    ]);
    assertOk(a);
    assertOk(b);
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/race:${digestTag}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [a.stdout.trim(), b.stdout.trim()].sort(), p.log().join('\n'));
    assert.equal(p.log().filter((l) => l.startsWith(`PUT /v2/rf/race/manifests/${digestTag} 412`)).length, 1, p.log().join('\n'));
  });

  it('attach with annotations and no file makes an artifact whose one layer is the empty blob, as oras attach; with neither, one line', () => {
    const ref = `${registry.host}/rf/bare:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--quiet']));
    const r = runCli(['attach', ref, '--artifact-type', 'application/vnd.example.approval', '-a', 'approved-by=qa']);
    assertOk(r);
    const artifact = JSON.parse(skopeoRawManifest(`${registry.host}/rf/bare@${r.stdout.trim()}`).bytes.toString());
    const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
    assert.deepEqual(artifact.layers, [empty]);
    assert.deepEqual(artifact.config, empty);
    assert.deepEqual(artifact.annotations, { 'approved-by': 'qa' });
    assert.equal(artifact.subject.digest, image.manifest.digest);
    const index = JSON.parse(skopeoRawManifest(`${registry.host}/rf/bare:${tagOf(image.manifest.digest)}`).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [r.stdout.trim()]);
    const none = runCli(['attach', ref, '--artifact-type', 'application/vnd.example.approval']);
    assert.equal(none.status, 2);
    assert.equal(none.stderr, 'ocipush: attach: name at least one file, or an annotation (-a KEY=VALUE, or "$manifest" in --annotation-file)\n');
  });

  // referrers printed one referrer a line, but an annotation holding a newline (a multi-line
  // org.opencontainers.image.description) went out as it was: its second line read as a referrer.
  // The referrers API's pages were followed with no check: a registry whose next link led back to
  // a page already read had every referrer listed over and over (a hundred rounds, exit 0), and a
  // page refused after the first cut the list short without a word.
  it('referrers follows the API\'s pages (Link) to the end, each referrer once; a next link back to a page read is one line', async () => {
    const paged = await proxy({ referrersApi: true, referrersPages: { size: 2 } });
    const ref = `${paged.host}/rf/paged:1`;
    // Asynchronous runs: the proxy answers in this process.
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--quiet']));
    const attached: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await runCliAsync(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', `n=${i}`]);
      assertOk(r);
      attached.push(r.stdout.trim());
    }
    const before = paged.log().length;
    const listed = await runCliAsync(['referrers', ref, '--json']);
    assertOk(listed);
    const doc = JSON.parse(listed.stdout) as Index & { via: string };
    assert.equal(doc.via, 'api');
    assert.deepEqual(doc.manifests.map((m) => m.digest), attached);
    assert.equal(paged.log().slice(before).filter((l) => l.startsWith('GET /v2/rf/paged/referrers/')).length, 3, 'three pages of two');
    // Each is a manifest the registry holds, read by skopeo.
    for (const digest of attached) assert.equal(skopeoRawManifest(`${registry.host}/rf/paged@${digest}`).digest, digest);

    const looping = await proxy({ referrersApi: true, referrersPages: { size: 2, linkBack: true } });
    const loopRef = `${looping.host}/rf/looping:1`;
    assertOk(await runCliAsync(['push', loopRef, '--layout', image.layout, '--quiet']));
    for (let i = 0; i < 3; i++) assertOk(await runCliAsync(['attach', loopRef, '--artifact-type', 'application/vnd.example.notes', '-a', `n=${i}`]));
    const beforeLoop = looping.log().length;
    const loop = await runCliAsync(['referrers', loopRef, '--json']);
    assert.equal(loop.status, 1, loop.stdout);
    assert.match((JSON.parse(loop.stdout) as { error: { code: string; message: string } }).error.message, /: list referrers of rf\/looping@sha256:[0-9a-f]{64}: the registry sent the same page twice \(/);
    assert.equal(loop.stderr.trimEnd().split('\n').length, 1, loop.stderr);
    assert.ok(looping.log().slice(beforeLoop).filter((l) => l.startsWith('GET /v2/rf/looping/referrers/')).length <= 3, 'no run of a hundred requests');
  });

  it('referrers prints one line per referrer whatever its annotations hold: a newline in a value is shown as \\n', () => {
    const ref = `${registry.host}/rf/described:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--quiet']));
    const description = 'first line\nsecond line';
    const attached = runCli(['attach', ref, '--artifact-type', 'application/vnd.example.notes', '-a', `org.opencontainers.image.description=${description}`]);
    assertOk(attached);
    assertOk(runCli(['attach', ref, '--artifact-type', 'application/vnd.example.approval', '-a', 'approved-by=qa']));
    // The registry holds the value as given (skopeo reads the newline in the artifact).
    const artifact = JSON.parse(skopeoRawManifest(`${registry.host}/rf/described@${attached.stdout.trim()}`).bytes.toString()) as { annotations: Record<string, string> };
    assert.equal(artifact.annotations['org.opencontainers.image.description'], description);
    const listed = runCli(['referrers', ref]);
    assertOk(listed);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, listed.stdout);
    for (const line of lines) assert.match(line, /^sha256:[0-9a-f]{64} application\/vnd\.example\./);
    assert.ok(lines.includes(`${attached.stdout.trim()} application/vnd.example.notes org.opencontainers.image.description=first line\\nsecond line`), listed.stdout);
    // --json carries the value itself.
    const json = JSON.parse(runCli(['referrers', ref, '--json']).stdout) as Index;
    assert.equal(json.manifests.find((m) => m.digest === attached.stdout.trim())?.annotations?.['org.opencontainers.image.description'], description);
  });
});
