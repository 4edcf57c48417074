import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OcipushError } from '../errors.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import type { Reference } from '../oci/reference.js';
import type { OciLayout } from '../content/layout.js';
import { imageEntries } from '../content/layout-referrers.js';
import { DEFAULT_TAG } from '../defaults.js';

/**
 * Which image of a layout a push sends, in this order: the one `--tag` names (a tag or a digest);
 * the one named like the destination's tag (`push reg/app:1.2` finds `1.2`, `app:1.2` or the full
 * name); the only image; the default tag a build writes. Anything else is ambiguous, and the
 * error lists what the layout holds.
 */
export async function selectLayoutImage(layout: OciLayout, wanted: { tag?: string; destination: Reference }): Promise<Descriptor> {
  if (wanted.tag !== undefined && wanted.tag !== '') return layout.resolve(wanted.tag);
  const index = await layout.readIndex();
  index.manifests = imageEntries(index);
  const { destination } = wanted;
  if (destination.digest) {
    const byDigest = index.manifests.find((d) => d.digest === destination.digest);
    if (byDigest) return byDigest;
  }
  if (destination.tag) {
    const last = destination.repository.split('/').pop();
    const names = new Set([
      destination.tag,
      `${last}:${destination.tag}`,
      `${destination.repository}:${destination.tag}`,
      `${destination.registry}/${destination.repository}:${destination.tag}`,
    ]);
    const byName = index.manifests.filter((d) => names.has(nameOf(d) ?? '') || names.has(d.annotations?.[Annotation.ContainerdImageName] ?? ''));
    if (byName.length === 1) return byName[0]!;
  }
  if (index.manifests.length === 1) return index.manifests[0]!;
  const byDefault = index.manifests.find((d) => nameOf(d) === DEFAULT_TAG);
  if (byDefault) return byDefault;
  if (index.manifests.length === 0) throw new OcipushError('ENOTFOUND', `${layout.root}: the layout holds no image (build one first)`);
  const names = index.manifests.map((d) => nameOf(d) ?? d.digest).join(', ');
  throw new OcipushError('EUSAGE', `${layout.root} holds ${index.manifests.length} images; name one with --tag (${names})`);
}

function nameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.RefName];
}

export interface LayoutTarget {
  dir: string;
  /** A tag or digest inside the layout; none means its only image. */
  name?: string;
}

/**
 * `oci:DIR[:NAME]` (skopeo's syntax), or a directory holding an `oci-layout` file. Anything else
 * is not a layout (and is read as a registry reference by the caller).
 */
export function parseLayoutTarget(text: string): LayoutTarget | undefined {
  if (text.startsWith('oci:')) {
    const rest = text.slice(4);
    // The name follows the last colon after the last slash: oci:/tmp/l:v1, oci:l@sha256:… .
    const at = rest.lastIndexOf('@');
    if (at > rest.lastIndexOf('/') && rest.slice(at + 1).startsWith('sha256:')) return { dir: rest.slice(0, at) || '.', name: rest.slice(at + 1) };
    const slash = rest.lastIndexOf('/');
    const colon = rest.indexOf(':', slash + 1);
    if (colon >= 0) return { dir: rest.slice(0, colon) || '.', name: rest.slice(colon + 1) || undefined };
    return { dir: rest || '.' };
  }
  if (existsSync(join(text, 'oci-layout'))) return { dir: text };
  return undefined;
}
