import { join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../errors.js';
import { OciLayout } from '../content/layout.js';
import { MAX_CONFIG_BYTES, readSmall } from '../content/verify.js';
import type { Digest } from '../oci/digest.js';
import { formatPlatform, parsePlatform, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { isLayerMediaType, MediaType, type ImageFormat } from '../oci/media-types.js';
import { isIndex, parseImageConfig, parseManifest, platformOfConfig, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import { formatReference, parseReference, referenceTarget } from '../oci/reference.js';
import { defaultConnect, LazyBlobs, type ConnectRegistry } from '../transfer/lazy-blobs.js';
import { readRemoteBlobs, recordRemoteBlobs } from '../content/remote-blobs.js';
import { StagedBlob } from '../content/staged-blob.js';

/** Where a base image lives. */
export type BaseSource =
  | { kind: 'registry'; registry: string; repository: string }
  | { kind: 'layout'; root: string; name?: string };

/**
 * A base image, resolved to one platform: its manifest and config (the exact bytes, verified),
 * not its layers. `storeBaseImage` puts it into a layout; `buildImage({ base })` builds onto it.
 */
export interface BaseImage {
  /** As given: `localhost:5000/alpine:3.18`, `ghcr.io/org/base@sha256:…` or `oci:DIR[:tag]`. */
  reference: string;
  /**
   * The canonical reference for the `org.opencontainers.image.base.name` annotation
   * (`docker.io/library/alpine:3.18`); undefined for a layout base (a path is no image name).
   */
  name?: string;
  source: BaseSource;
  /** The platform manifest chosen (an index is narrowed to the child for the platform). */
  descriptor: Descriptor;
  manifestDigest: Digest;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  /** The parsed config (Env, Entrypoint, Cmd, WorkingDir, User, ExposedPorts, Labels, history, rootfs.diff_ids). */
  config: ImageConfig;
  configBytes: Buffer;
  /** `docker` for a Docker v2 schema 2 manifest, else `oci`. */
  format: ImageFormat;
  platform: Platform;
  /** The index the reference named, when it named one. */
  index?: Descriptor;
}

export interface ResolveBaseOptions {
  /** The platform to pick from an index; a single-platform base must match it. Default: the base's own, or linux/amd64 from an index. */
  platform?: string | Platform;
  /** How to reach registries (TLS, credentials); default: Docker-config credentials, default TLS. */
  connect?: ConnectRegistry;
}

const MAX_INDEX_DEPTH = 4;

/** `oci:DIR[:tag|@digest]` names a layout; anything else is a registry reference. */
export function isLayoutReference(reference: string): boolean {
  return reference.startsWith('oci:');
}

/**
 * Reads a base image's manifest and config, from a registry or from a layout (`oci:DIR[:tag]`).
 * Nothing is written anywhere and no layer is downloaded. Errors name the reference: one that
 * does not parse (EUSAGE), not found (ENOTFOUND), no image for the platform (ENOTFOUND), bytes
 * that do not match their digest (EDIGEST), not a container image (EUNSUPPORTED/EINVALID).
 */
export async function resolveBaseImage(reference: string, options: ResolveBaseOptions = {}): Promise<BaseImage> {
  const wanted = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform;
  if (isLayoutReference(reference)) return resolveLayoutBase(reference, wanted);
  return resolveRegistryBase(reference, wanted, options.connect ?? defaultConnect);
}

async function resolveRegistryBase(reference: string, wanted: Platform | undefined, connect: ConnectRegistry): Promise<BaseImage> {
  const ref = parseReference(reference);
  const name = formatReference(ref);
  const where = `base image ${reference}`;
  const { Repository } = await import('../registry/repository.js');
  const client = await connect(ref.registry);
  try {
    const repository = new Repository(client, ref.repository);
    let fetched = await repository.fetchManifest(referenceTarget(ref));
    let index: Descriptor | undefined;
    for (let depth = 0; ; depth++) {
      const parsed = parseManifest(fetched.bytes, `${where}: manifest ${fetched.descriptor.digest}`, fetched.descriptor.mediaType);
      if (!isIndex(parsed)) break;
      if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `${where}: image indexes nested too deep`);
      index ??= fetched.descriptor;
      const child = pickPlatform(parsed, wanted, where);
      fetched = await repository.fetchManifest(child.digest);
      if (fetched.bytes.length !== child.size) {
        throw new OcipushError('EDIGEST', `${where}: manifest ${child.digest} has ${fetched.bytes.length} bytes, the index says ${child.size}`, { digest: child.digest });
      }
      fetched = { ...fetched, descriptor: { ...child, mediaType: fetched.descriptor.mediaType } };
    }
    const manifest = parseManifest(fetched.bytes, `${where}: manifest ${fetched.descriptor.digest}`, fetched.descriptor.mediaType) as ImageManifest;
    checkConfigMediaType(manifest, where);
    if (manifest.config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${where}: config of ${manifest.config.size} bytes is too large`);
    const configBytes = await readSmall(await repository.fetch(manifest.config), MAX_CONFIG_BYTES, `${where}: config ${manifest.config.digest}`);
    return finish({
      reference, name, source: { kind: 'registry', registry: ref.registry, repository: ref.repository },
      descriptor: fetched.descriptor, manifest, manifestBytes: fetched.bytes, configBytes, index, wanted, where,
    });
  } finally {
    await client.close().catch(() => {});
  }
}

async function resolveLayoutBase(reference: string, wanted: Platform | undefined): Promise<BaseImage> {
  const { parseLayoutTarget } = await import('../transports/layout-reference.js');
  const target = parseLayoutTarget(reference)!;
  const where = `base image ${reference}`;
  const layout = await OciLayout.open(target.dir);
  let descriptor = await layout.resolve(target.name);
  let index: Descriptor | undefined;
  let manifestBytes: Buffer;
  for (let depth = 0; ; depth++) {
    manifestBytes = await layout.readBlob(descriptor);
    const parsed = parseManifest(manifestBytes, `${where}: manifest ${descriptor.digest}`, descriptor.mediaType);
    if (!isIndex(parsed)) {
      descriptor = { ...descriptor, mediaType: parsed.mediaType };
      break;
    }
    if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `${where}: image indexes nested too deep`);
    index ??= descriptor;
    descriptor = pickPlatform(parsed, wanted, where);
  }
  const manifest = parseManifest(manifestBytes, `${where}: manifest ${descriptor.digest}`, descriptor.mediaType) as ImageManifest;
  checkConfigMediaType(manifest, where);
  const configBytes = await layout.readBlob(manifest.config, MAX_CONFIG_BYTES);
  const { annotations: _annotations, ...plain } = descriptor;
  return finish({
    reference, source: { kind: 'layout', root: layout.root, ...(target.name ? { name: target.name } : {}) },
    descriptor: plain, manifest, manifestBytes, configBytes, index, wanted, where,
  });
}

interface Resolved {
  reference: string;
  name?: string;
  source: BaseSource;
  descriptor: Descriptor;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  configBytes: Buffer;
  index?: Descriptor;
  wanted?: Platform;
  where: string;
}

function finish(r: Resolved): BaseImage {
  const config = parseImageConfig(r.configBytes, `${r.where}: config ${r.manifest.config.digest}`);
  if (config.rootfs.diff_ids.length !== r.manifest.layers.length) {
    throw new OcipushError('EINVALID', `${r.where}: the config lists ${config.rootfs.diff_ids.length} diff_ids for ${r.manifest.layers.length} layers`, { digest: r.descriptor.digest });
  }
  r.manifest.layers.forEach((layer, i) => {
    if (!isLayerMediaType(layer.mediaType)) {
      throw new OcipushError('EUNSUPPORTED', `${r.where}: layer ${i} has media type ${layer.mediaType}, not a container image layer`, { digest: layer.digest });
    }
  });
  const platform = platformOfConfig(config);
  if (r.wanted && !platformMatches(r.wanted, platform)) {
    throw new OcipushError('EUSAGE', `${r.where} is for ${formatPlatform(platform)}, not ${formatPlatform(r.wanted)} (--platform)`, { digest: r.descriptor.digest });
  }
  const { platform: _p, ...plain } = r.descriptor;
  return {
    reference: r.reference,
    ...(r.name !== undefined ? { name: r.name } : {}),
    source: r.source,
    descriptor: { ...plain, platform },
    manifestDigest: r.descriptor.digest,
    manifest: r.manifest,
    manifestBytes: r.manifestBytes,
    config,
    configBytes: r.configBytes,
    format: r.manifest.mediaType === MediaType.DockerManifest ? 'docker' : 'oci',
    platform,
    ...(r.index ? { index: r.index } : {}),
  };
}

function checkConfigMediaType(manifest: ImageManifest, where: string): void {
  const mt = manifest.config.mediaType;
  if (mt !== MediaType.OciConfig && mt !== MediaType.DockerConfig) {
    throw new OcipushError('EUNSUPPORTED', `${where} is not a container image (config media type ${mt})`);
  }
}

/** The child of an index for the platform: the one asked for, else linux/amd64, else the only one. */
function pickPlatform(index: ImageIndex, wanted: Platform | undefined, where: string): Descriptor {
  const images = index.manifests.filter((d) => d.platform?.os !== 'unknown'); // attestation manifests
  const platform = wanted ?? { os: 'linux', architecture: 'amd64' };
  const match = images.find((d) => platformMatches(platform, d.platform));
  if (match) return match;
  if (!wanted && images.length === 1) return images[0]!;
  const available = images.map((d) => (d.platform ? formatPlatform(d.platform) : d.digest)).join(', ') || 'none';
  throw new OcipushError('ENOTFOUND', `${where} has no image for ${formatPlatform(platform)} (it has: ${available}); choose one with --platform`);
}

/**
 * Makes a base image usable in `layout`: its manifest and config are stored; its layers are
 * not downloaded. A registry base's layers are recorded as held by its repository (fetched
 * later, verified, only when something needs their bytes); a layout base's layers are copied
 * (verified: a blob that does not match its digest is refused) unless the layout has them.
 */
export async function storeBaseImage(base: BaseImage, layout: OciLayout): Promise<void> {
  const staged = await stageBaseImage(base, { dir: join(layout.root, 'blobs', 'sha256'), where: `layout ${layout.root}` }, layout);
  try {
    await staged.commit(layout);
  } finally {
    await staged.discard();
  }
}

/** A base image made ready for a layout that may not exist yet: `commit` puts it there. */
export interface StagedBase {
  commit(layout: OciLayout): Promise<void>;
  /** Drops what was staged and not committed. Safe after commit. */
  discard(): Promise<void>;
}

/**
 * The part of storeBaseImage that can fail, done before anything is written to the layout: a
 * layout base's layers are copied (verified) to temp files in `staging`, a layer that is nowhere
 * to be found is an error. `target` is the layout when it already exists.
 */
export async function stageBaseImage(base: BaseImage, staging: { dir: string; where: string }, target?: OciLayout): Promise<StagedBase> {
  const layers = base.manifest.layers.filter((l) => !isForeign(l));
  const has = async (layer: Descriptor) => (target ? target.exists(layer) : false);
  const source = base.source;
  const remote: { digest: Digest; repository: string }[] = [];
  const copies: { layer: Descriptor; blob: StagedBlob }[] = [];
  const discard = async () => { for (const c of copies) await c.blob.discard(); };
  try {
    if (source.kind === 'registry') {
      for (const layer of layers) if (!(await has(layer))) remote.push({ digest: layer.digest, repository: `${source.registry}/${source.repository}` });
    } else {
      const sameLayout = target !== undefined && resolvePath(source.root) === target.root;
      const from = sameLayout ? target : await OciLayout.open(source.root);
      const fromRecord = await readRemoteBlobs(from.root);
      for (const layer of layers) {
        if (await has(layer)) continue;
        if (!sameLayout && (await from.exists(layer))) {
          copies.push({ layer, blob: await copyVerified(from, layer, staging, base.reference) });
          continue;
        }
        const sources = fromRecord.get(layer.digest) ?? [];
        if (sources.length === 0) {
          throw new OcipushError('ELAYOUT', `base image ${base.reference}: layer ${layer.digest} is missing from ${from.root}`, { digest: layer.digest });
        }
        // A layer the base itself only references: this layout can fetch it from the same place.
        for (const repository of [...sources].reverse()) remote.push({ digest: layer.digest, repository });
      }
    }
  } catch (err) {
    await discard();
    throw err;
  }
  return {
    async commit(layout) {
      await layout.putBytes(base.descriptor.mediaType, base.manifestBytes);
      await layout.putBytes(base.manifest.config.mediaType, base.configBytes);
      for (const { layer, blob } of copies) {
        if (await layout.exists(layer)) await blob.discard();
        else await blob.commitTo(layout.blobPath(layer.digest));
      }
      const missing: { digest: Digest; repository: string }[] = [];
      for (const r of remote) if (!(await layout.exists({ digest: r.digest, size: sizeOf(base, r.digest) }))) missing.push(r);
      await recordRemoteBlobs(layout.root, missing);
    },
    discard,
  };
}

function sizeOf(base: BaseImage, digest: Digest): number {
  return base.manifest.layers.find((l) => l.digest === digest)?.size ?? -1;
}

async function copyVerified(from: OciLayout, layer: Descriptor, staging: { dir: string; where: string }, reference: string): Promise<StagedBlob> {
  const blob = await StagedBlob.create(staging.dir, staging.where);
  try {
    await pipeline(await from.fetch(layer), blob.stream);
    return blob;
  } catch (err) {
    await blob.discard();
    if (err instanceof OcipushError && err.code === 'EDIGEST') {
      throw new OcipushError('EDIGEST', `base image ${reference}: layer ${layer.digest} is corrupt (${err.message})`, { digest: layer.digest, cause: err });
    }
    throw err;
  }
}

/** Reads any blob of an image built onto a stored base: local first, else from the base registry (verified, then kept). */
export function baseBlobs(layout: OciLayout, connect?: ConnectRegistry): LazyBlobs {
  return new LazyBlobs(layout, connect ? { connect } : {});
}

function isForeign(desc: Descriptor): boolean {
  return (desc.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(desc.mediaType);
}
