import { OcipushError } from '../errors.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { Annotation, describePlatform, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { builtPlatform, servesPlatform } from '../image/platform.js';
import { layerCompression, MediaType } from '../oci/media-types.js';
import { encodeJson, platformOfConfig, type ImageConfig } from '../oci/manifest.js';
import { formatReference, parseReference } from '../oci/reference.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import type { BorrowedBlobs } from '../content/with-blobs.js';
import type { ImageView } from '../image/view.js';
import { convertLayer } from './compose.js';
import { sortedRecord } from './config.js';
import { describeBytes, imagePlatform, readImageConfig, rewriteImages, type ImageRewrite, type ImageToRewrite, type RewrittenImages } from './rewrite-images.js';

/** A base image for one platform, opened wherever it lives. */
export interface OpenedBase {
  image: ImageView;
  /** Holds the base's layers. */
  storage: ReadOnlyStorage;
  /** Its name for `org.opencontainers.image.base.name` (a registry reference); none for a layout. */
  name?: string;
}

export interface RebaseOptions {
  /** The base the image was built on (default: its `base.digest` annotation, in the repository of `base.name`). */
  oldBase?: string;
  /** The base to put under it instead (default: its `base.name` annotation, resolved now). */
  newBase?: string;
  /**
   * Opens a base reference for an image of `platform` (the caller owns the registry clients): an
   * index's image of a lower variant may stand for it, as build takes a base; the old base may be
   * that image by digest (what build wrote in base.digest).
   */
  openBase: (reference: string, platform: Platform, role: BaseRole) => Promise<OpenedBase>;
}

export type BaseRole = 'old' | 'new';

export interface RebasedImage extends RewrittenImages {
  /** Per image rebased: the old base's manifest and the new one's. */
  bases: { platform: Platform; oldBase: Digest; newBase: Digest; newBaseName?: string }[];
  /** The new bases' layers, which the source does not hold: where to read them. */
  borrowed: BorrowedBlobs[];
  /** Images already on their new base (nothing to do). */
  current: { platform: Platform; base: Digest }[];
}


/**
 * The platform a base is chosen for: a Windows image's os.version cut to its build (10.0.20348
 * for 10.0.20348.887), so that of an index of Server 2019 and 2022 bases the image's own release
 * is taken, in any update: the new base is the old one patched, a later os.version.
 */
function anyUpdate(platform: Platform): Platform {
  const { 'os.version': version, ...rest } = platform;
  const build = /^(\d+\.\d+\.\d+)(\.\d+)*$/.exec(version ?? '')?.[1];
  return build ? { ...rest, 'os.version': build } : rest;
}
/**
 * The image `root` names with its base swapped, as crane rebase does, for every image of an
 * index (crane refuses an index): each image's layers must begin with the old base's layers
 * (their diff_ids, whatever the compression); those are replaced by the new base's, and the config keeps the image's
 * own run config, time and the history above the old base, with the new base's platform fields,
 * diff_ids and history below. The base annotations then name the new base, so the next rebase
 * finds it. The layers above the base are not read, and the new base's are only referenced.
 */
export async function rebaseImage(storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, name: string, options: RebaseOptions): Promise<RebasedImage> {
  const bases: RebasedImage['bases'] = [];
  const borrowed: BorrowedBlobs[] = [];
  const current: RebasedImage['current'] = [];
  const rewrite = async (image: ImageToRewrite): Promise<ImageRewrite | undefined> => {
    const config = await readImageConfig(storage, image, name);
    const platform = imagePlatform(image, config);
    const where = image.descriptor.digest === root.digest ? name : `${name} (${describePlatform(platform)})`;
    const refs = baseReferences(image, options, where);
    const wanted = anyUpdate(platform);
    const [oldBase, newBase] = await Promise.all([options.openBase(refs.oldBase, wanted, 'old'), options.openBase(refs.newBase, wanted, 'new')]);
    if (newBase.image.descriptor.digest === oldBase.image.descriptor.digest) {
      current.push({ platform, base: newBase.image.descriptor.digest });
      return undefined;
    }
    const rebased = swapBase(image, config, platform, oldBase.image, newBase, where, refs.oldBase);
    bases.push({ platform, oldBase: oldBase.image.descriptor.digest, newBase: newBase.image.descriptor.digest, ...(newBase.name ? { newBaseName: newBase.name } : {}) });
    borrowed.push({ storage: newBase.storage, descriptors: newBase.image.manifest.layers });
    return rebased;
  };
  const result = await rewriteImages(storage, root, rootBytes, name, rewrite, { verb: 'rebase' });
  return { ...result, bases, borrowed, current };
}

