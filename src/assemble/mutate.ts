import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { sha256 } from '../oci/digest.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from '../oci/media-types.js';
import { encodeJson, isIndex, parseImageConfig, parseManifest, platformOfConfig, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { mergeContainerConfig } from './compose.js';
import { sortedRecord, type RunConfig } from './config.js';

/** What `mutate` changes: the run config of every image (as `build --base` would), the root's annotations. */
export interface ImageChanges {
  run: RunConfig;
  annotations?: Record<string, string>;
}

/** A new blob the mutation made (a config or a manifest), with its exact bytes. */
export interface MadeBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface MutatedImage {
  root: Descriptor;
  rootBytes: Buffer;
  /** Configs and manifests under the root that changed, children before their parents; the root is not among them. */
  blobs: MadeBlob[];
  /** Each image whose config changed: its old manifest digest and its new one. */
  images: { from: Digest; to: Digest; platform: Platform }[];
  /** Index entries left out: BuildKit's attestation manifests of an image that changed describe the old digest. */
  dropped: Descriptor[];
}

/** How deep indexes may nest before the root is refused (as the loader refuses it). */
const MAX_DEPTH = 4;

const BUILDKIT_REFERENCE_TYPE = 'vnd.docker.reference.type';
const BUILDKIT_REFERENCE_DIGEST = 'vnd.docker.reference.digest';

/**
 * The image `root` names with its configs and annotations changed, as crane mutate does, but
 * for every image of an index, not one platform: each image's run config gets `changes.run` the
 * way `build --base` applies flags to a base (labels and ports merged, env replaced in place,
 * an entrypoint resets an inherited cmd), the root manifest or index gets `changes.annotations`.
 * Layers, history and the creation time stay as they are, so no layer moves and the result is
 * the same bytes each time. Only what changed is re-encoded; an unchanged image keeps its digest.
 */
export async function mutateImage(storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, changes: ImageChanges, name: string): Promise<MutatedImage> {
  const result: MutatedImage = { root, rootBytes, blobs: [], images: [], dropped: [] };
  const made = await mutateNode(storage, root, rootBytes, changes, name, result, 0);
  const descriptor = made.descriptor;
  result.root = descriptor;
  result.rootBytes = made.bytes;
  // The root is written last, under its tag: not among the blobs.
  result.blobs = result.blobs.filter((b) => b.descriptor.digest !== descriptor.digest);
  return result;
}

async function mutateNode(
  storage: ReadOnlyStorage, desc: Descriptor, bytes: Buffer, changes: ImageChanges, name: string, result: MutatedImage, depth: number,
): Promise<MadeBlob> {
  const where = `${name}: manifest ${desc.digest}`;
  const parsed = parseManifest(bytes, where, desc.mediaType);
  const annotations = depth === 0 ? changes.annotations : undefined;
  if (isIndex(parsed)) {
    if (depth >= MAX_DEPTH) throw new OcipushError('EINVALID', `${name}: image indexes nested too deep`);
    if (annotations && Object.keys(annotations).length > 0 && parsed.mediaType === MediaType.DockerManifestList) {
      throw new OcipushError('EUSAGE', `${name} is a Docker manifest list, which has no annotations: --annotation cannot go on it`);
    }
    return mutateIndex(storage, desc, bytes, parsed, changes, name, result, depth, annotations);
  }
  if (parsed.config.mediaType !== MediaType.OciConfig && parsed.config.mediaType !== MediaType.DockerConfig) {
    if (depth > 0) return { descriptor: desc, bytes };
    throw new OcipushError('EUNSUPPORTED', `${name} is not a container image (config media type ${parsed.config.mediaType}): nothing to mutate`, { digest: desc.digest });
  }
  return mutateManifest(storage, desc, bytes, parsed, changes, name, result, annotations);
}

async function mutateIndex(
  storage: ReadOnlyStorage, desc: Descriptor, bytes: Buffer, index: ImageIndex, changes: ImageChanges, name: string,
  result: MutatedImage, depth: number, annotations: Record<string, string> | undefined,
): Promise<MadeBlob> {
  const changedChildren = new Map<string, Descriptor>();
  const entries: Descriptor[] = [];
  for (const child of index.manifests) {
    if (!isManifestMediaType(child.mediaType) && !isIndexMediaType(child.mediaType)) {
      entries.push(child);
      continue;
    }
    const childBytes = await readSmall(await storage.fetch(child), MAX_MANIFEST_BYTES, `${name}: manifest ${child.digest}`);
    const made = await mutateNode(storage, child, childBytes, changes, name, result, depth + 1);
    if (made.descriptor.digest !== child.digest) changedChildren.set(child.digest, made.descriptor);
    entries.push(made.descriptor);
  }
  // An attestation manifest BuildKit put beside an image is about that image's old digest.
  const manifests = entries.filter((e) => {
    const about = e.annotations?.[BUILDKIT_REFERENCE_DIGEST];
    const stale = e.annotations?.[BUILDKIT_REFERENCE_TYPE] === 'attestation-manifest' && about !== undefined && changedChildren.has(about);
    if (stale) result.dropped.push(e);
    return !stale;
  });
  const merged = mergeAnnotations(index.annotations, annotations);
  if (changedChildren.size === 0 && merged === index.annotations) return { descriptor: desc, bytes };
  const next: ImageIndex = { ...index, manifests, ...(merged ? { annotations: merged } : {}) };
  return store(desc, encodeJson(next), result);
}

async function mutateManifest(
  storage: ReadOnlyStorage, desc: Descriptor, bytes: Buffer, manifest: ImageManifest, changes: ImageChanges, name: string,
  result: MutatedImage, annotations: Record<string, string> | undefined,
): Promise<MadeBlob> {
  let config = manifest.config;
  let platform: Platform | undefined;
  if (hasRunChanges(changes.run)) {
    const configWhere = `${name}: config ${config.digest}`;
    if (config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${configWhere}: ${config.size} bytes is too large`);
    const configBytes = await readSmall(await storage.fetch(config), MAX_CONFIG_BYTES, configWhere);
    const parsed = parseImageConfig(configBytes, configWhere);
    const run = mergeContainerConfig(parsed.config ?? {}, changes.run);
    if (JSON.stringify(run) !== JSON.stringify(parsed.config ?? {})) {
      const newBytes = encodeJson({ ...parsed, config: run });
      config = renamed(config, newBytes);
      result.blobs.push({ descriptor: config, bytes: newBytes });
      platform = platformOfConfig(parsed);
    }
  }
  const merged = mergeAnnotations(manifest.annotations, annotations);
  if (config === manifest.config && merged === manifest.annotations) return { descriptor: desc, bytes };
  const made = store(desc, encodeJson({ ...manifest, config, ...(merged ? { annotations: merged } : {}) }), result);
  if (platform) result.images.push({ from: desc.digest, to: made.descriptor.digest, platform });
  return made;
}

function store(desc: Descriptor, bytes: Buffer, result: MutatedImage): MadeBlob {
  const made = { descriptor: renamed(desc, bytes), bytes };
  result.blobs.push(made);
  return made;
}

/** `desc` for other bytes: a descriptor's embedded `data` would be the old bytes, so it goes. */
function renamed(desc: Descriptor, bytes: Buffer): Descriptor {
  const { data: _stale, ...rest } = desc as Descriptor & { data?: string };
  return { ...rest, digest: sha256(bytes), size: bytes.length };
}

/** `base` with `added` over it, keys sorted; `base` itself (the same object) when nothing would change. */
function mergeAnnotations(base: Record<string, string> | undefined, added: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!added || Object.entries(added).every(([k, v]) => base?.[k] === v)) return base;
  return sortedRecord({ ...(base ?? {}), ...added });
}

export function hasChanges(changes: ImageChanges): boolean {
  return hasRunChanges(changes.run) || Object.keys(changes.annotations ?? {}).length > 0;
}

function hasRunChanges(run: RunConfig): boolean {
  const env = run.env === undefined ? 0 : Array.isArray(run.env) ? run.env.length : Object.keys(run.env).length;
  return env > 0 || run.entrypoint !== undefined || run.cmd !== undefined || run.workdir !== undefined || run.user !== undefined
    || Object.keys(run.labels ?? {}).length > 0 || (run.expose ?? []).length > 0;
}
