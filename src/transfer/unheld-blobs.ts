import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { CopyOutcome } from './copy-graph.js';

/**
 * The blobs of a manifest to upload after the registry refused the manifest for lacking them
 * (MANIFEST_BLOB_UNKNOWN), though it had said it held them: a mount it answered 201 for and did
 * not do (Artifactory has), or a blob its HEAD found and garbage collection took since. Those the
 * registry names in the error's details; when it names none, those it said it mounted. A blob
 * this copy uploaded itself is not sent again (the refusal is then about something else), and
 * none is when the error is another.
 */
export function blobsToSendAgain(err: unknown, blobs: Descriptor[], outcomeOf: (digest: string) => CopyOutcome | undefined): Descriptor[] {
  if (!(err instanceof OcipushError) || !err.details.registryCodes?.includes('MANIFEST_BLOB_UNKNOWN')) return [];
  const named = new Set((err.details.registryDetails as unknown[] | undefined)?.filter((d): d is string => typeof d === 'string'));
  const claimed = blobs.filter((blob, i) => blobs.findIndex((b) => b.digest === blob.digest) === i)
    .filter((blob) => { const outcome = outcomeOf(blob.digest); return outcome === 'mounted' || outcome === 'exists'; });
  if (named.size > 0) return claimed.filter((blob) => named.has(blob.digest));
  return claimed.filter((blob) => outcomeOf(blob.digest) === 'mounted');
}
