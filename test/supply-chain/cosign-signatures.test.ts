import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import type { Digest } from '../../src/oci/digest.js';
import { parsePublicKey } from '../../src/supply-chain/keys.js';
import { checkSignatures } from '../../src/supply-chain/sign.js';
import { KeyVerifier } from '../../src/supply-chain/signer.js';
import { parseSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE, simpleSigningPayload } from '../../src/supply-chain/simple-signing.js';
import { REPO_ROOT } from '../support/tools.js';

const DIR = join(REPO_ROOT, 'test', 'fixtures', 'cosign', 'containers-image');

interface StoredSignature { mimeType: string; payload: string; annotations: Record<string, string> }

/** containers/image keeps a signature as a type tag line then JSON (payload base64, the layer's annotations). */
function readSignature(path: string): { payload: Buffer; annotations: Record<string, string>; mimeType: string } {
  const bytes = readFileSync(path);
  const json = JSON.parse(bytes.subarray(bytes.indexOf('{')).toString('utf8')) as StoredSignature;
  return { payload: Buffer.from(json.payload, 'base64'), annotations: json.annotations, mimeType: json.mimeType };
}

function layersOf(...paths: string[]) {
  return paths.map((p) => {
    const s = readSignature(join(DIR, p));
    return { descriptor: { mediaType: s.mimeType, digest: sha256(s.payload), size: s.payload.length, annotations: s.annotations }, payload: s.payload };
  });
}

const key = (name: string) => new KeyVerifier(parsePublicKey(readFileSync(join(DIR, name), 'utf8'), name));
const manifestDigest = sha256(readFileSync(join(DIR, 'dir-img-cosign-valid', 'manifest.json'))) as Digest;

describe('signatures cosign (and skopeo) made', () => {
  it('verify with their public key for the digest of the manifest they signed', () => {
    const outcome = checkSignatures(layersOf('dir-img-cosign-valid/signature-1', 'dir-img-cosign-valid-with-tag/signature-1', 'dir-img-cosign-valid-2/signature-2'), manifestDigest, key('cosign.pub'), 'fixture');
    assert.equal(outcome.total, 3);
    assert.equal(outcome.verified.length, 3, outcome.rejected.join('; '));
    assert.equal(outcome.verified[0]!.dockerReference, '192.168.64.2:5000/cosign-signed-single-sample');
    assert.equal(outcome.verified[0]!.dockerManifestDigest, manifestDigest);
    assert.equal(outcome.verified[0]!.optional, null);
  });

  it('fail with another key, for another digest, and when signed by a key nobody trusts', () => {
    const layers = layersOf('dir-img-cosign-valid/signature-1');
    const other = checkSignatures(layers, manifestDigest, key('cosign2.pub'), 'fixture');
    assert.deepEqual([other.verified.length, other.rejected], [0, ['not signed by this key']]);
    const elsewhere = checkSignatures(layers, sha256('another manifest') as Digest, key('cosign.pub'), 'fixture');
    assert.deepEqual([elsewhere.verified.length, elsewhere.rejected], [0, [`signed by this key for another image (${manifestDigest})`]]);
    const unknown = checkSignatures(layersOf('unknown-cosign-key.signature'), manifestDigest, key('cosign.pub'), 'fixture');
    assert.equal(unknown.verified.length, 0);
    // cosign signed it with no -a: asked for a claim (verify -a), it has none.
    const claimed = checkSignatures(layers, manifestDigest, key('cosign.pub'), 'fixture', { release: '1' });
    assert.deepEqual([claimed.verified.length, claimed.rejected], [0, ['signed by this key without the annotation release=1']]);
  });

  it('a tampered payload or signature fails', () => {
    const [layer] = layersOf('dir-img-cosign-valid/signature-1');
    const payload = Buffer.from(layer!.payload.toString().replace('cosign-signed-single-sample', 'cosign-signed-single-sampla'));
    assert.equal(checkSignatures([{ ...layer!, payload }], manifestDigest, key('cosign.pub'), 'f').verified.length, 0);
    const sig = Buffer.from(layer!.descriptor.annotations['dev.cosignproject.cosign/signature']!, 'base64');
    sig[sig.length - 1] ^= 1;
    const annotations = { 'dev.cosignproject.cosign/signature': sig.toString('base64') };
    assert.equal(checkSignatures([{ ...layer!, descriptor: { ...layer!.descriptor, annotations } }], manifestDigest, key('cosign.pub'), 'f').verified.length, 0);
  });

  it('ocipush writes the payload cosign wrote, byte for byte', () => {
    const cosignMade = readSignature(join(DIR, 'dir-img-cosign-valid', 'signature-1'));
    assert.equal(cosignMade.mimeType, SIMPLE_SIGNING_MEDIA_TYPE);
    const parsed = parseSimpleSigningPayload(cosignMade.payload, 'fixture');
    const ours = simpleSigningPayload(parsed.critical.identity['docker-reference'], parsed.critical.image['docker-manifest-digest'] as Digest);
    assert.equal(ours.toString('utf8'), cosignMade.payload.toString('utf8'));
  });
});
