import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { Annotation, type Descriptor, type Platform } from '../oci/descriptor.js';
import { layerCompression, MediaType, type ImageFormat } from '../oci/media-types.js';
import type { ContainerConfig, HistoryEntry, ImageConfig, ImageManifest } from '../oci/manifest.js';
import type { BaseImage } from './base.js';
import { containerConfig, envList, imageConfig, mergeEnv, parseExpose, resolveWorkdir, sortedRecord, type RunConfig } from './config.js';

/**
 * The config and manifest of an image: the new layers alone (as before), or on top of a base
 * image, whose config is inherited and overridden or extended by the flags the way a Dockerfile
 * does it. Everything here is pure: equal inputs give equal bytes.
 */

export interface ComposeInput {
  base?: BaseImage;
  platform: Platform;
  created: string;
  run: RunConfig;
  /** The new layers, bottom first. */
  layers: { descriptor: Descriptor; diffId: Digest }[];
  /** One entry per new layer. */
  history: HistoryEntry[];
  format: ImageFormat;
}

export function configMediaType(format: ImageFormat): string {
  return format === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig;
}

export function manifestMediaType(format: ImageFormat): string {
  return format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
}

export function composeConfig(input: ComposeInput): ImageConfig {
  const diffIds = input.layers.map((l) => l.diffId);
  if (!input.base) return imageConfig({ platform: input.platform, created: input.created, run: input.run, diffIds, history: input.history });
  const base = input.base.config;
  // Fields ocipush does not know (Docker's container_config, os.features …) stay as the base has them.
  const { created: _created, config: _config, rootfs: _rootfs, history: _history, ...rest } = base;
  // The variant of the platform built for (of the base's os and architecture): the one the base's
  // index entry names when its config leaves it out (arm/v6, which would read as arm/v7 without
  // it), or the target's when an arm/v6 base was built on for arm/v7 (builtPlatform).
  const variant = input.platform.os === base.os && input.platform.architecture === base.architecture ? input.platform.variant : undefined;
  return {
    ...rest,
    ...(variant ? { variant } : {}),
    created: input.created,
    config: mergeContainerConfig(base.config ?? {}, input.run, input.platform.os),
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...diffIds] },
    history: [...(base.history ?? []), ...input.history],
  };
}

/**
 * The base's run config with the flags applied as Dockerfile instructions would: `--env` adds a
 * variable or replaces it in place, `--entrypoint` resets an inherited Cmd (unless `--cmd` is
 * given too), labels and ports are merged, user replaced, workdir replaced (a relative one
 * resolved against the base's, as WORKDIR does). What the flags do not touch (Volumes,
 * StopSignal, Healthcheck, Shell …) is kept.
 */
export function mergeContainerConfig(base: ContainerConfig, run: RunConfig, os = 'linux'): ContainerConfig {
  const own = containerConfig(run, os); // validates every flag
  const c: ContainerConfig = { ...base };
  if (own.User) c.User = own.User;
  if (run.expose && run.expose.length > 0) {
    const ports = new Set([...Object.keys(base.ExposedPorts ?? {}), ...run.expose.flatMap(parseExpose)]);
    c.ExposedPorts = Object.fromEntries([...ports].sort().map((p) => [p, {}]));
  }
  const env = envList(run.env);
  if (env.length > 0) c.Env = mergeEnv(base.Env ?? [], env);
  if (run.entrypoint) {
    c.Entrypoint = run.entrypoint;
    if (!run.cmd) delete c.Cmd;
  }
  if (run.cmd) c.Cmd = run.cmd;
  if (run.workdir) c.WorkingDir = resolveWorkdir(base.WorkingDir, run.workdir, os);
  if (own.Labels) c.Labels = sortedRecord({ ...(base.Labels ?? {}), ...own.Labels });
  return c;
}

export function composeManifest(input: ComposeInput, config: Descriptor, annotations: Record<string, string> | undefined): ImageManifest {
  const baseLayers = input.base?.manifest.layers ?? [];
  const layers = [...baseLayers, ...input.layers.map((l) => l.descriptor)].map((l) => convertLayer(l, input.format));
  const all = sortedRecord({
    ...(input.base?.name ? { [Annotation.BaseName]: input.base.name } : {}),
    ...(input.base ? { [Annotation.BaseDigest]: input.base.manifestDigest } : {}),
    ...(annotations ?? {}),
  });
  return {
    schemaVersion: 2,
    mediaType: manifestMediaType(input.format),
    config,
    layers,
    ...(all ? { annotations: all } : {}),
  };
}

const OCI_NONDISTRIBUTABLE_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const OCI_NONDISTRIBUTABLE_TAR = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const DOCKER_FOREIGN_TAR = 'application/vnd.docker.image.rootfs.foreign.diff.tar';

/**
 * A layer descriptor in the media type family of the image: the same bytes (same digest), named
 * as OCI or Docker names them. Docker has no zstd layer type; such a layer cannot go into a
 * Docker-format image.
 */
export function convertLayer(desc: Descriptor, format: ImageFormat): Descriptor {
  const mediaType = layerMediaTypeIn(desc.mediaType, format, desc.digest);
  return mediaType === desc.mediaType ? desc : { ...desc, mediaType };
}

export function layerMediaTypeIn(mediaType: string, format: ImageFormat, digest?: string): string {
  const foreign = /foreign|nondistributable/.test(mediaType);
  const compression = layerCompression(mediaType);
  if (format === 'oci') {
    if (foreign) return compression === 'gzip' ? OCI_NONDISTRIBUTABLE_GZIP : compression === 'none' ? OCI_NONDISTRIBUTABLE_TAR : mediaType;
    if (compression === 'gzip') return MediaType.OciLayerGzip;
    if (compression === 'zstd') return MediaType.OciLayerZstd;
    return MediaType.OciLayer;
  }
  if (compression === 'zstd') {
    const what = digest ? `layer ${digest}` : 'a layer';
    throw new OcipushError('EUSAGE', `${what} is zstd-compressed, which Docker media types cannot name: use --format oci, or --compression gzip`);
  }
  if (foreign) return compression === 'gzip' ? MediaType.DockerForeignLayerGzip : DOCKER_FOREIGN_TAR;
  return compression === 'gzip' ? MediaType.DockerLayerGzip : DOCKER_LAYER_TAR;
}
