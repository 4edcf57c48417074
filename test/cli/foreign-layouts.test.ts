import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { podman } from '../archive/support.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

// Layouts other tools wrote, read and rewritten by ocipush's verbs, then read back by those tools.

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let built: string;
let digest: string;
let otherDigest: string;

const umociNames = (layout: string) => run('umoci', ['ls', '--layout', layout]).split('\n').filter(Boolean).sort();
const skopeoDigest = (ref: string) => (JSON.parse(run('skopeo', ['inspect', ref])) as { Digest: string }).Digest;
/** The digest skopeo computes of the manifest as it reads it (`skopeo inspect --raw`, then `skopeo manifest-digest`). */
const skopeoRawDigest = (args: string[]) => {
  const file = join(tmp.path, 'raw-manifest.json');
  writeFileSync(file, run('skopeo', ['inspect', '--raw', ...args]));
  return run('skopeo', ['manifest-digest', file]).trim();
};

before(async () => {
  tmp = await tempDir();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  built = join(tmp.path, 'built');
  const r = await runCliAsync(['build', rootfs, '--layout', built, '--tag', 'app', '--json']);
  assertOk(r);
  digest = (JSON.parse(r.stdout) as { digest: string }).digest;
  const otherRootfs = join(tmp.path, 'other-rootfs');
  mkdirSync(otherRootfs);
  writeFileSync(join(otherRootfs, 'other'), 'other\n');
  const other = await runCliAsync(['build', otherRootfs, '--layout', built, '--tag', 'other', '--json']);
  assertOk(other);
  otherDigest = (JSON.parse(other.stdout) as { digest: string }).digest;
  registry = await startRegistry();
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('layouts other tools wrote', () => {
  it('a name that is a full reference (skopeo and podman write them) is read as skopeo reads oci:DIR:NAME', async () => {
    const saved = join(tmp.path, 'saved');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${saved}:example.com/team/app:1`]);
    const inspected = await runCliAsync(['inspect', `oci:${saved}:example.com/team/app:1`, '--json']);
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, digest);

    const copied = join(tmp.path, 'copied');
    assertOk(await runCliAsync(['copy', `oci:${saved}:example.com/team/app:1`, `oci:${copied}:localhost/app:2`]));
    assert.equal(skopeoDigest(`oci:${copied}:localhost/app:2`), digest);
    assertOk(await runCliAsync(['tag', `oci:${copied}:localhost/app:2`, 'localhost/app:latest']));
    assert.deepEqual(umociNames(copied), ['localhost/app:2', 'localhost/app:latest']);
    assertOk(await runCliAsync(['delete', `oci:${copied}:localhost/app:2`]));
    assert.deepEqual(umociNames(copied), ['localhost/app:latest']);
    assert.equal(skopeoDigest(`oci:${copied}:localhost/app:latest`), digest);
  });

  it('copy --all-tags from a layout into a layout keeps every name whole, two repositories\' same tag included', async () => {
    const saved = join(tmp.path, 'two-repositories');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${saved}:localhost/app:1`]);
    run('skopeo', ['copy', `oci:${built}:other`, `oci:${saved}:localhost/other:1`]);
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${saved}:v1`]);
    const mirror = join(tmp.path, 'mirror');
    assertOk(await runCliAsync(['copy', '--all-tags', `oci:${saved}`, `oci:${mirror}`]));
    assert.deepEqual(umociNames(mirror), ['localhost/app:1', 'localhost/other:1', 'v1']);
    assert.equal(skopeoDigest(`oci:${mirror}:localhost/app:1`), digest);
    assert.equal(skopeoDigest(`oci:${mirror}:localhost/other:1`), otherDigest);
    assert.equal(skopeoDigest(`oci:${mirror}:v1`), digest);
  });
});

describe('layouts podman saved', () => {
  it('podman save --format oci-dir names the image host:port/repo:tag: ocipush reads that name, and an oci-archive copied from it keeps it for podman load; a docker-dir is named as such', async () => {
    const p = podman(join(tmp.path, 'podman'));
    try {
      const name = 'localhost:5000/team/app:1';
      const exported = join(tmp.path, 'exported.tar');
      assertOk(await runCliAsync(['export', `oci:${built}:app=${name}`, '-o', exported, '-q']));
      p.run(['load', '-q', '-i', exported]);
      const saved = join(tmp.path, 'podman-oci-dir');
      p.run(['save', '--format', 'oci-dir', '-o', saved, name]);
      assert.deepEqual(umociNames(saved), [name]);
      const inspected = await runCliAsync(['inspect', `oci:${saved}:${name}`, '--json']);
      assertOk(inspected);
      const savedDigest = (JSON.parse(inspected.stdout) as { digest: string }).digest;
      assert.equal(savedDigest, skopeoDigest(`oci:${saved}:${name}`));

      const archive = join(tmp.path, 'from-podman-dir.tar');
      assertOk(await runCliAsync(['copy', '-q', `oci:${saved}:${name}`, `oci-archive:${archive}`]));
      assert.equal(skopeoDigest(`oci-archive:${archive}:${name}`), savedDigest);
      p.run(['rmi', name]);
      assert.match(p.run(['load', '-i', archive]), new RegExp(`Loaded image: ${name}\n`));

      // podman save --format docker-dir writes skopeo's dir: transport, which ocipush does not
      // read: a path is said to be one, not taken for the registry host ".".
      p.run(['save', '--format', 'docker-dir', '-o', join(tmp.path, 'docker-dir'), name]);
      for (const args of [['inspect', './docker-dir'], ['copy', '-q', './docker-dir', `oci:${join(tmp.path, 'never')}`], ['rootfs', './docker-dir', '-o', join(tmp.path, 'never.tar')]]) {
        assertOneLineError(await runCliAsync(args, { cwd: tmp.path }), /^ocipush: \.\/docker-dir: a directory of skopeo's dir: transport \(manifest\.json and version\), which ocipush does not read/);
      }
      assertOneLineError(await runCliAsync(['inspect', './from-podman-dir.tar'], { cwd: tmp.path }), /^ocipush: \.\/from-podman-dir\.tar: a file, not an image reference: name an archive as oci-archive:/, 2);
      assertOneLineError(await runCliAsync(['ls', './docker-dir'], { cwd: tmp.path }), /^ocipush: invalid image reference "\.\/docker-dir": a path, not a reference/, 2);
      assert.equal(existsSync(join(tmp.path, 'never')), false);
      assert.equal(existsSync(join(tmp.path, 'never.tar')), false);
    } finally {
      p.cleanup();
    }
  });
});

describe('named entries that carry an artifactType (oras push --oci-layout DIR:TAG writes them)', () => {
  it('the only named artifact of a layout is what push and copy take', async () => {
    const layout = join(tmp.path, 'artifact');
    writeFileSync(join(tmp.path, 'notes.txt'), 'notes\n');
    const pushed = await runCliAsync(['artifact', 'push', `oci:${layout}:cfg`, '--artifact-type', 'application/vnd.example.config', join(tmp.path, 'notes.txt'), '--json']);
    assertOk(pushed);
    const artifact = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    assertOk(await runCliAsync(['push', `oci:${layout}`, `${registry.host}/notes:cfg`]));
    assert.equal((JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/notes:cfg`])) as { artifactType: string }).artifactType, 'application/vnd.example.config');
    assert.equal(skopeoRawDigest(['--tls-verify=false', `docker://${registry.host}/notes:cfg`]), artifact);
    const copied = join(tmp.path, 'artifact-copy');
    assertOk(await runCliAsync(['copy', `oci:${layout}`, `oci:${copied}:notes`]));
    assert.deepEqual(umociNames(copied), ['notes']);
  });

  it('a named referrer stays when its subject\'s name is deleted, and gc keeps its blobs', async () => {
    const layout = join(tmp.path, 'with-sbom');
    assertOk(await runCliAsync(['build', join(tmp.path, 'rootfs'), '--layout', layout, '--tag', 'app', '--sbom']));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; artifactType?: string }[] };
    const sbom = index.manifests.find((d) => d.artifactType !== undefined)!.digest;
    // Named as oras tag names a manifest in a layout: the entry keeps its artifactType.
    assertOk(await runCliAsync(['tag', `oci:${layout}@${sbom}`, 'sbom']));
    assertOk(await runCliAsync(['delete', `oci:${layout}:app`]));
    assert.deepEqual(umociNames(layout), ['sbom']);
    assertOk(await runCliAsync(['gc', '--layout', layout]));
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:sbom`])) as { layers: { digest: string }[] };
    assert.equal(skopeoRawDigest([`oci:${layout}:sbom`]), sbom);
    assert.ok(existsSync(join(layout, 'blobs', 'sha256', manifest.layers[0]!.digest.slice('sha256:'.length))), 'the SBOM document is still in the layout');
  });
});

describe('gc of a layout oras 1.0 release candidates wrote', () => {
  it('keeps the blobs of an OCI artifact manifest (image-spec 1.1-rc: blobs, subject) that index.json names', async () => {
    const layout = join(tmp.path, 'oras-rc');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${layout}:app`]);
    // What `oras push --oci-layout` of oras 1.0.0-rc wrote: an artifact manifest, named, its file a blob.
    const put = (bytes: Buffer) => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const file = put(Buffer.from('release notes\n'));
    const manifest = Buffer.from(JSON.stringify({
      mediaType: 'application/vnd.oci.artifact.manifest.v1+json',
      artifactType: 'application/vnd.example.notes',
      blobs: [{ mediaType: 'text/plain', ...file, annotations: { 'org.opencontainers.image.title': 'notes.txt' } }],
    }));
    const entry = { mediaType: 'application/vnd.oci.artifact.manifest.v1+json', ...put(manifest), artifactType: 'application/vnd.example.notes', annotations: { 'org.opencontainers.image.ref.name': 'notes' } };
    const stray = put(Buffer.from('nothing names me\n'));
    const indexPath = join(layout, 'index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: unknown[] };
    index.manifests.push(entry);
    writeFileSync(indexPath, JSON.stringify(index));

    const r = await runCliAsync(['gc', '--layout', layout, '--json', '--prune=now']);
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as { removed: { digest: string }[] }).removed.map((b) => b.digest), [stray.digest]);
    assert.ok(existsSync(join(layout, 'blobs', 'sha256', file.digest.slice('sha256:'.length))), 'the artifact\'s file is kept');
    assert.deepEqual(umociNames(layout), ['app', 'notes']);
    assert.equal(skopeoDigest(`oci:${layout}:app`), digest);
  });

  // digest, manifest and inspect --raw parsed the manifest first: 'unsupported schemaVersion
  // undefined', where crane and oras print any manifest's bytes and a registry's were printed so.
  it('digest, manifest and inspect --raw print such an artifact manifest as stored, of the layout and of its archive', async () => {
    const layout = join(tmp.path, 'oras-rc-read');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${layout}:app`]);
    const put = (bytes: Buffer) => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const file = put(Buffer.from('release notes\n'));
    const manifest = Buffer.from(JSON.stringify({
      mediaType: 'application/vnd.oci.artifact.manifest.v1+json',
      artifactType: 'application/vnd.example.notes',
      blobs: [{ mediaType: 'text/plain', ...file }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1 },
    }, null, 1));
    const stored = put(manifest);
    const indexPath = join(layout, 'index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: unknown[] };
    index.manifests.push({ mediaType: 'application/vnd.oci.artifact.manifest.v1+json', ...stored, artifactType: 'application/vnd.example.notes', annotations: { 'org.opencontainers.image.ref.name': 'notes' } });
    writeFileSync(indexPath, JSON.stringify(index));
    const manifestFile = join(tmp.path, 'oras-rc-manifest.json');
    writeFileSync(manifestFile, manifest);
    assert.equal(run('skopeo', ['manifest-digest', manifestFile]).trim(), stored.digest);
    const archive = join(tmp.path, 'oras-rc.tar');
    run('tar', ['-C', layout, '-cf', archive, '.']);

    for (const ref of [`oci:${layout}:notes`, `oci-archive:${archive}:notes`]) {
      const printed = await runCliAsync(['digest', ref, '--json']);
      assertOk(printed);
      assert.deepEqual(JSON.parse(printed.stdout), { reference: ref, digest: stored.digest, size: stored.size, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' });
      for (const args of [['manifest', ref], ['inspect', '--raw', ref]]) {
        const raw = await runCliAsync(args);
        assertOk(raw);
        assert.equal(raw.stdout, manifest.toString(), args.join(' '));
      }
    }
    // The image beside it is read as before.
    assert.equal((await runCliAsync(['digest', `oci:${layout}:app`])).stdout, `${digest}\n`);
    assert.deepEqual(umociNames(layout), ['app', 'notes']);
  });
});

describe('layouts umoci made', () => {
  it('umoci init\'s layout ("manifests": null) is a layout with no image: ls, gc, build into it, and umoci reads what ocipush wrote', async () => {
    const layout = join(tmp.path, 'umoci-init');
    run('umoci', ['init', '--layout', layout]);
    const listed = await runCliAsync(['ls', `oci:${layout}`, '--json']);
    assertOk(listed);
    assert.deepEqual(JSON.parse(listed.stdout), []);
    assertOneLineError(await runCliAsync(['inspect', `oci:${layout}`]), /the layout holds no image/);
    const archive = join(tmp.path, 'umoci-init.tar');
    run('tar', ['-C', layout, '-cf', archive, '.']);
    assertOneLineError(await runCliAsync(['inspect', `oci-archive:${archive}`]), /: the archive holds no image$/);
    assertOk(await runCliAsync(['gc', '--layout', layout]));
    assertOk(await runCliAsync(['build', join(tmp.path, 'rootfs'), '--layout', layout, '--tag', 'app']));
    assert.deepEqual(umociNames(layout), ['app']);
    // Named bare, as inspect and push take a directory holding a layout, and as umoci ls --layout DIR reads it.
    for (const named of [layout, `./${relative(process.cwd(), layout)}`]) {
      const bare = await runCliAsync(['ls', named]);
      assertOk(bare);
      assert.deepEqual(bare.stdout.trim().split('\n'), umociNames(layout), named);
    }
    const bundle = join(tmp.path, 'umoci-bundle');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:app`, bundle]);
    assert.equal(readFileSync(join(bundle, 'rootfs', 'hello'), 'utf8'), 'hello\n');
    // umoci rm of the last name writes null again: still a layout with no image.
    run('umoci', ['rm', '--image', `${layout}:app`]);
    assert.deepEqual(JSON.parse((await runCliAsync(['ls', `oci:${layout}`, '--json'])).stdout), []);
  });
});

describe('push from a layout buildah or podman named', () => {
  it('push oci:DIR reg/team/app:1 takes the image named localhost/app:1 when the layout holds several', async () => {
    const layout = join(tmp.path, 'buildah-pushed');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${layout}:localhost/app:1`]);
    run('skopeo', ['copy', `oci:${built}:other`, `oci:${layout}:localhost/other:1`]);
    assertOk(await runCliAsync(['push', `oci:${layout}`, `${registry.host}/team/app:1`]));
    assert.equal(skopeoRawDigest(['--tls-verify=false', `docker://${registry.host}/team/app:1`]), digest);
    assertOk(await runCliAsync(['push', layout, `${registry.host}/team/other:1`]));
    assert.equal(skopeoRawDigest(['--tls-verify=false', `docker://${registry.host}/team/other:1`]), otherDigest);
  });
});
