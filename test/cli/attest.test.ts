import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { validate } from './json-schema.js';

describe('ocipush attest / verify-attestation against docker-registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let first: UmociImage;
  let second: UmociImage;
  let key: string;
  let pub: string;
  let otherPub: string;
  let predicate: string;
  const env = { COSIGN_PASSWORD: 'attest-pw' };
  const baseDigest = `sha256:${'ab'.repeat(32)}`;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    first = umociImage(tmp.path, 'one', [3_000]);
    second = umociImage(tmp.path, 'two', [4_000]);
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }));
    [key, pub] = [join(tmp.path, 'k.key'), join(tmp.path, 'k.pub')];
    requireTool('openssl');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tmp.path, 'o.pem')]);
    run('openssl', ['pkey', '-in', join(tmp.path, 'o.pem'), '-pubout', '-out', join(tmp.path, 'o.pub')]);
    otherPub = join(tmp.path, 'o.pub');
    predicate = join(tmp.path, 'provenance.json');
    writeFileSync(predicate, JSON.stringify({
      buildDefinition: {
        buildType: 'https://ocipush.dev/build/v1',
        externalParameters: { command: ['ocipush', 'build', '.'] },
        resolvedDependencies: [{ uri: 'pkg:oci/base', digest: { sha256: baseDigest.slice(7) } }],
      },
      runDetails: { builder: { id: 'https://ocipush.dev/builder' }, metadata: { startedOn: '2024-05-01T12:00:00Z', finishedOn: '2024-05-01T12:00:05Z' } },
    }));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('a DSSE-signed in-toto Statement v1 in sha256-<hex>.att, which openssl verifies over the PAE bytes; verify-attestation passes', () => {
    const ref = `${registry.host}/at/app:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const r = runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', predicate], { env });
    assertOk(r);
    assert.equal(r.stdout, `${first.manifest.digest}\n`);

    const dir = join(tmp.path, 'att');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/at/app:${first.manifest.digest.replace(':', '-')}.att`, `oci:${dir}:att`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(blobPath(dir, index.manifests[0].digest), 'utf8'));
    const [layer] = manifest.layers;
    assert.equal(layer.mediaType, 'application/vnd.dsse.envelope.v1+json');
    assert.equal(layer.annotations.predicateType, 'https://slsa.dev/provenance/v1');
    const envelope = JSON.parse(readFileSync(blobPath(dir, layer.digest), 'utf8'));
    assert.equal(envelope.payloadType, 'application/vnd.in-toto+json');
    const payload = Buffer.from(envelope.payload, 'base64');
    // DSSE v1 PAE, built here from the spec, not by ocipush.
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${payload.length} `), payload]);
    writeFileSync(join(tmp.path, 'pae'), pae);
    writeFileSync(join(tmp.path, 'pae.sig'), Buffer.from(envelope.signatures[0].sig, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', join(tmp.path, 'pae.sig'), join(tmp.path, 'pae')]), /Verified OK/);
    const statement = JSON.parse(payload.toString());
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [{ name: `${registry.host}/at/app`, digest: { sha256: first.manifest.digest.slice(7) } }]);
    assert.equal(statement.predicate.buildDefinition.resolvedDependencies[0].digest.sha256, baseDigest.slice(7));

    const v = runCli(['verify-attestation', ref, '--key', pub, '--type', 'slsaprovenance1', '--json']);
    assertOk(v);
    assert.equal(JSON.parse(v.stdout).verified[0].predicateType, 'https://slsa.dev/provenance/v1');
    const refs = JSON.parse(runCli(['referrers', ref, '--json']).stdout);
    assert.deepEqual(refs.manifests.map((m: { artifactType: string }) => m.artifactType), ['application/vnd.dsse.envelope.v1+json']);
  });

  it('another key, another predicate type, a re-pushed tag and an attestation copied to another image all fail', () => {
    const ref = `${registry.host}/at/app:1`;
    assertOneLineError(runCli(['verify-attestation', ref, '--key', otherPub]), /none of 1 attestation verifies: not signed by this key$/);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub, '--type', 'spdxjson']), /predicate type https:\/\/slsa\.dev\/provenance\/v1, not https:\/\/spdx\.dev\/Document$/);
    assertOk(runCli(['push', ref, '--layout', second.layout, '--tag', 'two', '--quiet']));
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub]), /no attestations found$/);
    const att = (d: string) => `docker://${registry.host}/at/app:${d.replace(':', '-')}.att`;
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', att(first.manifest.digest), att(second.manifest.digest)]);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub]), /signed by this key about another image$/);
  });

  it('--predicate - reads the predicate from standard input, as cosign attest does', () => {
    const ref = `${registry.host}/at/stdin:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', '-'], { env, input: readFileSync(predicate, 'utf8') }));
    const dir = join(tmp.path, 'att-stdin');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/at/stdin:${first.manifest.digest.replace(':', '-')}.att`, `oci:${dir}:att`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const [layer] = JSON.parse(readFileSync(blobPath(dir, index.manifests[0].digest), 'utf8')).layers;
    const envelope = JSON.parse(readFileSync(blobPath(dir, layer.digest), 'utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString());
    assert.deepEqual(statement.predicate, JSON.parse(readFileSync(predicate, 'utf8')));
    assertOneLineError(runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', '-'], { env, input: 'not json' }), /^ocipush: --predicate -: not JSON \(a --type slsaprovenance1 predicate is a JSON document; --type custom takes any text\)$/, 2);
  });

  it('a predicate that is JSON but not an object is refused in one line before anything is stored, as cosign refuses it (in-toto\'s predicate is an object)', () => {
    const ref = `${registry.host}/at/not-object:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const tags = () => skopeoTags(`${registry.host}/at/not-object`);
    const before = tags();
    for (const [input, kind] of [['[{"buildType": "x"}]', 'an array'], ['null', 'null'], ['"text"', 'a string'], ['42', 'a number']] as const) {
      for (const type of ['slsaprovenance1', 'https://example.com/predicate/v1']) {
        assertOneLineError(runCli(['attest', ref, '--key', key, '--type', type, '--predicate', '-'], { env, input }),
          new RegExp(`^ocipush: --predicate -: ${kind}, not a JSON object \\(a --type ${type.replace(/[./]/g, '\\$&')} predicate is one, as in-toto has it; --type custom takes any text\\)$`), 2);
      }
    }
    assert.deepEqual(tags(), before, 'nothing was stored');
    // The same text under --type custom is wrapped as cosign wraps it.
    assertOk(runCli(['attest', ref, '--key', key, '--predicate', '-'], { env, input: '[1, 2]' }));
    assertOk(runCli(['verify-attestation', ref, '--key', pub, '--type', 'custom']));
  });

  it('a malformed envelope among the attestations (no payloadType, a null signature, a subject that is no list) is one rejected attestation, not a crash of the check', () => {
    const ref = `${registry.host}/at/malformed:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const att = `${registry.host}/at/malformed:${first.manifest.digest.replace(':', '-')}.att`;
    const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: { name: 'x' }, predicateType: 'https://slsa.dev/provenance/v1', predicate: {} })).toString('base64');
    const envelopes = [
      { payload: statement, signatures: [{ keyid: '', sig: 'MEUCIQ==' }] },
      { payloadType: 'application/vnd.in-toto+json', payload: statement, signatures: [null] },
      { payloadType: 7, payload: statement, signatures: [] },
    ];
    const files = envelopes.map((envelope, i) => {
      const path = join(tmp.path, `malformed-${i}.json`);
      writeFileSync(path, JSON.stringify(envelope));
      return `${path}:application/vnd.dsse.envelope.v1+json`;
    });
    // Stored where cosign keeps attestations, as a hand-made or damaged .att would be.
    assertOk(runCli(['artifact', 'push', att, ...files]));
    const r = runCli(['verify-attestation', ref, '--key', pub]);
    assertOneLineError(r, /^ocipush: verify-attestation .*: none of 3 attestations verifies: not a DSSE envelope; not signed by this key$/);
    // A valid attestation appended beside them verifies.
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', predicate], { env }));
    const ok = runCli(['verify-attestation', ref, '--key', pub, '--type', 'slsaprovenance1']);
    assertOk(ok);
    assert.match(ok.stderr, /^verified .*: 1 attestation \(https:\/\/slsa\.dev\/provenance\/v1\)$/m);
  });

  it('--type custom (the default) wraps any text as cosign does, {Data, Timestamp}, stamped from SOURCE_DATE_EPOCH', () => {
    const ref = `${registry.host}/at/custom:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const text = 'approved by qa\n{not json}\n';
    assertOk(runCli(['attest', ref, '--key', key, '--predicate', '-'], { env: { ...env, SOURCE_DATE_EPOCH: '1700000000' }, input: text }));
    const dir = join(tmp.path, 'att-custom');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/at/custom:${first.manifest.digest.replace(':', '-')}.att`, `oci:${dir}:att`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const [layer] = JSON.parse(readFileSync(blobPath(dir, index.manifests[0].digest), 'utf8')).layers;
    const statement = JSON.parse(Buffer.from(JSON.parse(readFileSync(blobPath(dir, layer.digest), 'utf8')).payload, 'base64').toString());
    assert.equal(statement.predicateType, 'https://cosign.sigstore.dev/attestation/v1');
    assert.deepEqual(statement.predicate, { Data: text, Timestamp: '2023-11-14T22:13:20Z' });
    assertOk(runCli(['verify-attestation', ref, '--key', pub, '--type', 'custom']));
  });
  it('--type spdx (the tag-value text) is a Statement v0.1 whose predicate is the text, as cosign writes it (v1 requires an object); openssl verifies the PAE, verify-attestation reads it', () => {
    const ref = `${registry.host}/at/spdx:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const text = 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: app\n';
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'spdx', '--predicate', '-'], { env, input: text }));
    const dir = join(tmp.path, 'att-spdx');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/at/spdx:${first.manifest.digest.replace(':', '-')}.att`, `oci:${dir}:att`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const [layer] = JSON.parse(readFileSync(blobPath(dir, index.manifests[0].digest), 'utf8')).layers;
    const envelope = JSON.parse(readFileSync(blobPath(dir, layer.digest), 'utf8'));
    const payload = Buffer.from(envelope.payload, 'base64');
    writeFileSync(join(tmp.path, 'spdx.pae'), Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${payload.length} `), payload]));
    writeFileSync(join(tmp.path, 'spdx.sig'), Buffer.from(envelope.signatures[0].sig, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', join(tmp.path, 'spdx.sig'), join(tmp.path, 'spdx.pae')]), /Verified OK/);
    // cosign's GenerateStatement for spdx (its attestation_test.go "spdx string"): v0.1, the text as the predicate.
    // Before: _type https://in-toto.io/Statement/v1 with a string predicate, which v1 parsers refuse.
    assert.deepEqual(JSON.parse(payload.toString()), {
      _type: 'https://in-toto.io/Statement/v0.1',
      subject: [{ name: `${registry.host}/at/spdx`, digest: { sha256: first.manifest.digest.slice(7) } }],
      predicateType: 'https://spdx.dev/Document',
      predicate: text,
    });
    const v = runCli(['verify-attestation', ref, '--key', pub, '--type', 'spdx', '--json']);
    assertOk(v);
    const out = JSON.parse(v.stdout);
    assert.deepEqual(validate('verify-attestation.schema.json', out), []);
    assert.equal(out.verified[0].predicate, text);
    // A JSON SPDX document (spdxjson) is an object: it stays in a Statement v1.
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'spdxjson', '--predicate', '-'], { env, input: '{"spdxVersion": "SPDX-2.3"}' }));
    const both = JSON.parse(runCli(['verify-attestation', ref, '--key', pub, '--type', 'spdx', '--json']).stdout);
    assert.deepEqual(validate('verify-attestation.schema.json', both), []);
    assert.deepEqual(both.verified.map((s: { _type: string }) => s._type).sort(), ['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1']);
  });

  it('a sha256-<hex> tag that holds an image, not a referrers index, does not hide a valid attestation in .att; without one, the tag is named', () => {
    const ref = `${registry.host}/at/odd-tag:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    // An image pushed under the tag the referrers tag schema uses.
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${second.layout}:two`, `docker://${registry.host}/at/odd-tag:${first.manifest.digest.replace(':', '-')}`]);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub]), /at\/odd-tag:sha256-[0-9a-f]{64}: the referrers tag holds an image manifest, not an index$/);
    // cosign attest writes .att only; cosign's tag, stored by skopeo from another repository.
    const att = (repo: string) => `docker://${registry.host}/${repo}:${first.manifest.digest.replace(':', '-')}.att`;
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', att('at/app'), att('at/odd-tag')]);
    // Before: the same error, the valid attestation never looked at.
    const r = runCli(['verify-attestation', ref, '--key', pub, '--type', 'slsaprovenance1']);
    assertOk(r);
    assert.match(r.stderr, /1 attestation \(https:\/\/slsa\.dev\/provenance\/v1\)/);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', otherPub]), /the referrers tag holds an image manifest, not an index$/);
  });

  it('a predicate whose signed envelope would be above the 128 MiB verify-attestation and cosign read is refused in one line, nothing stored, and a larger file is not read whole', () => {
    const ref = `${registry.host}/at/large:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const tags = () => skopeoTags(`${registry.host}/at/large`);
    const before = tags();
    // 97 MiB of JSON: its envelope (base64, 4/3) is above 128 MiB. Before: attested, then unverifiable ("above the 128 MiB read").
    const big = join(tmp.path, 'big.json');
    writeFileSync(big, `{"x":"${'a'.repeat(97 * 1024 * 1024)}"}`);
    assertOneLineError(runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', big], { env }),
      /^ocipush: --predicate .*big\.json: more than 96 MiB; its signed envelope would be above the 128 MiB that verify-attestation and cosign read of one attestation$/, 2);
    // 49 MiB of text under --type custom: JSON escapes each quote, the statement doubles. Before: stored as well.
    assertOneLineError(runCli(['attest', ref, '--key', key, '--predicate', '-'], { env, input: '"'.repeat(49 * 1024 * 1024) }),
      /^ocipush: attestation of .*at\/large: its signed envelope is \d+ bytes, above the 128 MiB that verify-attestation and cosign read of one: nothing stored$/, 2);
    assert.deepEqual(tags(), before, 'nothing was stored');
  });

  it('--replace (cosign\'s flag) replaces the attestations of the same predicate type, in .att and among the referrers; the other types stay', () => {
    const ref = `${registry.host}/at/replace:1`;
    assertOk(runCli(['push', ref, '--layout', first.layout, '--tag', 'one', '--quiet']));
    const vuln = (n: number) => { const p = join(tmp.path, `vuln-${n}.json`); writeFileSync(p, JSON.stringify({ scanner: { uri: 'pkg:github/aquasecurity/trivy', result: { run: n } } })); return p; };
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', vuln(1)], { env }));
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'openvex', '--predicate', vuln(0)], { env }));
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', vuln(2)], { env }));
    const r = runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', vuln(3), '--replace'], { env });
    assertOk(r);
    assert.match(r.stderr, /replaced 2 earlier attestations of the type in \.att, 2 referrers$/m);
    // What cosign verify-attestation reads: .att, as skopeo copies it.
    const dir = join(tmp.path, 'att-replace');
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/at/replace:${first.manifest.digest.replace(':', '-')}.att`, `oci:${dir}:att`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const layers = JSON.parse(readFileSync(blobPath(dir, index.manifests[0].digest), 'utf8')).layers as { digest: string; annotations: Record<string, string> }[];
    const predicates = layers.map((l) => JSON.parse(Buffer.from(JSON.parse(readFileSync(blobPath(dir, l.digest), 'utf8')).payload, 'base64').toString()));
    assert.deepEqual(predicates.map((p) => [p.predicateType, p.predicate.scanner.result.run]), [['https://openvex.dev/ns', 0], ['https://cosign.sigstore.dev/attestation/vuln/v1', 3]]);
    // The referrers tag schema's index (docker-registry 2.8 has no referrers API), read with skopeo.
    const tagIndex = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/at/replace:${first.manifest.digest.replace(':', '-')}`]));
    assert.deepEqual(tagIndex.manifests.map((m: { annotations: Record<string, string> }) => m.annotations.predicateType).sort(), ['https://cosign.sigstore.dev/attestation/vuln/v1', 'https://openvex.dev/ns']);
    // Before: the runs 1 and 2 still verified, through .att and the referrers.
    const v = runCli(['verify-attestation', ref, '--key', pub, '--type', 'vuln', '--json']);
    assertOk(v);
    assert.deepEqual(JSON.parse(v.stdout).verified.map((s: { predicate: { scanner: { result: { run: number } } } }) => s.predicate.scanner.result.run), [3]);
  });

  it('--replace in a layout: the earlier attestation of the type leaves .att and the layout\'s referrers', () => {
    const layout = join(tmp.path, 'replace-layout');
    run('skopeo', ['copy', '--quiet', `oci:${first.layout}:one`, `oci:${layout}:app`]);
    const write = (n: number) => { const p = join(tmp.path, `l-${n}.json`); writeFileSync(p, JSON.stringify({ run: n })); return p; };
    assertOk(runCli(['attest', `oci:${layout}:app`, '--key', key, '--type', 'https://example.com/check/v1', '--predicate', write(1)], { env }));
    const r = runCli(['attest', `oci:${layout}:app`, '--key', key, '--type', 'https://example.com/check/v1', '--predicate', write(2), '--replace'], { env });
    assertOk(r);
    assert.match(r.stderr, /replaced 1 earlier attestation of the type in \.att, 1 referrer$/m);
    const v = runCli(['verify-attestation', `oci:${layout}:app`, '--key', pub, '--json']);
    assertOk(v);
    assert.deepEqual(JSON.parse(v.stdout).verified.map((s: { predicate: { run: number } }) => s.predicate.run), [2]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests.filter((m: { artifactType?: string }) => m.artifactType === 'application/vnd.dsse.envelope.v1+json').length, 1);
  });
});
