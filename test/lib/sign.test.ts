import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isOcipushError, KeySigner, KeyVerifier, parsePrivateKey, push, sign, verify, type OcipushError } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, run, tempDir } from '../support/tools.js';
import { skopeoRawManifest, umociImage, type UmociImage } from '../registry/support.js';

let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let other: UmociImage;
let signer: KeySigner;
let verifier: KeyVerifier;
let otherVerifier: KeyVerifier;
let publicPem: string;

before(async () => {
  requireTool('openssl');
  requireTool('skopeo');
  tmp = await tempDir('ocipush-lib-sign-');
  registry = await startRegistry();
  image = umociImage(tmp.path, 'v1', [10_000]);
  other = umociImage(tmp.path, 'v2', [20_000]);
  const keys = (name: string) => {
    const { key, pub } = opensslKeyPair(tmp.path, name);
    return { key: readFileSync(key, 'utf8'), pub: readFileSync(pub, 'utf8') };
  };
  const mine = keys('mine');
  publicPem = join(tmp.path, 'mine.pub');
  signer = new KeySigner(await parsePrivateKey(mine.key, 'mine.pem', async () => Buffer.alloc(0)));
  verifier = new KeyVerifier(createPublicKey(mine.pub));
  otherVerifier = new KeyVerifier(createPublicKey(keys('theirs').pub));
  await push({ layout: image.layout, tag: 'v1', to: `${registry.host}/lib/signed:1` });
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(isOcipushError(err), `expected an OcipushError ${code}, got ${String(err)}`);
  assert.equal((err as OcipushError).code, code, (err as OcipushError).message);
  assert.match((err as OcipushError).message, message);
}

/** The payload and base64 signature of the `.sig` image's last layer, as the registry holds them, checked with openssl. */
async function opensslVerifies(repository: string, digest: string): Promise<{ identity: string; digest: string }> {
  const sigTag = `${digest.replace(':', '-')}.sig`;
  const manifest = JSON.parse(skopeoRawManifest(`${registry.host}/${repository}:${sigTag}`).bytes.toString()) as { layers: { digest: string; annotations: Record<string, string> }[] };
  const layer = manifest.layers.at(-1)!;
  const payload = Buffer.from(await (await fetch(`http://${registry.host}/v2/${repository}/blobs/${layer.digest}`)).arrayBuffer());
  const payloadFile = join(tmp.path, 'payload.json');
  const signatureFile = join(tmp.path, 'payload.sig');
  writeFileSync(payloadFile, payload);
  writeFileSync(signatureFile, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
  assert.match(run('openssl', ['dgst', '-sha256', '-verify', publicPem, '-signature', signatureFile, payloadFile]), /Verified OK/);
  const parsed = JSON.parse(payload.toString()) as { critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string } };
  assert.equal(parsed.critical.type, 'cosign container image signature');
  return { identity: parsed.critical.identity['docker-reference'], digest: parsed.critical.image['docker-manifest-digest'] };
}

test('sign stores a cosign signature of the digest (openssl verifies it over the payload the registry holds); verify resolves for that key only', async () => {
  const signed = await sign({ image: `${registry.host}/lib/signed:1`, signer, annotations: { 'git-sha': 'abc123' } });
  assert.equal(signed.digest, image.manifest.digest);
  assert.deepEqual(signed.signatures.map((s) => [s.tag, s.appended]), [[`${image.manifest.digest.replace(':', '-')}.sig`, true]]);
  assert.deepEqual(await opensslVerifies('lib/signed', image.manifest.digest), { identity: `${registry.host}/lib/signed`, digest: image.manifest.digest });

  const verified = await verify({ image: `${registry.host}/lib/signed:1`, verifier, annotations: { 'git-sha': 'abc123' } });
  assert.equal(verified.digest, image.manifest.digest);
  assert.deepEqual(verified.verified.map((v) => v.optional), [{ 'git-sha': 'abc123' }]);
  await rejectsWith(verify({ image: `${registry.host}/lib/signed:1`, verifier: otherVerifier }), 'EINVALID', /none of 1 signature verifies: not signed by this key$/);
  await rejectsWith(verify({ image: `${registry.host}/lib/signed:1`, verifier, annotations: { 'git-sha': 'def456' } }), 'EINVALID', /without the annotation git-sha=def456/);
  // The same key again adds nothing (cosign's duplicate check).
  assert.equal((await sign({ image: `${registry.host}/lib/signed:1`, signer, annotations: { 'git-sha': 'abc123' } })).signatures[0]!.appended, false);
});

test('an image pushed over the signed tag is not verified; signatureRepository keeps the signatures elsewhere, as COSIGN_REPOSITORY', async () => {
  await push({ layout: other.layout, tag: 'v2', to: `${registry.host}/lib/moved:1` });
  await push({ layout: image.layout, tag: 'v1', to: `${registry.host}/lib/moved:2` });
  await sign({ image: `${registry.host}/lib/moved:2`, signer });
  await rejectsWith(verify({ image: `${registry.host}/lib/moved:1`, verifier }), 'EINVALID', /no signatures found$/);

  const signed = await sign({ image: `${registry.host}/lib/moved:1`, signer, signatureRepository: `${registry.host}/lib/sigs`, identity: `${registry.host}/lib/released` });
  assert.deepEqual(await opensslVerifies('lib/sigs', other.manifest.digest), { identity: `${registry.host}/lib/released`, digest: other.manifest.digest });
  assert.equal(signed.digest, other.manifest.digest);
  await verify({ image: `${registry.host}/lib/moved:1`, verifier, signatureRepository: `${registry.host}/lib/sigs` });
  await rejectsWith(verify({ image: `${registry.host}/lib/moved:1`, verifier }), 'EINVALID', /no signatures found$/);
});

test('sign and verify refuse a layout, a missing signer or verifier, and a tagged repository, in the library\'s words, before any request', async () => {
  const before = registry.accessLog().length;
  await rejectsWith(sign({ image: `oci:${image.layout}:v1`, signer }), 'EUSAGE', /`image` oci:.*: expected a registry reference/);
  await rejectsWith(sign({ image: `${registry.host}/lib/signed:1` } as Parameters<typeof sign>[0]), 'EUSAGE', /^sign: `signer` is missing/);
  await rejectsWith(verify({ image: `${registry.host}/lib/signed:1` } as Parameters<typeof verify>[0]), 'EUSAGE', /^verify: `verifier` is missing/);
  await rejectsWith(sign({ image: `${registry.host}/lib/signed:1`, signer, identity: `${registry.host}/lib/x:1` }), 'EUSAGE', /`identity` .*: a repository \(REGISTRY\/REPO\), without a tag or digest/);
  await rejectsWith(verify({ image: `${registry.host}/lib/signed:1`, verifier, signatureRepository: `${registry.host}/lib/sigs:1` }), 'EUSAGE', /`signatureRepository` .*: a repository/);
  assert.deepEqual(registry.accessLog().slice(before), [], 'no request');
});
