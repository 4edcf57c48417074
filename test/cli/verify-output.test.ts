import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, opensslSignature, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { cosignBundle, storeCosignBundle, storeCosignSignature } from './signature-support.js';

/**
 * `-o json|text` of verify and verify-attestation print what cosign's PrintVerification prints on
 * stdout (cmd/cosign/cli/verify/common.go): for verify, json (its default) is an empty line, then
 * Go's encoding/json of the verified payloads decoded into payload.SimpleContainerImage (critical's
 * three fields, `optional` a map: keys sorted, `<>&` escaped, null when the payload has none); text
 * is each payload's bytes on a line. verify-attestation prints each DSSE envelope as stored, one a
 * line, whatever -o says. Signatures made by openssl, stored by skopeo, read back by jq.
 */
describe('verify / verify-attestation -o, as cosign prints what it verified', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let key: string;
  let pub: string;
  const env = { COSIGN_PASSWORD: 'pw-for-tests' };

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    requireTool('jq');
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [3_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  const opensslSign = (bytes: Buffer): Buffer => opensslSignature(key, bytes, tmp.path);

  function push(repo: string): string {
    const ref = `${registry.host}/${repo}:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    return ref;
  }

  function jq(filter: string, input: string): string {
    return run('jq', ['-r', filter], { input }).trimEnd();
  }

  /** --json with -o: one line, and --json's error document, nothing else. */
  function assertBothFormatsRefused(r: ReturnType<typeof runCli>): void {
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'ocipush: --json and -o/--output are two formats of the result: give one\n');
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EUSAGE');
  }

  /** The layers of `repo`'s `sha256-<hex>.<suffix>` image as skopeo copies it out, each blob's bytes. */
  function attachedPayloads(repo: string, suffix: 'sig' | 'att'): Buffer[] {
    const dir = join(tmp.path, `${suffix}-${Math.random().toString(36).slice(2)}`);
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/${repo}:${image.manifest.digest.replace(':', '-')}.${suffix}`, `oci:${dir}:x`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(blobPath(dir, index.manifests[0]!.digest), 'utf8')) as { layers: { digest: string }[] };
    return manifest.layers.map((l) => readFileSync(blobPath(dir, l.digest)));
  }

  it('verify -o json prints cosign\'s array of verified payloads (optional re-encoded as Go does, null when empty), jq reads .[0].optional.sha; -o text each payload as signed', () => {
    const ref = push('out/app');
    const identity = `${registry.host}/out/app`;
    const digest = image.manifest.digest;
    // As cosign sign -a stores claims, and some a Go map orders otherwise than JavaScript would (numeric keys), and characters Go escapes.
    const claimed = Buffer.from(JSON.stringify({
      critical: { identity: { 'docker-reference': identity }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: { sha: 'abc123', url: 'https://ci.example/run?id=7&step=<2>', 9: 'nine', 10: 'ten', nested: { z: 1, a: [true, null] } },
    }));
    storeCosignSignature(registry.host, 'out/app', digest, claimed, opensslSign(claimed), tmp.path);
    // A second signature by the same key with no claims, appended as cosign appends it.
    assertOk(runCli(['sign', ref, '--key', key], { env }));

    const json = runCli(['verify', ref, '--key', pub, '-o', 'json']);
    assertOk(json);
    const critical = `{"identity":{"docker-reference":"${identity}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}`;
    assert.equal(json.stdout, `\n[{"critical":${critical},"optional":{"10":"ten","9":"nine","nested":{"a":[true,null],"z":1},"sha":"abc123","url":"https://ci.example/run?id=7\\u0026step=\\u003c2\\u003e"}},`
      + `{"critical":${critical},"optional":null}]\n`);
    assert.equal(jq('.[0].optional.sha', json.stdout), 'abc123');
    assert.equal(jq('.[1].optional', json.stdout), 'null');
    assert.equal(jq('.[0].critical.image["docker-manifest-digest"]', json.stdout), digest);
    assert.match(json.stderr, /^verified .*: 2 valid signatures by /);
    assert.equal(runCli(['verify', ref, '--key', pub, '--output=json']).stdout, json.stdout);

    const text = runCli(['verify', ref, '--key', pub, '-o', 'text']);
    assertOk(text);
    assert.equal(text.stdout, attachedPayloads('out/app', 'sig').map((p) => `${p.toString('utf8')}\n`).join(''));
    assert.equal(text.stdout.split('\n')[0], claimed.toString('utf8'));

    // Without -o, ocipush's own output, unchanged.
    assert.equal(runCli(['verify', ref, '--key', pub]).stdout, `${digest}\n`);
    assertBothFormatsRefused(runCli(['verify', ref, '--key', pub, '-o', 'json', '--json']));
    assertOneLineError(runCli(['verify', ref, '--key', pub, '-o', 'yaml']), /yaml/, 2);
  });

  it('verify -o json shows the Rekor bundle a cosign 2 signature carries as optional.Bundle, as cosign does (jq reads .[0].optional.Bundle.Payload.logIndex); -o text the payload alone', () => {
    const ref = push('out/rekor');
    const identity = `${registry.host}/out/rekor`;
    const digest = image.manifest.digest;
    const payload = Buffer.from(`{"critical":{"identity":{"docker-reference":"${identity}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":{"sha":"abc123"}}`);
    // The annotation as cosign 2's sign --key writes it (its RekorBundle: SignedEntryTimestamp, then Payload's body, integratedTime, logIndex, logID).
    const rekor = '{"SignedEntryTimestamp":"MEUCIQDx","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEifQ==","integratedTime":1700000000,"logIndex":42,"logID":"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}}';
    storeCosignSignature(registry.host, 'out/rekor', digest, payload, opensslSign(payload), tmp.path, { 'dev.sigstore.cosign/bundle': rekor });
    const json = runCli(['verify', ref, '--key', pub, '-o', 'json']);
    assertOk(json);
    assert.equal(json.stdout, `\n[{"critical":{"identity":{"docker-reference":"${identity}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":{"Bundle":${rekor},"sha":"abc123"}}]\n`);
    assert.equal(jq('.[0].optional.Bundle.Payload.logIndex', json.stdout), '42');
    assert.equal(runCli(['verify', ref, '--key', pub, '-o', 'text']).stdout, `${payload.toString('utf8')}\n`);
  });

  it('verify -o json of a cosign 3 bundle prints what cosign\'s transformOutput makes of its statement: the reference, the subject\'s digest, the predicate type, its annotations', () => {
    const ref = push('out/bundled');
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    const hint = createHash('sha256').update(Buffer.from(readFileSync(pub, 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')).digest('base64');
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: subject.digest.slice('sha256:'.length) }, annotations: { 'git-sha': 'abc123' } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} };
    storeCosignBundle(registry.host, 'out/bundled', subject, cosignBundle(statement, opensslSign, hint), 'https://sigstore.dev/cosign/sign/v1', tmp.path);
    const r = runCli(['verify', ref, '--key', pub, '-o', 'json']);
    assertOk(r);
    assert.equal(r.stdout, `\n[{"critical":{"identity":{"docker-reference":"${ref}"},"image":{"docker-manifest-digest":"${subject.digest}"},"type":"https://sigstore.dev/cosign/sign/v1"},"optional":{"git-sha":"abc123"}}]\n`);
    assert.equal(jq('.[0].optional["git-sha"]', r.stdout), 'abc123');
  });

  it('verify-attestation -o json and -o text print each verified envelope as stored, one a line: jq -r .payload | base64 -d gives the statement', () => {
    const ref = push('out/attested');
    const predicate = join(tmp.path, 'provenance.json');
    writeFileSync(predicate, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/build' }, runDetails: { builder: { id: 'ci' } } }));
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', predicate], { env }));
    const stored = attachedPayloads('out/attested', 'att');
    assert.equal(stored.length, 1);
    for (const format of ['json', 'text']) {
      const r = runCli(['verify-attestation', ref, '--key', pub, '--type', 'slsaprovenance1', '-o', format]);
      assertOk(r);
      // The .att layer and its OCI 1.1 referrer hold the same envelope: printed once.
      assert.equal(r.stdout, `${stored[0]!.toString('utf8')}\n`);
      const statement = run('base64', ['-d'], { input: jq('.payload', r.stdout) });
      assert.equal(jq('.predicate.runDetails.builder.id', statement), 'ci');
      assert.equal(jq('.subject[0].digest.sha256', statement), image.manifest.digest.slice('sha256:'.length));
    }
    assertBothFormatsRefused(runCli(['verify-attestation', ref, '--key', pub, '-o', 'text', '--json']));
  });
});
