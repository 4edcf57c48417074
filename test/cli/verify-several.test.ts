import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, opensslSignature, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { cosignPayload, storeCosignSignature } from './signature-support.js';

/**
 * `cosign verify --key K IMG1 IMG2 …` (cobra.MinimumNArgs(1); cmd/cosign/cli/verify/verify.go
 * checks each in turn, printing each one's verification, and returns at the first that fails):
 * verify and verify-attestation take several references the same way. Signatures made by openssl
 * and stored as cosign stores them; the output read by jq.
 */
describe('verify / verify-attestation of several images, as cosign verify IMG1 IMG2', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let images: UmociImage[];
  let key: string;
  let pub: string;
  let refs: string[];

  before(async () => {
    requireTool('openssl');
    requireTool('jq');
    tmp = await tempDir();
    registry = await startRegistry();
    images = [umociImage(tmp.path, 'a', [1_000]), umociImage(tmp.path, 'b', [2_000]), umociImage(tmp.path, 'c', [3_000])];
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
    refs = ['a', 'b', 'c'].map((n) => `${registry.host}/multi/${n}:1`);
    images.forEach((image, i) => assertOk(runCli(['push', refs[i]!, '--layout', image.layout, '--tag', 'abc'[i]!, '--quiet'])));
    // a and c signed as cosign signs them; b not.
    for (const i of [0, 2]) {
      const payload = cosignPayload(`${registry.host}/multi/${'abc'[i]}`, images[i]!.manifest.digest);
      storeCosignSignature(registry.host, `multi/${'abc'[i]}`, images[i]!.manifest.digest, payload, opensslSignature(key, payload, tmp.path), tmp.path);
    }
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('verify A C checks both (a digest a line, in order; -o json one array each); verify A B C stops at B, exit 1, after printing A', () => {
    const [a, b, c] = refs as [string, string, string];
    const both = runCli(['verify', a, c, '--key', pub]);
    assertOk(both);
    assert.equal(both.stdout, `${images[0]!.manifest.digest}\n${images[2]!.manifest.digest}\n`);
    const json = runCli(['verify', a, c, '--key', pub, '-o', 'json']);
    assertOk(json);
    assert.equal(run('jq', ['-rs', 'map(.[0].critical.image["docker-manifest-digest"]) | join(" ")'], { input: json.stdout }).trim(), `${images[0]!.manifest.digest} ${images[2]!.manifest.digest}`);

    const stopped = runCli(['verify', a, b, c, '--key', pub]);
    assert.equal(stopped.status, 1, stopped.stderr);
    assert.equal(stopped.stdout, `${images[0]!.manifest.digest}\n`);
    const lines = stopped.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, stopped.stderr);
    assert.match(lines[0]!, new RegExp(`^verified ${registry.host}/multi/a@`));
    assert.match(lines[1]!, new RegExp(`^ocipush: verify ${registry.host}/multi/b@${images[1]!.manifest.digest}: no signatures found$`));
    // A reference that is none stops the run before any is checked.
    assertOneLineError(runCli(['verify', a, `${registry.host}/multi/UPPER:1`, '--key', pub]), /invalid image reference/, 2);
  });

  it('verify-attestation A C checks both; A B stops at B', () => {
    const [a, b, c] = refs as [string, string, string];
    writeFileSync(join(tmp.path, 'predicate.json'), '{"ok":true}');
    for (const ref of [a, c]) assertOk(runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', join(tmp.path, 'predicate.json')]));
    const both = runCli(['verify-attestation', a, c, '--key', pub, '--type', 'vuln']);
    assertOk(both);
    assert.equal(both.stdout, `${images[0]!.manifest.digest}\n${images[2]!.manifest.digest}\n`);
    const stopped = runCli(['verify-attestation', a, b, '--key', pub, '--type', 'vuln']);
    assert.equal(stopped.status, 1, stopped.stderr);
    assert.equal(stopped.stdout, `${images[0]!.manifest.digest}\n`);
    assert.match(stopped.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: verify-attestation \S+\/multi\/b@\S+: no attestations found$/);
  });
});