function swapBase(image: ImageToRewrite, config: ImageConfig, platform: Platform, oldBase: ImageView, newBase: OpenedBase, where: string, oldReference: string): ImageRewrite {
  const { manifest } = image;
  const below = oldBase.layers.length;
  const notOn = (why: string) => new OcipushError('EINVALID', `${where} is not built on ${oldReference} (${oldBase.descriptor.digest}): ${why}`, { digest: image.descriptor.digest });
  if (below > manifest.layers.length) throw notOn(`it has ${manifest.layers.length} layers, the base ${below}`);
  // A layer is the base's when its content is (its diff_id): a copy that compressed the image
  // again (skopeo copy --dest-compress-format zstd) changed its digest, not what it holds, and it
  // is swapped out all the same.
  oldBase.layers.forEach((layer, i) => {
    if (config.rootfs.diff_ids[i] === layer.diffId) return;
    if (manifest.layers[i]!.digest !== layer.descriptor.digest) throw notOn(`its layer ${i} is ${manifest.layers[i]!.digest}, the base's ${layer.descriptor.digest}`);
    throw notOn(`its diff_id ${i} is ${config.rootfs.diff_ids[i]}, the base's ${layer.diffId}`);
  });
  const base = newBase.image.config;
  // A base whose config leaves out the variant its index entry names (arm/v6) gives the entry's,
  // as build --base does: without it the image would read as arm/v7. A base of a lower variant,
  // taken for the image's (arm/v6 for arm/v7), leaves it the variant it is for, as build makes it.
  const basePlatform = newBase.image.platform;
  const lower = !platformMatches(platform, basePlatform) && servesPlatform(platform, basePlatform, true);
  const { variant } = lower ? builtPlatform(basePlatform, platform) : basePlatform;
  const { variant: _variant, 'os.version': _osVersion, history: ownHistory, ...rest } = config;
  const oldHistory = oldBase.config.history ?? [];
  const history = ownHistory && ownHistory.length >= oldHistory.length ? [...(base.history ?? []), ...ownHistory.slice(oldHistory.length)] : ownHistory;
  const rebasedConfig: ImageConfig = {
    ...rest,
    architecture: base.architecture,
    os: base.os,
    ...(base['os.version'] ? { 'os.version': base['os.version'] } : {}),
    ...(variant ? { variant } : {}),
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...config.rootfs.diff_ids.slice(below)] },
    ...(history ? { history } : {}),
  };
  const bytes = encodeJson(rebasedConfig);
  const configDescriptor = describeBytes(manifest.config, bytes);
  const format = manifest.mediaType === MediaType.DockerManifest ? 'docker' : 'oci';
  const zstd = format === 'docker' ? newBase.image.manifest.layers.find((l) => layerCompression(l.mediaType) === 'zstd') : undefined;
  if (zstd) {
    throw new OcipushError('EUSAGE', `${where} is a Docker image, and the new base's layer ${zstd.digest} is zstd-compressed, which Docker media types cannot name: rebase onto a gzip base, or make the image OCI first (ocipush mutate --format oci)`, { digest: image.descriptor.digest });
  }
  // A base in a layout has no name (as build --base oci: writes it): the old base's name would
  // say the image is built on what that tag names, and send the next rebase there.
  const { [Annotation.BaseName]: _oldName, ...kept } = manifest.annotations ?? {};
  const annotations = {
    ...kept,
    [Annotation.BaseDigest]: newBase.image.descriptor.digest,
    ...(newBase.name ? { [Annotation.BaseName]: newBase.name } : {}),
  };
  return {
    manifest: {
      ...manifest,
      config: configDescriptor,
      layers: [...newBase.image.manifest.layers.map((l) => convertLayer(l, format)), ...manifest.layers.slice(below)],
      annotations: sortedRecord(annotations)!,
    },
    blobs: [{ descriptor: configDescriptor, bytes }],
    platform: platformOfConfig(rebasedConfig),
  };
}

/**
 * Which bases to swap: the flags, else what the image says it was built on, as crane reads it:
 * `base.name` is the new base (the name resolved again now), and `base.digest` in that name's
 * repository the old one.
 */
function baseReferences(image: ImageToRewrite, options: RebaseOptions, where: string): { oldBase: string; newBase: string } {
  const annotations = image.manifest.annotations ?? {};
  const baseName = annotations[Annotation.BaseName];
  const newBase = options.newBase ?? baseName;
  if (newBase === undefined) {
    throw new OcipushError('EUSAGE', `${where} does not say which base it was built on (no ${Annotation.BaseName} annotation): name the new base with --new-base`);
  }
  if (options.oldBase !== undefined) return { oldBase: options.oldBase, newBase };
  const digest = annotations[Annotation.BaseDigest];
  const named = baseName ?? newBase;
  if (digest === undefined) {
    throw new OcipushError('EUSAGE', `${where} does not say which base it was built on (no ${Annotation.BaseDigest} annotation): name the old base with --old-base`);
  }
  if (named.startsWith('oci:')) {
    // A digest alone names no place to read the old base from: a layout is not a repository.
    throw new OcipushError('EUSAGE', `${where} names its base only by digest (${Annotation.BaseDigest} ${digest}), with no registry repository to find it in: name the old base with --old-base`);
  }
  const reference = parseReference(named.startsWith('docker://') ? named.slice('docker://'.length) : named);
  return { oldBase: formatReference({ registry: reference.registry, repository: reference.repository, digest: parseDigest(digest, `${where}: ${Annotation.BaseDigest}`) }), newBase };
}

