import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import { bufferSource, storageSource, type BlobSource } from './blob-source.js';
import {
  isBlobSourceProvider, isMountLookup, isMountSourceRecorder, type BlobSourceProvider, type MountLookup, type MountSourceRecorder, type ReadOnlyStorage,
} from './storage.js';

/** Blobs another storage holds (a new base image's layers), read from there. */
export interface BorrowedBlobs {
  storage: ReadOnlyStorage;
  descriptors: readonly Descriptor[];
}

/**
 * A storage seen with a few small blobs added in memory (the configs and manifests `mutate` and
 * `rebase` made, hashed when they were made) and some read from other storages (a new base's
 * layers): a copy reads those from where they are and everything else from the storage. Blobs
 * are re-readable as the storage that holds them makes them (a layout's file by range), else as
 * a copy would read them from it.
 */
export function withBlobs(
  inner: ReadOnlyStorage, blobs: readonly { descriptor: Descriptor; bytes: Buffer }[], borrowed: readonly BorrowedBlobs[] = [],
): ReadOnlyStorage & BlobSourceProvider & Partial<MountLookup> & Partial<MountSourceRecorder> {
  const added = new Map(blobs.map((b) => [b.descriptor.digest as string, b.bytes]));
  const elsewhere = new Map<string, ReadOnlyStorage>();
  for (const b of borrowed) for (const d of b.descriptors) elsewhere.set(d.digest, b.storage);
  const holder = (desc: Descriptor) => elsewhere.get(desc.digest) ?? inner;
  // A lazily built layout's record of where its base layers live goes along: a copy of the
  // changed image into that registry mounts them, as a copy of the image itself would.
  const lookups = [inner, ...borrowed.map((b) => b.storage)].flatMap((s): MountLookup[] => (isMountLookup(s) ? [s] : []));
  return {
    // Where the layout's blobs went is still the layout's to record (the blobs added here, made
    // in memory, are never its: recorded, they would only name digests it does not hold).
    ...(isMountSourceRecorder(inner) ? {
      remember: (descs: Pick<Descriptor, 'digest'>[], repository: string) => inner.remember(descs.filter((d) => !added.has(d.digest) && !elsewhere.has(d.digest)), repository),
      forgetMountSources: (entries: { descriptor: Descriptor; repository: string }[]) => inner.forgetMountSources(entries),
    } : {}),
    ...(lookups.length > 0 ? { mountLookup: async (registry: string) => {
      const each = await Promise.all(lookups.map((l) => l.mountLookup(registry)));
      return (desc: Pick<Descriptor, 'digest'>) => [...new Set(each.flatMap((find) => find(desc)))];
    } } : {}),
    exists: async (desc, options) => added.has(desc.digest) || holder(desc).exists(desc, options),
    fetch: async (desc, options) => {
      const bytes = added.get(desc.digest);
      return bytes ? Readable.from([bytes]) : holder(desc).fetch(desc, options);
    },
    blobSource: (desc): BlobSource => {
      const bytes = added.get(desc.digest);
      if (bytes) return bufferSource(bytes);
      const storage = holder(desc);
      return isBlobSourceProvider(storage) ? storage.blobSource(desc) : storageSource(storage, desc);
    },
  };
}
