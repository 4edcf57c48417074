import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { OciLayout } from '../content/layout.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import type { RegistryClient } from '../registry/http.js';
import { deleteManifest } from '../registry/delete.js';
import { listReferrers, removeFromTagIndex } from '../registry/referrers.js';
import type { AttachedLayer } from './cosign-tags.js';

/**
 * The `.att` layers `attest --replace` leaves out: those whose statement has `predicateType`, read
 * from the envelope's payload as cosign's ReplaceOp reads it (whoever signed it: replacing is
 * the attester's choice, not a verification).
 */
export function layersOfType(layers: readonly AttachedLayer[], predicateType: string): Set<string> {
  const out = new Set<string>();
  for (const { descriptor, payload, oversized } of layers) {
    if (oversized || descriptor.mediaType !== DSSE_MEDIA_TYPE) continue;
    try {
      const envelope = JSON.parse(payload.toString('utf8')) as { payload?: unknown };
      if (typeof envelope?.payload !== 'string') continue;
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicateType?: unknown };
      if (statement?.predicateType === predicateType) out.add(descriptor.digest);
    } catch {
      // Not an envelope of a statement: no predicate type to match, kept.
    }
  }
  return out;
}

/** A DSSE referrer of that predicate type (as attest and build --provenance annotate it), other than `keep`. */
function replaced(entry: Pick<Descriptor, 'digest' | 'artifactType' | 'annotations'>, predicateType: string, keep: Digest): boolean {
  return entry.digest !== keep && entry.artifactType === DSSE_MEDIA_TYPE && entry.annotations?.predicateType === predicateType;
}

/**
 * `attest --replace` in a registry: the subject's DSSE referrers of the predicate type, other than
 * the one just stored, deleted (and taken out of the tag schema's index), so verify-attestation,
 * which reads referrers beside `.att`, no longer finds them. How many.
 */
export async function deleteRegistryReferrersOfType(client: RegistryClient, repository: string, subject: Digest, predicateType: string, keep: Digest): Promise<number> {
  const { via, manifests } = await listReferrers(client, repository, subject);
  const old = manifests.filter((m) => replaced(m, predicateType, keep));
  for (const m of old) {
    await deleteManifest(client, repository, m.digest).catch((err: unknown) => {
      // Listed but gone (deleted by another tool, the tag schema's index left stale): only the entry is left to remove.
      if (err instanceof OcipushError && err.code === 'ENOTFOUND') return;
      if (err instanceof OcipushError) throw new OcipushError(err.code, `the new attestation is stored, but the earlier one it replaces stays as a referrer: ${err.message}`, err.details);
      throw err;
    });
    if (via === 'tag-schema') await removeFromTagIndex(client, repository, subject, m.digest);
  }
  return old.length;
}

/** `attest --replace` in a layout: those referrers' entries taken out of index.json (gc drops their blobs). */
export async function dropLayoutReferrersOfType(layout: OciLayout, subject: Descriptor, predicateType: string, keep: Digest): Promise<number> {
  const old = new Set((await layoutReferrers(layout, subject))
    .filter(({ descriptor, manifest }) => replaced({ digest: descriptor.digest, artifactType: manifest.artifactType, annotations: manifest.annotations }, predicateType, keep))
    .map(({ descriptor }) => descriptor.digest));
  if (old.size > 0) await layout.updateIndex((index) => ({ ...index, manifests: index.manifests.filter((m) => !old.has(m.digest)) }));
  return old.size;
}
