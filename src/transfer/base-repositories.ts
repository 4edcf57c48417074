import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { isManifestMediaType } from '../oci/media-types.js';
import { parseReference } from '../oci/reference.js';
import type { OciLayout } from '../content/layout.js';

/**
 * The repository of the image's base (`org.opencontainers.image.base.name`, on the layout entry
 * or the manifest) when it is in the same registry as the push: its lower layers are most likely
 * there already, so they are mounted from it.
 */
export async function baseRepositories(layout: OciLayout, root: Descriptor, registry: string, repository: string): Promise<string[]> {
  const names = [root.annotations?.[Annotation.BaseName]];
  if (isManifestMediaType(root.mediaType)) {
    // The copy reads the manifest again and reports any problem with it.
    names.push(await layout.readManifest(root).then((m) => m.annotations?.[Annotation.BaseName], () => undefined));
  }
  const repos: string[] = [];
  for (const name of names) {
    if (!name) continue;
    try {
      const ref = parseReference(name);
      if (ref.registry === registry && ref.repository !== repository) repos.push(ref.repository);
    } catch {
      // Not a reference to mount from: a normal upload.
    }
  }
  return repos;
}
