import { resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../errors.js';
import { OciLayout } from '../content/layout.js';
import type { Digest } from '../oci/digest.js';
import { isForeignLayer, parsePlatform, type Descriptor, type Platform } from '../oci/descriptor.js';
import type { ImageFormat } from '../oci/media-types.js';
import type { ImageConfig, ImageManifest } from '../oci/manifest.js';
import { formatReference } from '../oci/reference.js';
import { loadImage } from '../image/load.js';
import { openLocation } from '../transports/open.js';
import { parseTransport } from '../transports/parse.js';
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

/** `oci:DIR[:tag|@digest]` names a layout; anything else is a registry reference. */
export function isLayoutReference(reference: string): boolean {
  return reference.startsWith('oci:');
}

/**
 * Reads a base image's manifest and config, from a registry or from a layout (`oci:DIR[:tag]`),
 * through the one image loader. Nothing is written anywhere and no layer is downloaded. Errors
 * name the reference: one that does not parse (EUSAGE), not found (ENOTFOUND), no image for the
 * platform (ENOTFOUND), bytes that do not match their digest (EDIGEST), not a container image
 * (EUNSUPPORTED/EINVALID).
 */
export async function resolveBaseImage(reference: string, options: ResolveBaseOptions = {}): Promise<BaseImage> {
  const wanted = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform;
  const location = parseTransport(reference);
  if (location.transport !== 'registry' && location.transport !== 'oci') {
    throw new OcipushError('EUSAGE', `base image ${reference}: a base comes from a registry or a layout (oci:DIR[:tag]), not a ${location.transport}`);
  }
  const where = `base image ${reference}`;
  // `build --base app:1` with no such tag: "base image …: manifest not found", not a bare "…: manifest not found".
  const opened = await openLocation(location, { connect: options.connect ?? defaultConnect }).catch((err: unknown) => {
    throw err instanceof OcipushError && err.code === 'ENOTFOUND' && !err.message.startsWith('base image') ? new OcipushError(err.code, `base image ${err.message}`, err.details) : err;
  });
  try {
    const image = await loadImage(opened.storage, opened.root, {
      name: where, requirePlatform: true, lowerVariant: true, requireLayers: true, ...(wanted ? { platform: wanted } : {}),
    });
    const source: BaseSource = location.transport === 'registry'
      ? { kind: 'registry', registry: location.reference.registry, repository: location.reference.repository }
      : { kind: 'layout', root: resolvePath(location.path), ...(location.name ? { name: location.name } : {}) };
    // A layout entry's annotations (its ref.name) are the layout's, not the image's.
    const { annotations: _annotations, platform: _platform, ...plain } = image.descriptor;
    return {
      reference,
      ...(location.transport === 'registry' ? { name: formatReference(location.reference) } : {}),
      source,
      descriptor: location.transport === 'registry' ? { ...withoutPlatform(image.descriptor), platform: image.platform } : { ...plain, platform: image.platform },
      manifestDigest: image.descriptor.digest,
      manifest: image.manifest,
      manifestBytes: image.manifestBytes,
      config: image.config,
      configBytes: image.configBytes,
      format: image.format,
      platform: image.platform,
      ...(image.index ? { index: image.index } : {}),
    };
  } finally {
    await opened.close();
  }
}

function withoutPlatform(desc: Descriptor): Descriptor {
  const { platform: _platform, ...plain } = desc;
  return plain;
}

/**
 * Makes a base image usable in `layout`: its manifest and config are stored; its layers are
 * not downloaded. A registry base's layers are recorded as held by its repository (fetched
 * later, verified, only when something needs their bytes); a layout base's layers are copied
 * (verified: a blob that does not match its digest is refused) unless the layout has them.
 */
export async function storeBaseImage(base: BaseImage, layout: OciLayout): Promise<void> {
  await storeBaseLayers(base, layout);
  await layout.putBytes(base.descriptor.mediaType, base.manifestBytes);
  await layout.putBytes(base.manifest.config.mediaType, base.configBytes);
}

/**
 * What an image built onto `base` needs in `layout`: its layers (copied, or recorded where they
 * live), not its manifest and config. The built image names neither (only their digest, in an
 * annotation), so stored they would be blobs nothing reaches, which gc removes.
 */
export async function storeBaseLayers(base: BaseImage, layout: OciLayout): Promise<void> {
  const staged = await stageBaseImage(base, { dir: (await layout.session()).dir, where: `layout ${layout.root}` }, layout);
  try {
    await staged.commit(layout);
  } finally {
    await staged.discard();
  }
}

/** A base image's layers made ready for a layout that may not exist yet: `commit` puts them there (storeBaseLayers). */
export interface StagedBase {
  commit(layout: OciLayout): Promise<void>;
  /** Drops what was staged and not committed. Safe after commit. */
  discard(): Promise<void>;
}

/**
 * The part of storeBaseLayers that can fail, done before anything is written to the layout: a
 * layout base's layers are copied (verified) to temp files in `staging`, a layer that is nowhere
 * to be found is an error. `target` is the layout when it already exists.
 */
export async function stageBaseImage(base: BaseImage, staging: { dir: string; where: string }, target?: OciLayout): Promise<StagedBase> {
  const layers = base.manifest.layers.filter((l) => !isForeignLayer(l));
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
          throw await from.unusableBlobError(layer, `base image ${base.reference}: layer ${layer.digest} in ${from.root}`);
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
