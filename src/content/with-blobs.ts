import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import { bufferSource } from './blob-source.js';
import { isBlobSourceProvider, type BlobSourceProvider, type ReadOnlyStorage } from './storage.js';

/**
 * A storage seen with a few small blobs added in memory (the configs and manifests `mutate`
 * made, hashed when they were made): a copy reads those from memory and everything else from
 * the storage. It offers the storage's re-readable blob sources only where the storage has
 * them, so a copy treats the layers exactly as it would without the overlay.
 */
export function withBlobs(inner: ReadOnlyStorage, blobs: readonly { descriptor: Descriptor; bytes: Buffer }[]): ReadOnlyStorage {
  const added = new Map(blobs.map((b) => [b.descriptor.digest as string, b.bytes]));
  const overlay: ReadOnlyStorage & Partial<BlobSourceProvider> = {
    exists: async (desc, options) => added.has(desc.digest) || inner.exists(desc, options),
    fetch: async (desc, options) => {
      const bytes = added.get(desc.digest);
      return bytes ? Readable.from([bytes]) : inner.fetch(desc, options);
    },
  };
  if (isBlobSourceProvider(inner)) {
    overlay.blobSource = (desc) => {
      const bytes = added.get(desc.digest);
      return bytes ? bufferSource(bytes) : inner.blobSource(desc);
    };
  }
  return overlay;
}
