import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { encodeJson, isIndex, parseManifest } from '../oci/manifest.js';
import { sha256 } from '../oci/digest.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import type { BorrowedBlobs } from '../content/with-blobs.js';
import { readManifest } from '../image/load.js';
import { IndexEntries } from './create-index.js';

/** An image or index to put in the new index, opened where it lives. */
export interface IndexSource {
  /** The reference as the user wrote it, for messages. */
  name: string;
  storage: ReadOnlyStorage;
  root: Descriptor;
  rootBytes: Buffer;
}

export interface ComposedIndex {
  root: Descriptor;
  rootBytes: Buffer;
  /** The index's entries, in the order given. */
  manifests: Descriptor[];
  /** Per source, every manifest and blob under the entries it gave: where a copy reads them from. */
  borrowed: BorrowedBlobs[];
}

/** How deep indexes may nest under an entry, as the loader allows. */
const MAX_DEPTH = 4;

/**
 * A multi-platform index over images that live anywhere (`docker buildx imagetools create`,
 * `crane index append`): each source's image, or every entry of its index, becomes an entry with
 * its platform (from the entry, or the image's config), under the rules of `index create` for a
 * layout (one image per platform, one media type family). Nothing is copied here: the index is
 * made in memory, and the manifests and blobs under it are listed per source, for a copy to read
 * from there (and mount, within one registry).
 */
export async function composeIndex(sources: readonly IndexSource[], annotations?: Record<string, string>): Promise<ComposedIndex> {
  if (sources.length === 0) throw new OcipushError('EUSAGE', 'name at least one image to put in the index');
  const entries = new IndexEntries();
  const borrowed: BorrowedBlobs[] = [];
  for (const source of sources) {
    const parsed = parseManifest(source.rootBytes, `${source.name}: manifest ${source.root.digest}`, source.root.mediaType);
    // An image given by itself is entered by what it is: a layout's index.json entry annotates it with the layout's names.
    const { annotations: _annotations, ...root } = source.root;
    const given = isIndex(parsed) ? parsed.manifests : [{ ...root, mediaType: parsed.mediaType ?? source.root.mediaType }];
    const descriptors: Descriptor[] = [];
    for (const entry of given) {
      const name = isIndex(parsed) ? `${source.name}@${entry.digest.slice(0, 19)}` : source.name;
      for (const added of await entries.addFrom(source.storage, entry, name)) await listContent(source.storage, added, name, descriptors, 0);
    }
    borrowed.push({ storage: source.storage, descriptors });
  }
  const { mediaType, index } = entries.index(annotations);
  const rootBytes = encodeJson(index);
  return { root: { mediaType, digest: sha256(rootBytes), size: rootBytes.length }, rootBytes, manifests: entries.entries, borrowed };
}

/** `desc` and everything under it: manifests of a nested index, each manifest's config and layers. */
async function listContent(storage: ReadOnlyStorage, desc: Descriptor, name: string, into: Descriptor[], depth: number): Promise<void> {
  into.push(desc);
  const { parsed } = await readManifest(storage, desc, { name });
  if (!isIndex(parsed)) {
    into.push(parsed.config, ...parsed.layers);
    return;
  }
  if (depth >= MAX_DEPTH) throw new OcipushError('EINVALID', `${name}: image indexes nested too deep`);
  for (const child of parsed.manifests) await listContent(storage, child, name, into, depth + 1);
}
