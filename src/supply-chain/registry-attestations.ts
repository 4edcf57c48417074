import type { Descriptor } from '../oci/descriptor.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { readSmall } from '../content/verify.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { eachAtMost } from '../each-at-most.js';
import type { RegistryClient } from '../registry/http.js';
import { listReferrers } from '../registry/referrers.js';
import type { Repository } from '../registry/repository.js';
import { MAX_PAYLOAD_BYTES, type AttachedLayer } from './cosign-tags.js';

/**
 * The DSSE envelopes among a registry image's OCI 1.1 referrers (the API, else the tag schema), as
 * the layers cosign's `.att` would hold: what `verify-attestation` reads beside `.att`, so an image
 * whose attestations travelled as referrers only (`oras cp -r`, a registry without cosign's tags)
 * still verifies, as it does in a layout. A listed manifest that is gone is passed over.
 */
export async function registryAttestationLayers(client: RegistryClient, repository: Repository, subject: Descriptor): Promise<AttachedLayer[]> {
  const { manifests } = await listReferrers(client, repository.name, subject.digest, { artifactType: DSSE_MEDIA_TYPE });
  const found: AttachedLayer[][] = [];
  await eachAtMost(manifests, DEFAULT_CONCURRENCY, async (referrer, i) => {
    const fetched = await repository.fetchManifest(referrer.digest).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ENOTFOUND') return undefined;
      throw err;
    });
    if (!fetched) return;
    const manifest = parseManifest(fetched.bytes, `${repository}@${referrer.digest}`, fetched.descriptor.mediaType);
    if (isIndex(manifest)) return;
    const envelopes = manifest.layers.filter((l) => l.mediaType === DSSE_MEDIA_TYPE && l.size <= MAX_PAYLOAD_BYTES);
    found[i] = await Promise.all(envelopes.map(async (layer) => ({
      descriptor: layer,
      payload: await readSmall(await repository.fetch(layer), MAX_PAYLOAD_BYTES, `${repository}: attestation ${layer.digest}`),
    })));
  });
  return found.flat();
}
