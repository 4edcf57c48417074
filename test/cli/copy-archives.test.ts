import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir, validateLayout } from '../support/tools.js';
import { MiB, multiPlatformImage, skopeoDigest, skopeoRawManifest, umociImage, type MultiPlatformImage, type UmociImage } from '../registry/support.js';
import { podman, skopeo } from '../archive/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';

interface CopyJson { digest: string; blobs: { outcome: string }[] }

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let multi: MultiPlatformImage;
let registry: RunningRegistry;
const env = envWith();

/** The image's config digest, as skopeo reads it from any transport. */
function configDigest(transportRef: string): string {
  const config = skopeo(['inspect', '--config', '--raw', '--tls-verify=false', transportRef]);
  return sha256(Buffer.from(config));
}

function diffIds(transportRef: string): string[] {
  return (JSON.parse(skopeo(['inspect', '--config', '--raw', '--tls-verify=false', transportRef])) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [1.2 * MiB, 200_000]);
  multi = await multiPlatformImage(join(tmp.path, 'multi'), 'multi');
  registry = await startRegistry();
  assertOk(await runCliAsync(['push', `${registry.host}/src/app:1`, '--layout', image.layout], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/src/multi:1`, '--layout', join(tmp.path, 'multi'), '--tag', 'multi'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('docker-archive', () => {
  it('a podman save archive goes to a registry (read in place) and comes back loadable by podman load', async () => {
    const p = podman(join(tmp.path, 'podman-save'));
    try {
      p.run(['pull', '--tls-verify=false', `${registry.host}/src/app:1`]);
      const archive = join(tmp.path, 'podman.tar');
      p.run(['save', '--format', 'docker-archive', '-o', archive, `${registry.host}/src/app:1`]);
      const id = p.run(['inspect', '--format', '{{.Id}}', `${registry.host}/src/app:1`]).trim();

      const up = await runCliAsync(['copy', `docker-archive:${archive}`, `${registry.host}/from-podman/app:1`, '--json'], { env });
      assertOk(up);
      assert.equal(configDigest(`docker://${registry.host}/from-podman/app:1`), `sha256:${id}`, 'the image ID (config) is kept');
      assert.deepEqual(diffIds(`docker://${registry.host}/from-podman/app:1`), diffIds(`docker://${registry.host}/src/app:1`));

      // docker save to OCI in one command: the same config and layers, under OCI media types.
      const converted = join(tmp.path, 'from-podman-oci');
      assertOk(await runCliAsync(['mutate', `docker-archive:${archive}`, `oci:${converted}:app`, '--format', 'oci'], { env }));
      validateLayout(converted, 'app');
      const ociManifest = JSON.parse(skopeo(['inspect', '--raw', `oci:${converted}:app`])) as { mediaType: string; config: { digest: string }; layers: { mediaType: string }[] };
      assert.equal(ociManifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      // podman's archive holds the layers uncompressed; their bytes (and digests) stay as they are.
      assert.deepEqual(ociManifest.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar']);
      assert.equal(ociManifest.config.digest, `sha256:${id}`, 'the config bytes are kept');

      const inspected = await runCliAsync(['inspect', `docker-archive:${archive}`, '--json'], { env });
      assertOk(inspected);
      assert.equal((JSON.parse(inspected.stdout) as { manifest: { layers: unknown[] } }).manifest.layers.length, 2);

      const back = join(tmp.path, 'back.tar');
      assertOk(await runCliAsync(['copy', `${registry.host}/from-podman/app:1`, `docker-archive:${back}:localhost/back:1`], { env }));
      const q = podman(join(tmp.path, 'podman-load'));
      try {
        q.run(['load', '-i', back]);
        assert.equal(q.run(['inspect', '--format', '{{.Id}}', 'localhost/back:1']).trim(), id);
      } finally {
        q.cleanup();
      }
    } finally {
      p.cleanup();
    }
  });

  it('a skopeo docker-archive goes to a registry and back, which skopeo reads', async () => {
    const archive = join(tmp.path, 'skopeo.tar');
    skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/src/app:1`, `docker-archive:${archive}:sk/app:1`]);
    assertOk(await runCliAsync(['copy', `docker-archive:${archive}:sk/app:1`, `${registry.host}/from-skopeo/app:1`], { env }));
    const config = configDigest(`docker-archive:${archive}`);
    assert.equal(configDigest(`docker://${registry.host}/from-skopeo/app:1`), config);
    const back = join(tmp.path, 'skopeo-back.tar');
    assertOk(await runCliAsync(['copy', `${registry.host}/from-skopeo/app:1`, `docker-archive:${back}`], { env }));
    assert.equal(configDigest(`docker-archive:${back}`), config);
  });

  it('an archive ocipush wrote goes back with the manifest digest it came with', async () => {
    const archive = join(tmp.path, 'own.tar');
    assertOk(await runCliAsync(['copy', `${registry.host}/src/app:1`, `docker-archive:${archive}:own/app:1`], { env }));
    const r = await runCliAsync(['copy', `docker-archive:${archive}:own/app:1`, `${registry.host}/own/app:1`, '--json'], { env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as CopyJson).digest, image.manifest.digest);
  });

  it('an index to a docker archive needs one platform; --platform picks it', async () => {
    const archive = join(tmp.path, 'arm.tar');
    assertOk(await runCliAsync(['copy', `${registry.host}/src/multi:1`, `docker-archive:${archive}:multi:arm`, '--platform', 'linux/arm64'], { env }));
    const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    const manifest = JSON.parse(readFileSync(join(tmp.path, 'multi', 'blobs', 'sha256', arm.digest.slice(7)), 'utf8')) as { config: { digest: string } };
    assert.equal(sha256(Buffer.from(skopeo(['inspect', '--config', '--raw', `docker-archive:${archive}`]))), manifest.config.digest);
  });

  it('a two-image archive (ocipush export): the image is chosen by NAME:TAG; none named is one line listing them', async () => {
    const two = umociImage(tmp.path, 'v2', [100_000], image.layout);
    const archive = join(tmp.path, 'two.tar');
    assertOk(await runCliAsync(['export', 'v1=team/one:1', 'v2=team/two:2', '-o', archive, '--layout', image.layout], { env }));
    const r = await runCliAsync(['copy', `docker-archive:${archive}:team/two:2`, `${registry.host}/two/app:2`, '--json'], { env });
    assertOk(r);
    // No manifest in a classic archive: one is made, with the image's config and layers as stored.
    assert.equal(configDigest(`docker://${registry.host}/two/app:2`), two.config);
    assert.deepEqual(JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/two/app:2`])).Layers, two.layers);
    // docker save ≥ 25 (export --oci-layout) stores the manifests too: the image keeps its digest.
    const withManifests = join(tmp.path, 'two-oci.tar');
    assertOk(await runCliAsync(['export', 'v1=team/one:1', 'v2=team/two:2', '--oci-layout', '-o', withManifests, '--layout', image.layout], { env }));
    const kept = await runCliAsync(['copy', `docker-archive:${withManifests}:team/two:2`, `${registry.host}/two/app:kept`, '--json'], { env });
    assertOk(kept);
    assert.equal((JSON.parse(kept.stdout) as CopyJson).digest, two.manifest.digest);
    assertOneLineError(await runCliAsync(['copy', `docker-archive:${archive}`, `${registry.host}/two/app:3`], { env }), /holds 2 images, name one \(team\/one:1, team\/two:2\)/);
  });

  it('an artifact is not an image: one line, and no archive podman load would refuse', async () => {
    const file = join(tmp.path, 'notes.txt');
    writeFileSync(file, 'release notes\n');
    assertOk(await runCliAsync(['artifact', 'push', `${registry.host}/art/notes:1`, file, '--artifact-type', 'application/vnd.example.notes'], { env }));
    // skopeo refuses too ("unsupported image-specific operation on artifact"); what it reads is the artifact.
    assert.equal(JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/notes:1`])).config.mediaType, 'application/vnd.oci.empty.v1+json');
    const archive = join(tmp.path, 'notes.tar');
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/art/notes:1`, `docker-archive:${archive}:notes:1`], { env }),
      /art\/notes:1 is not a container image \(config media type application\/vnd\.oci\.empty\.v1\+json\); a docker archive holds only images$/);
    assert.equal(existsSync(archive), false, 'no archive is left behind');
  });

  it('a file that is not an archive: one line', async () => {
    assertOneLineError(await runCliAsync(['copy', `docker-archive:${image.layout}/index.json`, `${registry.host}/x/y:1`], { env }), /not a (readable tar|docker) archive/);
  });
});

describe('oci-archive', () => {
  it('round trip: registry → oci-archive (skopeo reads it) → registry, the same digest', async () => {
    const archive = join(tmp.path, 'oci.tar');
    assertOk(await runCliAsync(['copy', `${registry.host}/src/multi:1`, `oci-archive:${archive}:v1`], { env }));
    assert.equal(sha256(Buffer.from(skopeo(['inspect', '--raw', `oci-archive:${archive}:v1`]))), multi.index.digest);
    const r = await runCliAsync(['copy', `oci-archive:${archive}:v1`, `${registry.host}/from-oci/multi:1`, '--json'], { env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as CopyJson).digest, multi.index.digest);
    assert.equal(skopeoRawManifest(`${registry.host}/from-oci/multi:1`).digest, multi.index.digest);
  });

  it('reads the oci-archive skopeo writes; inspect reads it too', async () => {
    const archive = join(tmp.path, 'skopeo-oci.tar');
    skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/src/app:1`, `oci-archive:${archive}:x`]);
    const digest = sha256(Buffer.from(skopeo(['inspect', '--raw', `oci-archive:${archive}:x`])));
    assertOk(await runCliAsync(['copy', `oci-archive:${archive}:x`, `${registry.host}/from-skopeo-oci/app:1`], { env }));
    assert.equal(skopeoDigest(`${registry.host}/from-skopeo-oci/app:1`), digest);
    const inspected = await runCliAsync(['inspect', `oci-archive:${archive}:x`, '--json'], { env });
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, digest);
  });
});

