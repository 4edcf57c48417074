import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';

/** The build's provenance statement, read from the layout's files, its DSSE signature checked by openssl over the PAE built here from the spec. */
function provenanceOf(layout: string, image: string, pub: string, work: string, referrer?: string): { predicate: Record<string, any> } {
  const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const referrers = index.manifests.filter((m: { artifactType?: string; digest: string }) => m.artifactType === 'application/vnd.dsse.envelope.v1+json' && (referrer === undefined || m.digest === referrer))
    .map((m: { digest: string }) => JSON.parse(readFileSync(blob(m.digest), 'utf8')))
    .filter((m: { subject?: { digest: string } }) => m.subject?.digest === image);
  assert.equal(referrers.length, 1);
  const envelope = JSON.parse(readFileSync(blob(referrers[0].layers[0].digest), 'utf8'));
  const payload = Buffer.from(envelope.payload, 'base64');
  writeFileSync(join(work, 'pae'), Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${payload.length} `), payload]));
  writeFileSync(join(work, 'pae.sig'), Buffer.from(envelope.signatures[0].sig, 'base64'));
  assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', join(work, 'pae.sig'), join(work, 'pae')]), /Verified OK/);
  const statement = JSON.parse(payload.toString('utf8'));
  assert.equal(statement.predicateType, 'https://slsa.dev/provenance/v1');
  assert.equal(statement.subject[0].digest.sha256, image.slice('sha256:'.length));
  return statement;
}

describe('build --provenance: what the SLSA provenance says of the build', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry | undefined;
  const env = { COSIGN_PASSWORD: 'prov-pw' };
  before(async () => {
    requireTool('openssl');
    requireTool('sha256sum');
    tmp = await tempDir('ocipush-build-provenance-');
    assert.equal(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }).status, 0);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('build -f names the Dockerfile by digest among the resolved dependencies, and its -f, --target and --build-arg in the external parameters', () => {
    const ctx = join(tmp.path, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    const dockerfile = join(tmp.path, 'app.Dockerfile');
    writeFileSync(dockerfile, 'FROM scratch AS one\nARG NAME\nCOPY a.txt /${NAME}.txt\nFROM scratch AS two\nCOPY a.txt /two.txt\n');
    const layout = join(tmp.path, 'df-layout');
    const built = runCli(['build', '-f', dockerfile, ctx, '--target', 'one', '--build-arg', 'NAME=first', '--layout', layout, '--tag', 'app',
      '--provenance', '--key', join(tmp.path, 'k.key'), '--json'], { env });
    assert.equal(built.status, 0, built.stderr);
    const { predicate } = provenanceOf(layout, JSON.parse(built.stdout).digest, join(tmp.path, 'k.pub'), tmp.path);
    const dockerfileSha = run('sha256sum', [dockerfile]).split(' ')[0];
    const deps = predicate.buildDefinition.resolvedDependencies as { uri: string; digest: { sha256: string } }[];
    // Before: only the COPY layer was named; a policy could not tell which Dockerfile made the image.
    assert.ok(deps.some((d) => d.digest.sha256 === dockerfileSha), `the Dockerfile by digest among ${JSON.stringify(deps)}`);
    const params = predicate.buildDefinition.externalParameters;
    assert.equal(params.file, dockerfile);
    assert.equal(params.target, 'one');
    assert.deepEqual(params.buildArgs, ['NAME=first']);
  });

  it('a rootfs build records the flags that change the image (--user, --workdir, --expose, --remove, --annotation, --owner), not only some', () => {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'app.txt'), 'app\n');
    const layout = join(tmp.path, 'rootfs-layout');
    const built = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--user', '0:0', '--workdir', '/srv', '--expose', '8080/tcp',
      '--remove', '/etc/motd', '--annotation', 'org.example.team=core', '--owner', '0:0', '--provenance', '--key', join(tmp.path, 'k.key'), '--json'], { env });
    assert.equal(built.status, 0, built.stderr);
    const image = JSON.parse(built.stdout).digest;
    const params = provenanceOf(layout, image, join(tmp.path, 'k.pub'), tmp.path).predicate.buildDefinition.externalParameters;
    // Before: a --user 0:0 build and one without it had the same external parameters.
    assert.equal(params.user, '0:0');
    assert.equal(params.workdir, '/srv');
    assert.deepEqual(params.expose, ['8080/tcp']);
    assert.deepEqual(params.remove, ['/etc/motd']);
    assert.deepEqual(params.annotations, ['org.example.team=core']);
    assert.equal(params.owner, '0:0');
    assert.equal(params.file, undefined, 'a flag not given is not recorded');
  });

  it('build -f names by digest every image whose files it copies (a builder stage\'s FROM, COPY --from=IMAGE), not only the final stage\'s base', async () => {
    registry = await startRegistry();
    const layout = join(tmp.path, 'images-layout');
    const digests: Record<string, string> = {};
    for (const name of ['builder', 'lib', 'runtime']) {
      const dir = join(tmp.path, `img-${name}`);
      mkdirSync(dir);
      writeFileSync(join(dir, `${name}.txt`), `${name}\n`);
      assert.equal(runCli(['build', dir, '--layout', layout, '--tag', name]).status, 0);
      assert.equal(runCli(['push', `${registry.host}/prov/${name}:1`, '--layout', layout, '--tag', name, '--quiet']).status, 0);
      digests[name] = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/prov/${name}:1`])).Digest;
    }
    const ctx = join(tmp.path, 'images-ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), [
      `FROM ${registry.host}/prov/builder:1 AS build`,
      `FROM ${registry.host}/prov/runtime:1`,
      'COPY --from=build /builder.txt /from-builder.txt',
      `COPY --from=${registry.host}/prov/lib:1 /lib.txt /lib.txt`,
      '',
    ].join('\n'));
    const built = runCli(['build', '-f', join(ctx, 'Dockerfile'), ctx, '--layout', layout, '--tag', 'app', '--provenance', '--key', join(tmp.path, 'k.key'), '--json'], { env });
    assert.equal(built.status, 0, built.stderr);
    const { predicate } = provenanceOf(layout, JSON.parse(built.stdout).digest, join(tmp.path, 'k.pub'), tmp.path);
    const deps = predicate.buildDefinition.resolvedDependencies as { uri: string; digest: { sha256: string } }[];
    // Before: only the runtime base; a policy allowing only trusted images never saw builder or lib.
    for (const name of ['runtime', 'builder', 'lib']) {
      const named = deps.filter((d) => d.digest.sha256 === digests[name]!.slice('sha256:'.length));
      assert.equal(named.length, 1, `${name} once among ${JSON.stringify(deps)}`);
      assert.match(named[0]!.uri, new RegExp(`/prov/${name}:1$`));
    }
  });

  it('a rebuild of the same image replaces the provenance an earlier build wrote for it, instead of adding one per run; an attestation made with attest stays', () => {
    const rootfs = join(tmp.path, 'rebuilt');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'same.txt'), 'same\n');
    const layout = join(tmp.path, 'rebuilt-layout');
    const build = () => {
      const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--provenance', '--key', join(tmp.path, 'k.key'), '--json'], { env });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { digest: string; provenance: { digest: string } };
    };
    const first = build();
    const predicate = join(tmp.path, 'hand-made.json');
    writeFileSync(predicate, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/ci/v1', externalParameters: {} }, runDetails: { builder: { id: 'https://example.com/ci' } } }));
    assert.equal(runCli(['attest', `oci:${layout}:app`, '--key', join(tmp.path, 'k.key'), '--type', 'slsaprovenance1', '--predicate', predicate], { env }).status, 0);
    build();
    const last = build();
    assert.equal(last.digest, first.digest, 'the same image each time');
    const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8'));
    const dsse = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests
      .filter((m: { artifactType?: string }) => m.artifactType === 'application/vnd.dsse.envelope.v1+json').map((m: { digest: string }) => m.digest);
    // Before: three build provenances and the hand-made one.
    assert.equal(dsse.length, 2, JSON.stringify(dsse));
    assert.ok(dsse.includes(last.provenance.digest), 'the last build\'s provenance is kept');
    const builders = dsse.map((d: string) => JSON.parse(Buffer.from(blob(blob(d).layers[0].digest).payload, 'base64').toString()).predicate.runDetails.builder.id).sort();
    assert.deepEqual(builders, ['https://example.com/ci', 'https://ocipush.dev/builder/cli']);
    assert.equal(provenanceOf(layout, last.digest, join(tmp.path, 'k.pub'), tmp.path, last.provenance.digest).predicate.runDetails.builder.id, 'https://ocipush.dev/builder/cli');
  });
});
