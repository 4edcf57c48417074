import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';

/**
 * Storage keyed by descriptor, as oras-go has it. Every implementation verifies: `fetch` yields a
 * stream that fails if the bytes do not match `desc.digest` and `desc.size`, and `push` refuses to
 * store content under a digest it does not have.
 */
export interface ReadOnlyStorage {
  exists(desc: Descriptor): Promise<boolean>;
  fetch(desc: Descriptor): Promise<Readable>;
}

export interface Storage extends ReadOnlyStorage {
  push(desc: Descriptor, content: Readable): Promise<void>;
}

/** Names (tags) resolved to the descriptors they point at. */
export interface TagResolver {
  resolve(reference: string): Promise<Descriptor>;
  tag(desc: Descriptor, reference: string): Promise<void>;
}

/** A re-readable blob: opened once to hash, again to upload, again to retry. */
export interface BlobOpener {
  readonly descriptor: Descriptor;
  open(): Promise<Readable>;
}
