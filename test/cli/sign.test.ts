import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, multiPlatformImage, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { opensslVerifiedSignatures, storeCosignSignature } from './signature-support.js';

interface OciManifest { layers: { mediaType: string; digest: string; annotations?: Record<string, string> }[] }

describe('ocipush sign / verify against docker-registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let first: UmociImage;
  let second: UmociImage;
  const env = { COSIGN_PASSWORD: 'pw-for-tests' };
  let keyA: string;
  let pubA: string;
  let keyB: string;
  let pubB: string;
  let pubC: string;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    first = umociImage(tmp.path, 'one', [10_000]);
    second = umociImage(tmp.path, 'two', [20_000]);
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'a')], { env }));
    [keyA, pubA] = [join(tmp.path, 'a.key'), join(tmp.path, 'a.pub')];
    requireTool('openssl');
    // B: a plain PKCS#8 key as openssl writes it (no password); C: a key nobody signed with.
    for (const name of ['b', 'c']) {
      run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tmp.path, `${name}.pem`)]);
      run('openssl', ['pkey', '-in', join(tmp.path, `${name}.pem`), '-pubout', '-out', join(tmp.path, `${name}.pub`)]);
    }
    [keyB, pubB, pubC] = [join(tmp.path, 'b.pem'), join(tmp.path, 'b.pub'), join(tmp.path, 'c.pub')];
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** The .sig image as skopeo copies it out of the registry: its manifest and blob files. */
  function skopeoSignatureImage(repo: string, digest: string, dir: string): { manifest: OciManifest; blob: (d: string) => Buffer } {
    requireTool('skopeo');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/${repo}:${digest.replace(':', '-')}.sig`, `oci:${dir}:sig`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(blobPath(dir, index.manifests[0]!.digest), 'utf8')) as OciManifest;
    return { manifest, blob: (d) => readFileSync(blobPath(dir, d)) };
  }

  it('signs the digest a tag points at as cosign stores it; openssl checks the signature over the exact payload', () => {
    const ref = `${registry.host}/sc/app:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const r = runCli(['sign', ref, '--key', keyA], { env });
    assertOk(r);
    assert.equal(r.stdout, `${first.manifest.digest}\n`);
    assert.doesNotMatch(r.stdout + r.stderr, /pw-for-tests|PRIVATE/);
    const verified = runCli(['verify', ref, '--key', pubA]);
    assertOk(verified);
    assert.match(verified.stderr, /^verified .*: 1 valid signature by .*a\.pub\n$/);

    const image = skopeoSignatureImage('sc/app', first.manifest.digest, join(tmp.path, 'sig-a'));
    assert.equal(image.manifest.layers.length, 1);
    const [layer] = image.manifest.layers;
    assert.equal(layer!.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    const payloadFile = join(tmp.path, 'payload-a');
    const sigFile = join(tmp.path, 'sig-a.der');
    writeFileSync(payloadFile, image.blob(layer!.digest));
    writeFileSync(sigFile, Buffer.from(layer!.annotations!['dev.cosignproject.cosign/signature']!, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pubA, '-signature', sigFile, payloadFile]), /Verified OK/);
    const payload = JSON.parse(readFileSync(payloadFile, 'utf8'));
    assert.deepEqual(payload, {
      critical: {
        identity: { 'docker-reference': `${registry.host}/sc/app` },
        image: { 'docker-manifest-digest': first.manifest.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    });
  });

  it('--sign-container-identity names another repository in the payload, as cosign\'s flag does; a tag there is refused', () => {
    const ref = `${registry.host}/sc/proxied:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', ref, '--key', keyA, '--sign-container-identity', 'mirror.example.com/team/app:1'], { env }), /--sign-container-identity mirror\.example\.com\/team\/app:1: a repository, without a tag or digest/, 2);
    assertOk(runCli(['sign', ref, '--key', keyA, '--sign-container-identity', 'mirror.example.com/team/app'], { env }));
    const image = skopeoSignatureImage('sc/proxied', first.manifest.digest, join(tmp.path, 'sig-identity'));
    const payload = JSON.parse(image.blob(image.manifest.layers[0]!.digest).toString('utf8'));
    assert.equal(payload.critical.identity['docker-reference'], 'mirror.example.com/team/app');
    assert.equal(payload.critical.image['docker-manifest-digest'], first.manifest.digest);
  });

  it('appends to the signatures already there; each key verifies; --json lists what was verified; another key fails', () => {
    const ref = `${registry.host}/sc/app:1`;
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'build=42']));
    const image = skopeoSignatureImage('sc/app', first.manifest.digest, join(tmp.path, 'sig-ab'));
    assert.equal(image.manifest.layers.length, 2);
    assertOk(runCli(['verify', ref, '--key', pubA]));
    const json = runCli(['verify', ref, '--key', pubB, '--json']);
    assertOk(json);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.digest, first.manifest.digest);
    assert.deepEqual(doc.verified.map((v: { optional: unknown }) => v.optional), [{ build: '42' }]);
    assertOneLineError(runCli(['verify', ref, '--key', pubC]), /^ocipush: verify .*\/sc\/app@sha256:[0-9a-f]{64}: none of 2 signatures verifies: not signed by this key$/);
    // -a, as cosign verify -a: only a signature whose payload claims the pair counts.
    assertOk(runCli(['verify', ref, '--key', pubB, '-a', 'build=42']));
    assertOneLineError(runCli(['verify', ref, '--key', pubB, '-a', 'build=43']), /none of 2 signatures verifies: not signed by this key; signed by this key without the annotation build=43$/);
    assertOneLineError(runCli(['verify', ref, '--key', pubA, '-a', 'build=42']), /signed by this key without the annotation build=42/);
  });

  it('a third signature is appended reading the .sig manifest only, not every earlier payload', async () => {
    const ref = `${registry.host}/sc/append:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', ref, '--key', keyA], { env }));
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'build=42']));
    await registry.forgetAccessLog();
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'build=43']));
    const gets = (await registry.settledAccessLog()).filter((e) => e.method === 'GET' && e.path.includes('/blobs/')).map((e) => e.path);
    assert.deepEqual(gets, [], 'no payload fetched');
    const image = skopeoSignatureImage('sc/append', first.manifest.digest, join(tmp.path, 'sig-abb'));
    assert.equal(image.manifest.layers.length, 3);
    assertOk(runCli(['verify', ref, '--key', pubB, '-a', 'build=43']));
    assertOk(runCli(['verify', ref, '--key', pubA]));
  });

  /** The `optional` claims of the one signature at `repo`'s `.sig` of `digest`, openssl checking it over the payload's bytes with `pub`. */
  function opensslCheckedClaims(repo: string, digest: string, pub: string, dir: string): unknown {
    const image = skopeoSignatureImage(repo, digest, dir);
    assert.equal(image.manifest.layers.length, 1);
    const [layer] = image.manifest.layers;
    writeFileSync(join(dir, 'payload'), image.blob(layer!.digest));
    writeFileSync(join(dir, 'sig.der'), Buffer.from(layer!.annotations!['dev.cosignproject.cosign/signature']!, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', join(dir, 'sig.der'), join(dir, 'payload')]), /Verified OK/);
    return JSON.parse(readFileSync(join(dir, 'payload'), 'utf8')).optional;
  }

  it('--annotations, cosign\'s spelling of -a, signs and filters as -a does', () => {
    const ref = `${registry.host}/sc/cosign-a:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', ref, '--key', keyB, '--annotations', 'env=prod']));
    assert.deepEqual(opensslCheckedClaims('sc/cosign-a', first.manifest.digest, pubB, join(tmp.path, 'sig-annotations')), { env: 'prod' });
    assertOk(runCli(['verify', ref, '--key', pubB, '--annotations', 'env=prod']));
    assertOneLineError(runCli(['verify', ref, '--key', pubB, '--annotations', 'env=dev']), /signed by this key without the annotation env=dev$/);
  });

  it('-a env=prod,team=core is two claims, as cosign\'s -a (comma-separated values, "…" around one with a comma); a bare " is one line', () => {
    const ref = `${registry.host}/sc/cosign-csv:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', ref, '--key', keyB, '-a', 'note="a"']), /^ocipush: -a note="a": a " within a value that does not start with one/, 2);
    assertOneLineError(runCli(['sign', ref, '--key', keyB, '-a', 'env=prod,team']), /^ocipush: -a env=prod,team: "team" is not KEY=VALUE/, 2);
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'env=prod,team=core', '-a', '"note=a,""b"""']));
    assert.deepEqual(opensslCheckedClaims('sc/cosign-csv', first.manifest.digest, pubB, join(tmp.path, 'sig-csv')), { env: 'prod', note: 'a,"b"', team: 'core' });

    // A signature as cosign sign -a env=prod,team=core writes it, made by openssl: verify -a reads the pairs as cosign verify does.
    const other = `${registry.host}/sc/cosign-csv:2`;
    assertOk(runCli(['push', other, '--layout', second.layout, '--tag', 'two', '--quiet']));
    const payload = Buffer.from(JSON.stringify({
      critical: { identity: { 'docker-reference': `${registry.host}/sc/cosign-csv` }, image: { 'docker-manifest-digest': second.manifest.digest }, type: 'cosign container image signature' },
      optional: { env: 'prod', team: 'core' },
    }));
    writeFileSync(join(tmp.path, 'csv-payload'), payload);
    run('openssl', ['dgst', '-sha256', '-sign', join(tmp.path, 'b.pem'), '-out', join(tmp.path, 'csv-payload.sig'), join(tmp.path, 'csv-payload')]);
    storeCosignSignature(registry.host, 'sc/cosign-csv', second.manifest.digest, payload, readFileSync(join(tmp.path, 'csv-payload.sig')), tmp.path);
    assertOk(runCli(['verify', other, '--key', pubB, '-a', 'team=core,env=prod']));
    assertOneLineError(runCli(['verify', other, '--key', pubB, '-a', 'team=core,env=dev']), /signed by this key without the annotation env=dev$/);
  });

  it('-a claims are in the payload as cosign\'s Go encoding/json writes them: keys sorted by their bytes ("10" before "9"), <, > and & escaped; openssl checks the signature', () => {
    const ref = `${registry.host}/sc/go-json:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', '9=nine', '-a', '10=ten', '-a', 'url=https://ci.example/run?id=7&step=<2>']));
    const image = skopeoSignatureImage('sc/go-json', first.manifest.digest, join(tmp.path, 'sig-go-json'));
    const payload = image.blob(image.manifest.layers[0]!.digest);
    assert.equal(payload.toString('utf8'), `{"critical":{"identity":{"docker-reference":"${registry.host}/sc/go-json"},"image":{"docker-manifest-digest":"${first.manifest.digest}"},"type":"cosign container image signature"},`
      + '"optional":{"10":"ten","9":"nine","url":"https://ci.example/run?id=7\\u0026step=\\u003c2\\u003e"}}');
    assert.equal(opensslVerifiedSignatures(registry.host, 'sc/go-json', first.manifest.digest, pubB, tmp.path), 1);
    assertOk(runCli(['verify', ref, '--key', pubB, '-a', 'url=https://ci.example/run?id=7&step=<2>']));
  });

  it('an image pushed over the signed tag, and a signature copied onto another image\'s .sig tag, fail', () => {
    const ref = `${registry.host}/sc/app:1`;
    assertOk(runCli(['push', ref, '--layout', second.layout, '--tag', 'two', '--quiet']));
    assertOneLineError(runCli(['verify', ref, '--key', pubA]), new RegExp(`^ocipush: verify .*@${second.manifest.digest}: no signatures found$`));
    // The first image's signatures, copied as they are to the second image's .sig tag.
    const sigOf = (d: string) => `docker://${registry.host}/sc/app:${d.replace(':', '-')}.sig`;
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', sigOf(first.manifest.digest), sigOf(second.manifest.digest)]);
    assertOneLineError(runCli(['verify', ref, '--key', pubA]), /none of 2 signatures verifies: signed by this key for another image \(sha256:[0-9a-f]{64}\); not signed by this key$/);
    // The first image is still signed, by digest.
    assertOk(runCli(['verify', `${registry.host}/sc/app@${first.manifest.digest}`, '--key', pubA]));
  });

  it('--recursive signs the index and every manifest in it', async () => {
    const layout = join(tmp.path, 'multi');
    const multi = await multiPlatformImage(layout, 'm');
    const ref = `${registry.host}/sc/multi:1`;
    assertOk(runCli(['push', ref, '--layout', layout, '--tag', 'm', '--quiet']));
    const r = runCli(['sign', ref, '--key', keyA, '--recursive'], { env });
    assertOk(r);
    assert.deepEqual(r.stdout.trim().split('\n'), [multi.index.digest, ...multi.manifests.map((m) => m.digest)]);
    for (const d of [multi.index.digest, ...multi.manifests.map((m) => m.digest)]) {
      assertOk(runCli(['verify', `${registry.host}/sc/multi@${d}`, '--key', pubA]));
    }
  });

  it('--recursive signs what a nested index holds too, as cosign\'s walk does (an index of an index of two images), each by openssl; --new-bundle-format the same', async () => {
    const layout = join(tmp.path, 'nested');
    const inner = await multiPlatformImage(layout, 'inner');
    // skopeo pushes the inner index (it copies no index of indexes); curl PUTs the outer one over it, as any client may.
    const outer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: inner.index.digest, size: inner.index.size }] }));
    const outerDigest = `sha256:${createHash('sha256').update(outer).digest('hex')}`;
    writeFileSync(join(tmp.path, 'outer.json'), outer);
    for (const repo of ['sc/nested', 'sc/nested-bundle']) {
      run('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:inner`, `docker://${registry.host}/${repo}:inner`]);
      run('curl', ['-sf', '-X', 'PUT', '-H', 'Content-Type: application/vnd.oci.image.index.v1+json', '--data-binary', `@${join(tmp.path, 'outer.json')}`, `http://${registry.host}/v2/${repo}/manifests/1`]);
    }
    const all = [outerDigest, inner.index.digest, ...inner.manifests.map((m) => m.digest)];
    const r = runCli(['sign', `${registry.host}/sc/nested:1`, '--key', keyB, '--recursive']);
    assertOk(r);
    assert.deepEqual(r.stdout.trim().split('\n'), all);
    for (const d of all) assert.equal(opensslVerifiedSignatures(registry.host, 'sc/nested', d, pubB, tmp.path), 1, d);
    const bundles = runCli(['sign', `${registry.host}/sc/nested-bundle:1`, '--key', keyB, '--recursive', '--new-bundle-format']);
    assertOk(bundles);
    assert.deepEqual(bundles.stdout.trim().split('\n'), all);
  });

  it('a wrong password fails with one line and signs nothing', () => {
    const r = runCli(['sign', `${registry.host}/sc/app:1`, '--key', keyA], { env: { COSIGN_PASSWORD: 'nope' } });
    assertOneLineError(r, /^ocipush: .*a\.key: cannot decrypt the private key: wrong password/);
  });

  it('without COSIGN_PASSWORD, a password piped to sign and sign-blob is read as cosign reads it, byte for byte; echo\'s newline is named; a pipe that is the data is not read for it', () => {
    const ref = `${registry.host}/sc/piped:1`;
    const unset = { COSIGN_PASSWORD: undefined };
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', ref, '--key', keyA], { env: unset, input: 'pw-for-tests\n' }), /^ocipush: .*a\.key: cannot decrypt the private key: wrong password \(or the file is damaged\); the password piped ends in a newline, which is part of it/);
    assertOneLineError(runCli(['sign', ref, '--key', keyA], { env: unset }), /^ocipush: .*a\.key: needs a password: set COSIGN_PASSWORD \(it may be empty\), pipe it to standard input or run on a terminal$/, 2);
    assertOk(runCli(['sign', ref, '--key', keyA], { env: unset, input: 'pw-for-tests' }));
    assert.equal(opensslVerifiedSignatures(registry.host, 'sc/piped', first.manifest.digest, pubA, tmp.path), 1);

    const file = join(tmp.path, 'piped.txt');
    writeFileSync(file, 'release\n');
    const signed = runCli(['sign-blob', file, '--key', keyA], { env: unset, input: 'pw-for-tests' });
    assertOk(signed);
    writeFileSync(`${file}.der`, Buffer.from(signed.stdout.trim(), 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pubA, '-signature', `${file}.der`, file]), /Verified OK/);
    assertOneLineError(runCli(['sign-blob', '-', '--key', keyA], { env: unset, input: 'pw-for-tests' }), /needs a password: set COSIGN_PASSWORD \(it may be empty\) or run on a terminal$/, 2);
  });

  it('oci:DIR of a layout of two signed images asks for oci:DIR:NAME, listing the images, not the signatures', () => {
    const layout = join(tmp.path, 'two');
    const rootfs = join(tmp.path, 'two-rootfs');
    mkdirSync(rootfs);
    for (const tag of ['a', 'b']) {
      writeFileSync(join(rootfs, 'f'), tag);
      assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', tag, '--quiet']));
      assertOk(runCli(['sign', `oci:${layout}:${tag}`, '--key', keyB, '--sign-container-identity', `${registry.host}/sc/two`, '--quiet']));
    }
    const index = readFileSync(join(layout, 'index.json'));
    for (const verb of [['verify', '--key', pubB], ['sign', '--key', keyB, '--sign-container-identity', `${registry.host}/sc/two`]]) {
      assertOneLineError(runCli([verb[0]!, `oci:${layout}`, ...verb.slice(1)]), /^ocipush: .*two: the layout holds 2 images, name one as oci:DIR:NAME \(a, b\)$/, 2);
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), index);
  });

  it('signing again with the same key and annotations stores nothing new, as cosign\'s duplicate detector; another annotation is appended', () => {
    const ref = `${registry.host}/sc/again:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'run=1']));
    const again = runCli(['sign', ref, '--key', keyB, '-a', 'run=1', '--json']);
    assertOk(again);
    assert.equal(JSON.parse(again.stdout).signatures[0].appended, false);
    assert.match(again.stderr, /\(this signature was already there\)/);
    assert.equal(skopeoSignatureImage('sc/again', first.manifest.digest, join(tmp.path, 'sig-again-1')).manifest.layers.length, 1);
    assertOk(runCli(['sign', ref, '--key', keyB, '-a', 'run=2']));
    assert.equal(skopeoSignatureImage('sc/again', first.manifest.digest, join(tmp.path, 'sig-again-2')).manifest.layers.length, 2);
    assert.equal(opensslVerifiedSignatures(registry.host, 'sc/again', first.manifest.digest, pubB, tmp.path), 2);
  });
  it('sign, attest and their verifies of oci:DIR@DIGEST name the image with its digest once', () => {
    const layout = join(tmp.path, 'by-digest');
    assertOk(runCli(['copy', `oci:${first.layout}:one`, `oci:${layout}:app`]));
    const target = `oci:${layout}@${first.manifest.digest}`;
    const predicate = join(tmp.path, 'by-digest.json');
    writeFileSync(predicate, '{}');
    const lines = [
      runCli(['sign', target, '--key', keyB, '--sign-container-identity', `${registry.host}/sc/by-digest`]),
      runCli(['verify', target, '--key', pubB]),
      runCli(['attest', target, '--key', keyB, '--type', 'vuln', '--predicate', predicate]),
      runCli(['verify-attestation', target, '--key', pubB]),
    ].map((r) => { assertOk(r); return r.stderr; });
    // Before: `oci:DIR@sha256:…@sha256:…`, the digest given and the digest found, one after the other.
    for (const line of lines) {
      assert.ok(line.includes(`${target} `) || line.includes(`${target}:`), line);
      assert.doesNotMatch(line, /@sha256:[0-9a-f]{64}@/);
    }
  });

  it('a signature layer whose signature annotation is no string (a number, an object, none) is one invalid signature; the others are still checked', () => {
    // docker-registry refuses such a manifest; a layout written by another tool (or by hand) holds it.
    const layout = join(tmp.path, 'odd-sig');
    run('cp', ['-r', first.layout, layout]);
    assertOk(runCli(['sign', `oci:${layout}:one`, '--key', keyA, '--sign-container-identity', `${registry.host}/sc/odd`, '--quiet'], { env }));
    const indexFile = join(layout, 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: { digest: string; size: number; annotations: Record<string, string> }[] };
    const sigEntry = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name']!.endsWith('.sig'))!;
    const sig = JSON.parse(readFileSync(blobPath(layout, sigEntry.digest), 'utf8')) as { layers: { annotations: Record<string, unknown> }[] };
    const [good] = sig.layers;
    const odd = (value: unknown) => ({ ...good!, annotations: { ...good!.annotations, 'dev.cosignproject.cosign/signature': value } });
    const rewrite = (layers: unknown[]): void => {
      const bytes = Buffer.from(JSON.stringify({ ...sig, layers }));
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      writeFileSync(blobPath(layout, digest), bytes);
      Object.assign(sigEntry, { digest, size: bytes.length });
      writeFileSync(indexFile, JSON.stringify(index));
    };
    const { annotations: _, ...unannotated } = good!;
    rewrite([odd(12345), odd({ sig: 'x' }), unannotated, good]);
    const verified = runCli(['verify', `oci:${layout}:one`, '--key', pubA]);
    assertOk(verified);
    assert.match(verified.stderr, /: 1 valid signature by .*a\.pub\n$/);

    rewrite([odd(12345)]);
    assertOneLineError(runCli(['verify', `oci:${layout}:one`, '--key', pubA]), /^ocipush: verify .*: none of 1 signature verifies: a signature layer without a signature \(its dev\.cosignproject\.cosign\/signature is 12345\)$/, 1);
    // Signing again reads the layers there for one of the same key: the odd one is none, a signature is added.
    assertOk(runCli(['sign', `oci:${layout}:one`, '--key', keyA, '--sign-container-identity', `${registry.host}/sc/odd`, '--quiet'], { env }));
    assertOk(runCli(['verify', `oci:${layout}:one`, '--key', pubA]));
  });
});