describe('what refers to the image', () => {
  it('a signature an archive cannot hold is named in a warning, not dropped without a word', async () => {
    const keyEnv = { ...env, COSIGN_PASSWORD: 'archive-pw' };
    const prefix = join(tmp.path, 'archive-key');
    assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', prefix], { env: keyEnv }));
    assertOk(await runCliAsync(['copy', `${registry.host}/src/app:1`, `${registry.host}/signed/app:1`], { env }));
    assertOk(await runCliAsync(['sign', `${registry.host}/signed/app:1`, '--key', `${prefix}.key`], { env: keyEnv }));
    const digest = skopeoDigest(`${registry.host}/signed/app:1`);
    const sigTag = `${digest.replace(':', '-')}.sig`;
    for (const transport of ['oci-archive', 'docker-archive']) {
      const archive = join(tmp.path, `signed-${transport}.tar`);
      const r = await runCliAsync(['copy', '-q', `${registry.host}/signed/app:1`, `${transport}:${archive}`], { env });
      assertOk(r);
      assert.equal(r.stderr.trim(), `ocipush: warning: 1 referrer not copied (${sigTag}): ${transport}:${archive} holds the image only; copy to oci:DIR to carry signatures, attestations and SBOMs`);
      // The archive is the image alone, as skopeo reads it.
      assert.equal(configDigest(`${transport}:${archive}`), configDigest(`docker://${registry.host}/signed/app:1`));
      if (transport === 'oci-archive') assert.equal(sha256(Buffer.from(skopeo(['inspect', '--raw', `${transport}:${archive}`]))), digest);
      const quiet = await runCliAsync(['copy', '-q', '--no-referrers', `${registry.host}/signed/app:1`, `${transport}:${archive}`], { env });
      assertOk(quiet);
      assert.equal(quiet.stderr, '', '--no-referrers asks for the image alone');
    }
    const unsigned = await runCliAsync(['copy', '-q', `${registry.host}/src/app:1`, `oci-archive:${join(tmp.path, 'unsigned.tar')}`], { env });
    assertOk(unsigned);
    assert.equal(unsigned.stderr, '');
  });
});

