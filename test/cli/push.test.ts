import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, blobWrites, MiB, skopeoDigest, umociImage, uploadStarts, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

describe('ocipush push against docker-registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'v1', [2.5 * MiB, 100_000]);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });
  // Lines of the previous test's requests may trail its CLI process: wait for them, then forget them.
  beforeEach(async () => {
    await registry.forgetAccessLog();
  });

  it('prints the manifest digest; skopeo sees it and copies the image back bit for bit', async () => {
    const r = runCli(['push', `${registry.host}/cli/hello:0.1`, '--layout', image.layout]);
    assertOk(r);
    assert.equal(r.stdout, `${image.manifest.digest}\n`);
    // Not a TTY: one line when each blob starts and one when it ends, then a summary.
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('pushing layer ')).length, 2);
    assert.equal(lines.filter((l) => / uploaded/.test(l) && l.startsWith('layer ')).length, 2);
    assert.match(lines.at(-1)!, new RegExp(`^pushed ${registry.host}/cli/hello:0\\.1 \\(3 blobs: 3 uploaded, 0 mounted, 0 already there\\)$`));
    assert.equal(skopeoDigest(`${registry.host}/cli/hello:0.1`), image.manifest.digest);

    requireTool('skopeo');
    const copy = join(tmp.path, 'skopeo-copy');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/cli/hello:0.1`, `oci:${copy}:back`]);
    const copied = readdirSync(join(copy, 'blobs', 'sha256')).map((h) => `sha256:${h}`).sort();
    assert.deepEqual(copied, [image.manifest.digest, image.config, ...image.layers].sort());
    for (const digest of copied) assert.ok(readFileSync(blobPath(copy, digest)).equals(readFileSync(blobPath(image.layout, digest))), digest);
  });

  it('a second push sends no blob and no manifest: the tag already names the digest', async () => {
    assertOk(runCli(['push', `${registry.host}/cli/again:1`, '--layout', image.layout]));
    await registry.forgetAccessLog();
    const r = runCli(['push', `${registry.host}/cli/again:1`, '--layout', image.layout]);
    assertOk(r);
    assert.match(r.stderr, /\(3 blobs: 0 uploaded, 0 mounted, 3 already there\)/);
    assert.match(r.stderr, /^manifest sha256:[0-9a-f]{12} \(\d+ B\) already there$/m, 'the tag already named it: nothing was tagged');
    const log = await registry.settledAccessLog();
    assert.deepEqual(uploadStarts(log), []);
    assert.deepEqual(blobWrites(log), []);
    // One request: the HEAD of the tag is also the loopback scheme probe and needs no GET /v2/
    // before it; it answers with the very digest, so no blob is asked about and nothing is put.
    const sent = log.filter((e) => !e.uri.includes('harness-settle')).map((e) => `${e.method} ${e.uri.replace(/sha256:[0-9a-f]{64}/, 'DIGEST')}`);
    assert.deepEqual(sent, ['HEAD /v2/cli/again/manifests/1']);
  });

  it('a cold push into a new repository: the HEAD of the tag, a HEAD of the manifest and of each blob, one POST and one PUT per blob, the manifest', async () => {
    // A layout of its own: pushes of `image` are remembered, and its blobs would be mounted.
    const image = umociImage(tmp.path, 'cold', [2.5 * MiB, 100_000], join(tmp.path, 'cold-layout'));
    const r = runCli(['push', `${registry.host}/cli/cold:1`, '--layout', image.layout]);
    assertOk(r);
    const log = (await registry.settledAccessLog()).filter((e) => !e.uri.includes('harness-settle'));
    const sent = log.map((e) => `${e.method} ${e.path.replace(/sha256:[0-9a-f]{64}/, 'DIGEST').replace(/uploads\/[0-9a-f-]+$/, 'uploads/UUID')}`);
    assert.equal(sent[0], 'HEAD /v2/cli/cold/manifests/1', 'the tag is asked first (a re-push ends there)');
    assert.equal(sent.at(-1), 'PUT /v2/cli/cold/manifests/1', 'the manifest goes last, under its tag');
    const count = (line: string) => sent.filter((s) => s === line).length;
    assert.equal(count('GET /v2/'), 0, 'no API check before the first request');
    assert.equal(count('HEAD /v2/cli/cold/manifests/DIGEST'), 1);
    assert.equal(count('HEAD /v2/cli/cold/blobs/DIGEST'), 3, 'layers and config');
    assert.equal(count('POST /v2/cli/cold/blobs/uploads/'), 3);
    assert.equal(count('PUT /v2/cli/cold/blobs/uploads/UUID'), 3, 'each blob in one PUT');
    assert.equal(sent.length, 12);
  });

  it('a push of another image under a tag that exists: the tag is moved (HEAD tag, HEAD digest, PUT)', async () => {
    const other = umociImage(tmp.path, 'moved', [100_000], join(tmp.path, 'moved-layout'));
    assertOk(runCli(['push', `${registry.host}/cli/again:1`, '--layout', other.layout]));
    assert.equal(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/cli/again:1`])).Digest, other.manifest.digest);
  });

  it('--json, --digest-file and --also-tag', async () => {
    // A layout of its own: pushes of `image` are remembered, and its blobs would be mounted.
    const image = umociImage(tmp.path, 'j', [2.5 * MiB, 100_000], join(tmp.path, 'json-layout'));
    const digestFile = join(tmp.path, 'digest.txt');
    const r = runCli(['push', `${registry.host}/cli/json:1.0`, '--layout', image.layout, '--json', '--also-tag', 'latest', '--also-tag', '1', '--digest-file', digestFile]);
    assertOk(r);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(out, {
      reference: `${registry.host}/cli/json:1.0@${image.manifest.digest}`,
      digest: image.manifest.digest,
      size: image.manifest.size,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      tags: ['1.0', 'latest', '1'],
      blobs: [...image.layers.map((d) => ({ digest: d, kind: 'layer' })), { digest: image.config, kind: 'config' }].map((b) => ({
        digest: b.digest,
        size: readFileSync(blobPath(image.layout, b.digest)).length,
        mediaType: b.kind === 'layer' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.config.v1+json',
        kind: b.kind,
        outcome: 'uploaded',
      })),
    });
    assert.equal(readFileSync(digestFile, 'utf8'), image.manifest.digest);
    for (const tag of ['1.0', 'latest', '1']) assert.equal(skopeoDigest(`${registry.host}/cli/json:${tag}`), image.manifest.digest);
    // The extra tags are manifest PUTs only.
    const log = await registry.settledAccessLog();
    assert.equal(log.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/')).length, 3);
    assert.equal(uploadStarts(log).length, 3);
  });

  it('--chunk-size 1MiB: the registry logs one PATCH per MiB of each blob', async () => {
    const image = umociImage(tmp.path, 'c', [2.5 * MiB, 100_000], join(tmp.path, 'chunk-layout'));
    const r = runCli(['push', `${registry.host}/cli/chunked:1`, '--layout', image.layout, '--chunk-size', '1MiB', '--quiet']);
    assertOk(r);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '');
    const sizes = [...image.layers, image.config].map((d) => readFileSync(blobPath(image.layout, d)).length);
    const log = await registry.settledAccessLog();
    assert.equal(log.filter((e) => e.method === 'PATCH' && e.status === 202).length, sizes.reduce((n, s) => n + Math.ceil(s / MiB), 0));
    assert.equal(skopeoDigest(`${registry.host}/cli/chunked:1`), image.manifest.digest);
  });

  it('--mount-from: blobs mounted from another repository, nothing uploaded', async () => {
    assertOk(runCli(['push', `${registry.host}/cli/base:1`, '--layout', image.layout]));
    await registry.forgetAccessLog();
    const r = runCli(['push', `${registry.host}/cli/mounted:1`, '--layout', image.layout, '--mount-from', 'cli/base', '--json']);
    assertOk(r);
    const out = JSON.parse(r.stdout) as { blobs: { outcome: string }[] };
    assert.deepEqual(out.blobs.map((b) => b.outcome), ['mounted', 'mounted', 'mounted']);
    const log = await registry.settledAccessLog();
    assert.ok(log.filter((e) => e.method === 'POST').every((e) => e.uri.includes('mount=') && e.status === 201));
    assert.deepEqual(blobWrites(log), []);
  });

  it('remembers where it pushed blobs: a push of the same layout to another repository mounts them', async () => {
    const layout = join(tmp.path, 'remember-layout');
    umociImage(tmp.path, 'r', [300_000], layout);
    const first = JSON.parse(runCli(['push', `${registry.host}/cli/first:1`, '--layout', layout, '--json']).stdout) as { blobs: { outcome: string }[] };
    assert.deepEqual(first.blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    await registry.forgetAccessLog();
    const second = JSON.parse(runCli(['push', `${registry.host}/cli/second:1`, '--layout', layout, '--json']).stdout) as { blobs: { outcome: string }[] };
    assert.deepEqual(second.blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    const log = await registry.settledAccessLog();
    assert.ok(log.some((e) => e.method === 'POST' && new URLSearchParams(e.uri.split('?')[1]).get('from') === 'cli/first' && e.status === 201));
    assert.deepEqual(blobWrites(log), []);
    // Another registry knows nothing of those repositories: a plain upload there.
    const other = await startRegistry();
    try {
      const third = JSON.parse(runCli(['push', `${other.host}/cli/third:1`, '--layout', layout, '--json']).stdout) as { blobs: { outcome: string }[] };
      assert.deepEqual(third.blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
      assert.ok(!(await other.settledAccessLog()).some((e) => e.uri.includes('mount=')));
    } finally {
      await other.stop();
    }
  });

  it('a remembered repository that declines a mount (the blob deleted there) is tried once, then forgotten', async () => {
    const layout = join(tmp.path, 'forget-layout');
    umociImage(tmp.path, 'f', [200_000], layout);
    type Pushed = { blobs: { digest: string; outcome: string }[] };
    const push = (repository: string) => JSON.parse(runCli(['push', `${registry.host}/${repository}:1`, '--layout', layout, '--json']).stdout) as Pushed;
    // The registry's own blob DELETE: the repository no longer holds them.
    const deleteBlobs = async (repository: string, pushed: Pushed) => {
      for (const b of pushed.blobs) assert.equal((await fetch(`${registry.url}/v2/${repository}/blobs/${b.digest}`, { method: 'DELETE' })).status, 202);
    };
    const mountsFrom = (log: { method: string; uri: string; status: number }[], repository: string) => log
      .filter((e) => e.method === 'POST' && new URLSearchParams(e.uri.split('?')[1]).get('from') === repository).map((e) => e.status);
    await deleteBlobs('cli/gone', push('cli/gone'));
    await registry.forgetAccessLog();
    const second = push('cli/next');
    assert.deepEqual(second.blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    assert.deepEqual(mountsFrom(await registry.settledAccessLog(), 'cli/gone'), [202, 202], 'each blob asked for once, declined');
    await deleteBlobs('cli/next', second);
    await registry.forgetAccessLog();
    const third = push('cli/after');
    assert.deepEqual(third.blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    const log = await registry.settledAccessLog();
    assert.deepEqual(mountsFrom(log, 'cli/next'), [202, 202]);
    assert.deepEqual(mountsFrom(log, 'cli/gone'), [], 'a repository that declined is not asked again');
    await registry.forgetAccessLog();
    assert.deepEqual(push('cli/last').blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    assert.deepEqual(mountsFrom(await registry.settledAccessLog(), 'cli/after'), [201, 201]);
  });

  it('picks the image: --tag, the destination tag, or the only one; otherwise a usage error listing the choices', async () => {
    const two = umociImage(tmp.path, 'a', [1000], join(tmp.path, 'two'));
    umociImage(tmp.path, 'b', [1000], join(tmp.path, 'two'));
    const ambiguous = runCli(['push', `${registry.host}/cli/pick:x`, '--layout', two.layout]);
    assertOneLineError(ambiguous, /holds 2 images; name one with --tag \(a, b\)$/, 2);
    const byDestination = runCli(['push', `${registry.host}/cli/pick:a`, '--layout', two.layout]);
    assertOk(byDestination);
    assert.equal(byDestination.stdout.trim(), two.manifest.digest);
    const byFlag = runCli(['push', `${registry.host}/cli/pick:x`, '--layout', two.layout, '--tag', 'a']);
    assert.equal(byFlag.stdout.trim(), two.manifest.digest);
    const missing = runCli(['push', `${registry.host}/cli/pick:x`, '--layout', two.layout, '--tag', 'zzz']);
    assertOneLineError(missing, /no image tagged "zzz" \(the layout has: a, b\)$/);
    const wrongDigest = runCli(['push', `${registry.host}/cli/pick@sha256:${'0'.repeat(64)}`, '--layout', two.layout, '--tag', 'a']);
    assertOneLineError(wrongDigest, /the image to push has digest sha256:[0-9a-f]{64}, not sha256:0{64}$/, 2);
  });

  it('pushes what ocipush build made', async () => {
    const layout = join(tmp.path, 'built');
    const rootfs = join(tmp.path, 'rootfs-built');
    run('mkdir', ['-p', join(rootfs, 'etc')]);
    run('sh', ['-c', `echo hello > ${join(rootfs, 'etc', 'greeting')}`]);
    const built = runCli(['build', rootfs, '--layout', layout, '--json']);
    assertOk(built);
    const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
    const r = runCli(['push', `${registry.host}/cli/built:1`, '--layout', layout]);
    assertOk(r);
    assert.equal(r.stdout.trim(), digest);
    assert.equal(skopeoDigest(`${registry.host}/cli/built:1`), digest);
  });

  it('errors are one line with a non-zero exit: unknown host, nothing listening, a bad reference, a missing layout', async () => {
    assertOneLineError(await runCliAsync(['push', 'no-such-host.invalid/app:1', '--layout', image.layout]), /^ocipush: cannot reach no-such-host\.invalid: unknown host$/);
    // Nothing listens on the discard port; the port of a registry just stopped may already be
    // another test's server, as the harness hands out the same ephemeral ports.
    const host = '127.0.0.1:9';
    assertOneLineError(await runCliAsync(['push', `${host}/app:1`, '--layout', image.layout]), new RegExp(`^ocipush: cannot reach ${host.replace(/\./g, '\\.')}: connection refused \\(no registry listens there: start one, or check the port\\)$`));
    assertOneLineError(runCli(['push', 'UPPER CASE', '--layout', image.layout]), /^ocipush: invalid image reference "UPPER CASE"/, 2);
    assertOneLineError(runCli(['push', `${registry.host}/app:1`, '--layout', join(tmp.path, 'nowhere')]), /nowhere: not an OCI image layout \(no such directory\)$/);
    assertOneLineError(runCli(['push', `${registry.host}/app:1`, '--layout', tmp.path]), /: not an OCI image layout \(no oci-layout file\)$/);
    assertOneLineError(runCli(['push', `${registry.host}/app:1`, '--layout', image.layout, '--chunk-size', 'lots']), /--chunk-size "lots": expected a size/, 2);
  });

  it('a wrong --ca-file fails before any request, even to a registry that turns out to speak plain HTTP', async () => {
    const notPem = join(tmp.path, 'not-a-cert.pem');
    writeFileSync(notPem, 'hello\n');
    assertOneLineError(runCli(['push', `${registry.host}/app:1`, '--layout', image.layout, '--ca-file', join(tmp.path, 'absent.pem')]), /^ocipush: cannot read CA file .*absent\.pem: no such file or directory$/);
    assertOneLineError(runCli(['push', `${registry.host}/app:1`, '--layout', image.layout, '--ca-file', notPem]), /^ocipush: --ca-file .*not-a-cert\.pem: not a PEM certificate$/, 2);
    const log = await registry.settledAccessLog();
    assert.deepEqual(log.filter((e) => !e.uri.includes('harness-settle')), []);
  });
});
