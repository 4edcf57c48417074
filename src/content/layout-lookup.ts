import { OcipushError } from '../errors.js';
import { isDigest } from '../oci/digest.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { isIndex, type ImageIndex } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { OciLayout } from './layout.js';

/**
 * What `resolve` finds when no entry of index.json has the name: an entry of that digest, else a
 * manifest under an index the layout lists (one platform's image of a multi-platform index), by
 * its digest, as a registry serves any manifest by digest and regctl's `ocidir://DIR@DIGEST`
 * reads it; its descriptor is the index's, platform included. Not found: ENOTFOUND, the line
 * listing what the layout holds.
 */
export async function resolveUnnamed(layout: OciLayout, index: ImageIndex, name: string): Promise<Descriptor> {
  const entry = index.manifests.find((d) => d.digest === name);
  if (entry) return entry;
  const has = index.manifests.map((d) => d.annotations?.[Annotation.RefName] ?? d.digest.slice(0, 19)).join(', ') || 'none';
  if (!isDigest(name)) throw new OcipushError('ENOTFOUND', `${layout.root}: no image tagged "${name}" (the layout has: ${has})`);
  const nested = await underIndexes(layout, index.manifests, name);
  if (nested) return nested;
  throw new OcipushError('ENOTFOUND', `${layout.root}: no manifest ${name} in the layout, listed or under an index it lists (the layout has: ${has})`, { digest: name });
}

/** The descriptor of `digest` among the manifests of the indexes under `entries`, breadth first; an index the layout lacks is passed over. */
async function underIndexes(layout: OciLayout, entries: readonly Descriptor[], digest: string): Promise<Descriptor | undefined> {
  const seen = new Set<string>();
  let level = entries.filter((d) => isIndexMediaType(d.mediaType));
  while (level.length > 0) {
    const next: Descriptor[] = [];
    for (const d of level) {
      if (seen.has(d.digest) || !(await layout.exists(d))) continue;
      seen.add(d.digest);
      const parsed = await layout.readManifest(d);
      if (!isIndex(parsed)) continue;
      const found = parsed.manifests.find((m) => m.digest === digest);
      if (found) return found;
      next.push(...parsed.manifests.filter((m) => isIndexMediaType(m.mediaType)));
    }
    level = next;
  }
  return undefined;
}
