import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { checkEnvelope, makeStatement, signEnvelope, IN_TOTO_PAYLOAD_TYPE } from '../../src/supply-chain/attest.js';
import { SLSA_PROVENANCE_V1, slsaProvenance } from '../../src/supply-chain/provenance.js';
import { KeySigner, KeyVerifier } from '../../src/supply-chain/signer.js';
import { generateKeyPairSync } from 'node:crypto';

describe('SLSA provenance v1', () => {
  it('names the base, the context and the Dockerfile by digest; the signed statement verifies for the image and no other', async () => {
    const base = sha256('base manifest');
    const image = sha256('image manifest');
    const predicate = slsaProvenance({
      externalParameters: { command: 'build', flags: { tag: 'app:1' } },
      base: { uri: 'pkg:oci/debian?repository_url=docker.io/library/debian', digest: base },
      context: { uri: 'file:.', digest: sha256('context') },
      dockerfile: { uri: 'file:Dockerfile', digest: sha256('FROM debian') },
      builderId: 'https://ocipush.dev/cli', builderVersion: '0.1.0',
      startedOn: '2024-05-01T12:00:00Z', finishedOn: '2024-05-01T12:00:00Z',
    });
    const deps = (predicate.buildDefinition as { resolvedDependencies: { digest: { sha256: string } }[] }).resolvedDependencies;
    assert.equal(deps[0]!.digest.sha256, base.slice(7));
    assert.equal(deps.length, 3);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const envelope = await signEnvelope(new KeySigner(privateKey), IN_TOTO_PAYLOAD_TYPE, makeStatement('r/app', image, SLSA_PROVENANCE_V1, predicate));
    const verified = checkEnvelope(envelope, image, new KeyVerifier(publicKey), SLSA_PROVENANCE_V1);
    assert.notEqual(typeof verified, 'string', String(verified));
    assert.equal(checkEnvelope(envelope, base, new KeyVerifier(publicKey)), 'signed by this key about another image');
  });
});
