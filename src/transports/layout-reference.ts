import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OcipushError } from '../errors.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import type { Reference } from '../oci/reference.js';
import type { OciLayout } from '../content/layout.js';
import { imageEntries } from '../content/layout-referrers.js';
import { DEFAULT_TAG } from '../defaults.js';
import { splitDirAndName, type LayoutTarget } from './layout-name.js';

export type { LayoutTarget };

/**
 * Which image of a layout a push sends, in this order: the one `--tag` names (a tag or a digest);
 * the one named like the destination's tag (`push reg/app:1.2` finds `1.2`, `app:1.2` or the full
 * name, else the one name of that repository and tag under another registry, `localhost/app:1.2`);
 * the only image; the default tag a build writes. Anything else is ambiguous, and the error lists
 * what the layout holds.
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
    // A name podman save or buildah push gave in another registry: localhost/app:1 for reg/team/app:1.
    const suffix = `/${last}:${destination.tag}`;
    const elsewhere = byName.length === 0 ? index.manifests.filter((d) => nameOf(d)?.endsWith(suffix)) : [];
    if (elsewhere.length === 1) return elsewhere[0]!;
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

/**
 * `oci:DIR[:NAME]` (skopeo's syntax: the directory ends at the first colon, so NAME may be a full
 * reference), or a directory holding an `oci-layout` file: bare, or as a path with an image of it
 * (`./DIR:NAME`, `/DIR@sha256:…`), as oras's `--oci-layout` and umoci's `--image` name one.
 * Anything else is not a layout (and is read as a registry reference by the caller).
 */
export function parseLayoutTarget(text: string): LayoutTarget | undefined {
  if (text.startsWith('oci:')) {
    return splitDirAndName(text.slice(4));
  }
  // '' joined with oci-layout is ./oci-layout: an empty argument is no path.
  if (text === '') return undefined;
  if (existsSync(join(text, 'oci-layout'))) return { dir: text };
  // Only a path, which is never a registry reference: `FROM alpine:3.19` stays Docker Hub's
  // whatever directory the build runs beside.
  if (!/^\.{0,2}\//.test(text)) return undefined;
  const named = splitDirAndName(text);
  return named.name !== undefined && existsSync(join(named.dir, 'oci-layout')) ? named : undefined;
}