describe('oci layout', () => {
  it('registry → oci:DIR:NAME (skopeo reads it) → registry, the same digest', async () => {
    const dir = join(tmp.path, 'copied-layout');
    assertOk(await runCliAsync(['copy', `${registry.host}/src/multi:1`, `oci:${dir}:copied`], { env }));
    assert.equal(sha256(Buffer.from(skopeo(['inspect', '--raw', `oci:${dir}:copied`]))), multi.index.digest);
    const r = await runCliAsync(['copy', `oci:${dir}:copied`, `docker://${registry.host}/from-layout/multi:1`, '--json'], { env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as CopyJson).digest, multi.index.digest);
  });
  it('a Docker image copied or pulled into a layout or an OCI archive keeps its bytes, and a line says skopeo cannot read it there and what makes it OCI, which skopeo then reads', async () => {
    const archive = join(tmp.path, 'v2s2.tar');
    skopeo(['copy', '--format', 'v2s2', `oci:${image.layout}:v1`, `docker-archive:${archive}:v2/app:1`]);
    const dir = join(tmp.path, 'docker-typed-layout');
    const note = (name: string, kind: string) => new RegExp(`^oci:${dir}:${name} is ${kind}, kept as the source has it \\(the same digest\\): ocipush and crane read it in the layout, skopeo's and umoci's oci: do not; ocipush mutate oci:${dir}:${name} --format oci makes it OCI \\(a new digest\\)$`, 'm');
    const copied = await runCliAsync(['copy', `docker-archive:${archive}`, `oci:${dir}:app`], { env });
    assertOk(copied);
    assert.match(copied.stderr, note('app', 'a Docker v2 schema 2 manifest'));
    assertOk(await runCliAsync(['copy', `docker-archive:${archive}`, `${registry.host}/v2s2/app:1`], { env }));
    const pulled = await runCliAsync(['pull', `${registry.host}/v2s2/app:1`, `oci:${dir}:pulled`], { env });
    assertOk(pulled);
    assert.match(pulled.stderr, note('pulled', 'a Docker v2 schema 2 manifest'));
    // What the line says of skopeo is so, and the command it names is the way out.
    assert.throws(() => skopeo(['inspect', `oci:${dir}:app`]), /no descriptor found/);
    assertOk(await runCliAsync(['mutate', `oci:${dir}:app`, '--format', 'oci'], { env }));
    assert.equal(JSON.parse(skopeo(['inspect', '--raw', `oci:${dir}:app`])).mediaType, 'application/vnd.oci.image.manifest.v1+json');
    validateLayout(dir, 'app');
    // Pulled by digest, the image has no name in the layout for mutate to move: the command names one.
    const digest = skopeoDigest(`${registry.host}/v2s2/app:1`);
    const byDigest = await runCliAsync(['pull', `${registry.host}/v2s2/app:1`, `oci:${dir}@${digest}`], { env });
    assertOk(byDigest);
    const named = new RegExp(`^oci:\\S+@${digest} is a Docker v2 schema 2 manifest, .* ocipush (mutate oci:\\S+@${digest} oci:\\S+:NAME --format oci) makes it OCI \\(a new digest\\)$`, 'm').exec(byDigest.stderr);
    assert.ok(named, byDigest.stderr);
    assertOk(await runCliAsync(named[1]!.replace(/:NAME /, ':from-digest ').split(' '), { env }));
    assert.equal(JSON.parse(skopeo(['inspect', '--raw', `oci:${dir}:from-digest`])).mediaType, 'application/vnd.oci.image.manifest.v1+json');
    // An OCI archive the same: skopeo's oci-archive: reads OCI manifests only, and the line's command
    // writes the archive again with OCI media types.
    const ociArchive = join(tmp.path, 'docker-typed.tar');
    const toArchive = await runCliAsync(['copy', `docker-archive:${archive}`, `oci-archive:${ociArchive}:app`], { env });
    assertOk(toArchive);
    assert.throws(() => skopeo(['inspect', `oci-archive:${ociArchive}:app`]), /no descriptor found/);
    const advice = new RegExp(`^oci-archive:${ociArchive}:app is a Docker v2 schema 2 manifest, kept as the source has it \\(the same digest\\): ocipush and podman load read it in the archive, skopeo's oci-archive: does not; ocipush (mutate docker-archive:\\S+ oci-archive:\\S+ --format oci) makes it OCI \\(a new digest\\)$`, 'm').exec(toArchive.stderr);
    assert.ok(advice, toArchive.stderr);
    assertOk(await runCliAsync(advice[1]!.split(' '), { env }));
    assert.equal(JSON.parse(skopeo(['inspect', '--raw', `oci-archive:${ociArchive}:app`])).mediaType, 'application/vnd.oci.image.manifest.v1+json');
    // An OCI image copied into a layout gets no such line.
    const oci = await runCliAsync(['copy', `${registry.host}/src/app:1`, `oci:${dir}:oci`], { env });
    assertOk(oci);
    assert.doesNotMatch(oci.stderr, /skopeo/);
  });
});

