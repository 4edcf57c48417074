import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copy, isOcipushError, KeyVerifier, push, verify } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, runCli, tempDir } from '../support/tools.js';
import { skopeoTags } from '../registry/support.js';
import { assertOk } from '../cli/registry-support.js';
import { opensslVerifiedSignatures } from '../cli/signature-support.js';

/**
 * The library's push and copy out of a layout take `signatureRepository` (the CLI's push and copy
 * follow COSIGN_REPOSITORY): the layout's cosign signature and signed provenance go there, as
 * `cosign load` writes them, where the library's verify (and cosign) look with the same option;
 * an unsigned SBOM stays beside the image. Tags listed by skopeo, the signature checked by openssl.
 */
let registry: RunningRegistry;
let other: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
let pub: string;

before(async () => {
  requireTool('openssl');
  requireTool('skopeo');
  tmp = await tempDir('ocipush-lib-sigrepo-');
  [registry, other] = await Promise.all([startRegistry(), startRegistry()]);
  const { key } = opensslKeyPair(tmp.path, 'signer');
  pub = join(tmp.path, 'signer.pub');
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  layout = join(tmp.path, 'layout');
  // Signed in the layout, offline, for the repository it is pushed to.
  assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '--provenance', '--sign', '--key', key, '--sign-container-identity', `${registry.host}/lib/app`, '-q']));
});

after(async () => {
  await Promise.all([registry?.stop(), other?.stop()]);
  await tmp?.cleanup();
});

const tags = (host: string, repo: string): string[] => skopeoTags(`${host}/${repo}`);
/** cosign's .att and .sig, and the referrers index of the signed provenance (an OCI 1.1 referrer, kept with the signatures). */
const signatureTags = (digest: string) => ['', '.att', '.sig'].map((s) => `${digest.replace(':', '-')}${s}`);
const verifier = () => new KeyVerifier(createPublicKey(readFileSync(pub, 'utf8')));

test('push with signatureRepository: the layout\'s .sig and .att go to that repository on another registry, the SBOM stays with the image', async () => {
  const pushed = await push({ layout, tag: 'app', to: `${registry.host}/lib/app:1`, signatureRepository: `${other.host}/sigs` });
  // Before: signatureRepository was no option of push; the .sig and .att went beside the image.
  assert.deepEqual(tags(other.host, 'sigs'), signatureTags(pushed.digest));
  assert.deepEqual(tags(registry.host, 'lib/app'), ['1', pushed.digest.replace(':', '-')].sort(), 'the image and its SBOM\'s referrers index');
  assert.equal(opensslVerifiedSignatures(other.host, 'sigs', pushed.digest, pub, tmp.path, `${registry.host}/lib/app`), 1);
  assert.ok(pushed.referrers.some((r) => r.storedIn === `${other.host}/sigs` && r.tag?.endsWith('.sig')), JSON.stringify(pushed.referrers));
  const verified = await verify({ image: `${registry.host}/lib/app:1`, verifier: verifier(), signatureRepository: `${other.host}/sigs` });
  assert.equal(verified.digest, pushed.digest);
  assertOk(runCli(['verify-attestation', `${registry.host}/lib/app:1`, '--key', pub, '--type', 'slsaprovenance1'], { env: { COSIGN_REPOSITORY: `${other.host}/sigs` } }));
});

test('copy out of a layout with signatureRepository puts them there too', async () => {
  const copied = await copy({ from: `oci:${layout}:app`, to: `${registry.host}/lib/app:2`, signatureRepository: `${other.host}/copied-sigs` });
  assert.deepEqual(tags(other.host, 'copied-sigs'), signatureTags(copied.digest));
  assert.equal(opensslVerifiedSignatures(other.host, 'copied-sigs', copied.digest, pub, tmp.path, `${registry.host}/lib/app`), 1);
  await verify({ image: `${registry.host}/lib/app:2`, verifier: verifier(), signatureRepository: `${other.host}/copied-sigs` });
});

test('push with signatureRepository naming the image\'s own repository: nothing is split, nothing marked stored elsewhere', async () => {
  const pushed = await push({ layout, tag: 'app', to: `${registry.host}/lib/own:1`, signatureRepository: `${registry.host}/lib/own` });
  assert.deepEqual(tags(registry.host, 'lib/own'), ['1', ...signatureTags(pushed.digest)].sort());
  // Before carryReferrers kept the check: a Repository of its own for the same repository split the
  // referrers, and the signatures were reported as stored in another repository.
  assert.ok(pushed.referrers.length > 0 && pushed.referrers.every((r) => r.storedIn === undefined), JSON.stringify(pushed.referrers));
  assert.equal(opensslVerifiedSignatures(registry.host, 'lib/own', pushed.digest, pub, tmp.path, `${registry.host}/lib/app`), 1);
});

test('a signatureRepository that is no repository is refused before anything is pushed', async () => {
  for (const [call, text] of [
    [() => push({ layout, tag: 'app', to: `${registry.host}/lib/refused:1`, signatureRepository: `${other.host}/sigs:1` }), `${other.host}/sigs:1`],
    [() => copy({ from: `oci:${layout}:app`, to: `${registry.host}/lib/refused:1`, signatureRepository: 'oci:elsewhere' }), 'oci:elsewhere'],
  ] as const) {
    const err = await call().then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err) && err.code === 'EUSAGE', String(err));
    assert.match((err as Error).message, new RegExp(`\`signatureRepository\` ${text}: (a repository|expected a registry repository)`));
  }
  assert.throws(() => tags(registry.host, 'lib/refused'), /name unknown|not found|manifest unknown|NAME_UNKNOWN/i, 'nothing pushed');
});
