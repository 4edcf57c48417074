import type { Descriptor } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { readSmall } from '../content/verify.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { eachAtMost } from '../each-at-most.js';
import type { RegistryClient } from '../registry/http.js';
import { listReferrers } from '../registry/referrers.js';
import type { Repository } from '../registry/repository.js';
import { readLayer, type AttachedLayer } from './cosign-tags.js';
import { signedLayers, signedReferrerKind, sortReferred, type ReferredSignatures } from './referrer-signatures.js';

/**
 * What a registry image's OCI 1.1 referrers (the API, else the tag schema) hold that verify and
 * verify-attestation read beside cosign's tags: the DSSE envelopes, as the layers cosign's `.att`
 * would hold (an image whose attestations travelled as referrers only, `oras cp -r`, a registry
 * without cosign's tags, still verifies, as in a layout); the envelopes of the Sigstore bundles
 * cosign 3 stores as referrers (`bundles`); and the signatures `cosign sign
 * --registry-referrers-mode=oci-1-1` stores as a referrer (`signatures`, as `.sig` layers). A
 * listed manifest that is gone is passed over. One listing answers all.
 */
export async function registryReferrerEnvelopes(client: RegistryClient, repository: Repository, subject: Descriptor): Promise<ReferredSignatures> {
  const { manifests } = await listReferrers(client, repository.name, subject.digest);
  const wanted = manifests.filter((m) => signedReferrerKind(m.artifactType) !== undefined);
  const found: Parameters<typeof sortReferred>[0][number][] = [];
  await eachAtMost(wanted, DEFAULT_CONCURRENCY, async (referrer, i) => {
    const fetched = await repository.fetchManifest(referrer.digest).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ENOTFOUND') return undefined;
      throw err;
    });
    if (!fetched) return;
    const manifest = parseManifest(fetched.bytes, `${repository}@${referrer.digest}`, fetched.descriptor.mediaType);
    if (isIndex(manifest)) return;
    const kind = signedReferrerKind(referrer.artifactType)!;
    const layers = await Promise.all(signedLayers(kind, manifest.layers).map((layer) => readLayer(layer, async (limit) => (
      readSmall(await repository.fetch(layer), limit, `${repository}: referrer ${referrer.digest}: ${layer.digest}`)
    ))));
    found[i] = { kind, layers };
  });
  return sortReferred(found.filter((f) => f !== undefined));
}

/** The attestations among the referrers (registryReferrerEnvelopes), for verify-attestation. */
export async function registryAttestationLayers(client: RegistryClient, repository: Repository, subject: Descriptor): Promise<AttachedLayer[]> {
  return (await registryReferrerEnvelopes(client, repository, subject)).attestations;
}
