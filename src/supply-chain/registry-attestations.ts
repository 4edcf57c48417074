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
import { bundleEnvelopeLayer, isSigstoreBundle } from './sigstore-bundle.js';

/**
 * The DSSE envelopes among a registry image's OCI 1.1 referrers (the API, else the tag schema), as
 * the layers cosign's `.att` would hold: what `verify-attestation` reads beside `.att`, so an image
 * whose attestations travelled as referrers only (`oras cp -r`, a registry without cosign's tags)
 * still verifies, as it does in a layout; and the envelopes of the Sigstore bundles cosign 3
 * stores as referrers (`bundles`: what `verify` reads beside `.sig`). A listed manifest that is
 * gone is passed over. One listing answers both.
 */
export async function registryReferrerEnvelopes(client: RegistryClient, repository: Repository, subject: Descriptor): Promise<{ attestations: AttachedLayer[]; bundles: AttachedLayer[] }> {
  const { manifests } = await listReferrers(client, repository.name, subject.digest);
  const wanted = manifests.filter((m) => m.artifactType === DSSE_MEDIA_TYPE || isSigstoreBundle(m.artifactType));
  const found: { dsse: AttachedLayer[]; bundles: AttachedLayer[] }[] = [];
  await eachAtMost(wanted, DEFAULT_CONCURRENCY, async (referrer, i) => {
    const fetched = await repository.fetchManifest(referrer.digest).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ENOTFOUND') return undefined;
      throw err;
    });
    if (!fetched) return;
    const manifest = parseManifest(fetched.bytes, `${repository}@${referrer.digest}`, fetched.descriptor.mediaType);
    if (isIndex(manifest)) return;
    const read = (layers: Descriptor[]): Promise<AttachedLayer[]> => Promise.all(layers.filter((l) => l.size <= MAX_PAYLOAD_BYTES).map(async (layer) => ({
      descriptor: layer,
      payload: await readSmall(await repository.fetch(layer), MAX_PAYLOAD_BYTES, `${repository}: attestation ${layer.digest}`),
    })));
    const bundles = await read(manifest.layers.filter((l) => isSigstoreBundle(l.mediaType)));
    found[i] = {
      dsse: await read(manifest.layers.filter((l) => l.mediaType === DSSE_MEDIA_TYPE)),
      bundles: bundles.map(bundleEnvelopeLayer).filter((l): l is AttachedLayer => l !== undefined),
    };
  });
  const present = found.filter((f) => f !== undefined);
  const bundles = present.flatMap((f) => f.bundles);
  return { attestations: [...present.flatMap((f) => f.dsse), ...bundles], bundles };
}

/** The attestations among the referrers (registryReferrerEnvelopes), for verify-attestation. */
export async function registryAttestationLayers(client: RegistryClient, repository: Repository, subject: Descriptor): Promise<AttachedLayer[]> {
  return (await registryReferrerEnvelopes(client, repository, subject)).attestations;
}
