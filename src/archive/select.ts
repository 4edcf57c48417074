import { OcipushError } from '../errors.js';
import type { OciLayout } from '../content/layout.js';
import { imageEntries } from '../content/layout-referrers.js';
import { isManifestMediaType, MediaType } from '../oci/media-types.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { Annotation, type Descriptor, type Platform } from '../oci/descriptor.js';
import { loadImage } from '../image/load.js';
import type { ImageView } from '../image/view.js';
import { isBareTag, normaliseRepoTag, repoTagForEntry } from './names.js';

/** `IMAGE[=REPO:TAG]` as given on the command line: a layout tag or digest, and an optional new name. */
export interface ImageSelector {
  source: string;
  repoTag?: string;
}

/** One image to export: what it is and the names it gets. */
export interface SelectedImage extends ImageView {
  /** The layout names (ref.name) or digests it was selected by. */
  sources: string[];
  repoTags: string[];
}

export interface SelectOptions {
  /** Repository for layout entries whose name is a bare tag (`latest` → `REPO:latest`). */
  repository?: string;
  platform: Platform;
  /** Told when a name is chosen for the user (a bare name `hello` exported as `hello:latest`). */
  onNotice?: (message: string) => void;
}

function bareNameAsRepository(name: string): string | undefined {
  try {
    return normaliseRepoTag(name, name);
  } catch {
    return undefined;
  }
}

export function parseImageSelector(arg: string): ImageSelector {
  const eq = arg.indexOf('=');
  if (eq === 0) throw new OcipushError('EUSAGE', `"${arg}": expected IMAGE[=REPO:TAG], the image is missing`);
  if (eq < 0) return { source: arg };
  const source = arg.slice(0, eq);
  const target = arg.slice(eq + 1);
  if (!target) throw new OcipushError('EUSAGE', `"${arg}": expected IMAGE=REPO:TAG, the new name is missing`);
  return { source, repoTag: normaliseRepoTag(target, `"${arg}"`) };
}

/**
 * Decides which images go into the archive and under which names. No selector means every tagged
 * image of the layout (or its only image). Entries that resolve to the same manifest become one
 * archive entry with several RepoTags, as `docker save a:1 a:latest` writes them.
 */
export async function selectImages(layout: OciLayout, selectors: ImageSelector[], options: SelectOptions): Promise<SelectedImage[]> {
  const index = await layout.readIndex();
  const picks: { entry: Descriptor; source: string; repoTag?: string }[] = [];
  if (selectors.length === 0) {
    // cosign's signatures, attestations and SBOMs (`sha256-<hex>.sig`, as sign and copy keep them) are
    // no images: docker load and podman load refuse the whole archive over their non-tar layers.
    const tagged = imageEntries(index).filter((d) => d.annotations?.[Annotation.RefName] !== undefined);
    if (tagged.length > 0) {
      for (const entry of tagged) {
        const name = entry.annotations![Annotation.RefName]!;
        // A named artifact (oras push --oci-layout, artifact push) is the layout's own, but no image:
        // left out with a word, as a docker archive holds only images, rather than failing the rest.
        const artifact = await artifactConfigType(layout, entry);
        if (artifact === undefined) picks.push({ entry, source: name });
        else options.onNotice?.(`"${name}" is not a container image (config media type ${artifact}): left out of the archive`);
      }
    } else {
      const only = await layout.resolve();
      picks.push({ entry: only, source: only.digest });
    }
  } else {
    for (const selector of selectors) {
      const entry = await layout.resolve(selector.source);
      picks.push({ entry, source: selector.source, repoTag: selector.repoTag });
    }
  }

  const byManifest = new Map<string, SelectedImage>();
  const owners = new Map<string, string>();
  for (const pick of picks) {
    let repoTag = pick.repoTag ?? repoTagForEntry(pick.entry, options.repository);
    if (repoTag === undefined && isBareTag(pick.source) && pick.entry.annotations?.[Annotation.RefName] === pick.source) {
      // A bare name (`hello-scratch`) is read as docker and podman read `docker tag X hello-scratch`:
      // the repository hello-scratch, tag latest. One that cannot be a repository name needs one.
      repoTag = bareNameAsRepository(pick.source);
      if (repoTag === undefined) {
        throw new OcipushError('EUSAGE', `image "${pick.source}" in ${layout.root} is a bare tag with no repository: add --repository NAME (giving NAME:${pick.source}) or name it ${pick.source}=REPO:TAG`);
      }
      options.onNotice?.(`image "${pick.source}" is named ${repoTag} in the archive, as docker names it (--repository NAME gives NAME:${pick.source}; ${pick.source}=REPO:TAG any name)`);
    }
    const image = await loadImage(layout, pick.entry, { platform: options.platform, name: `"${pick.source}"` });
    const key = image.descriptor.digest;
    let selected = byManifest.get(key);
    if (!selected) {
      selected = { ...image, sources: [], repoTags: [] };
      byManifest.set(key, selected);
    }
    if (!selected.sources.includes(pick.source)) selected.sources.push(pick.source);
    if (repoTag !== undefined) {
      const owner = owners.get(repoTag);
      if (owner !== undefined && owner !== key) {
        throw new OcipushError('EUSAGE', `two different images would both be named ${repoTag} in the archive`);
      }
      owners.set(repoTag, key);
      if (!selected.repoTags.includes(repoTag)) selected.repoTags.push(repoTag);
    }
  }
  return [...byManifest.values()];
}

/** The config media type of a manifest entry that is no container image (an artifact's), else undefined. */
async function artifactConfigType(layout: OciLayout, entry: Descriptor): Promise<string | undefined> {
  if (!isManifestMediaType(entry.mediaType)) return undefined;
  const manifest = parseManifest(await layout.readBlob(entry), `"${entry.annotations?.[Annotation.RefName] ?? entry.digest}" in ${layout.root}`, entry.mediaType);
  if (isIndex(manifest)) return undefined;
  const type = manifest.config.mediaType;
  return type === MediaType.OciConfig || type === MediaType.DockerConfig ? undefined : type;
}
