import type { Descriptor } from '../oci/descriptor.js';
import type { ImageManifest } from '../oci/manifest.js';
import type { OciLayout } from '../content/layout.js';
import { storeLayoutReferrer } from '../content/layout-referrers.js';
import { prepareSbom, type LayerEntries, type SbomFormat } from '../supply-chain/sbom/index.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import type { BaseImage } from './base.js';
import { lookUpBaseSbom } from './base-sbom.js';
import { formatTime } from './config.js';

/** The SBOM a build stored beside its image. */
export interface BuiltSbom {
  /** The artifact manifest that refers to the image (its subject). */
  digest: Descriptor['digest'];
  mediaType: string;
  format: SbomFormat;
  packages: number;
  files: number;
  /** What the base image's own SBOM added, when it had one. */
  base?: { sbom: Descriptor['digest']; packages: number; files: number };
}

/** A layer this build wrote, with the entries recorded as its tar was written (with --sbom). */
export interface BuiltLayerEntries {
  descriptor: Descriptor;
  sbomEntries?: LayerEntries;
}

/**
 * The SBOM of the image just built: the layers this build wrote or found in the registry cache
 * from the entries recorded while their tar was made, the others (local cache hits, a local
 * base) read from the layout once,
 * nothing unpacked. Stored as an OCI 1.1 referrer of the image in the layout, so `push` carries it. A
 * lazily referenced base's layers are not downloaded for it: the SBOM names the base by digest,
 * and carries the packages and files of the base's own SBOM when the base has one (base-sbom.ts).
 */
export async function storeBuildSbom(
  layout: OciLayout, image: Descriptor, manifest: ImageManifest,
  options: {
    format: SbomFormat; name: string; created: Date; signal?: AbortSignal; built?: readonly BuiltLayerEntries[];
    base?: BaseImage; connect?: ConnectRegistry; warn?: (message: string) => void;
  },
): Promise<BuiltSbom> {
  const known = new Map((options.built ?? []).flatMap((l) => (l.sbomEntries ? [[l.descriptor.digest, l.sbomEntries] as const] : [])));
  const local = new Set<string>();
  for (const layer of manifest.layers) if (await layout.exists(layer)) local.add(layer.digest);
  // The base's own SBOM stands in for the base layers the scan does not read.
  const baseSbom = options.base && options.base.manifest.layers.some((l) => !local.has(l.digest))
    ? await lookUpBaseSbom(options.base, { prefer: options.format, warn: options.warn ?? (() => {}), ...(options.connect ? { connect: options.connect } : {}), ...(options.signal ? { signal: options.signal } : {}) })
    : undefined;
  const sbom = await prepareSbom(layout, image, {
    format: options.format, name: options.name, created: options.created,
    // A layer the build recorded is described even when the layout lacks it (a registry cache hit).
    skipLayer: (layer) => !local.has(layer.digest) && !known.has(layer.digest),
    ...(baseSbom ? { baseSbom } : {}),
    knownEntries: (layer) => known.get(layer.digest),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const entry = await storeLayoutReferrer(layout, image, sbom.mediaType, [{ mediaType: sbom.mediaType, chunks: sbom.chunks() }], {
    'org.opencontainers.image.created': formatTime(Math.floor(options.created.getTime() / 1000)),
  });
  return {
    digest: entry.digest, mediaType: sbom.mediaType, format: options.format, packages: sbom.packages.length, files: sbom.files.length,
    ...(sbom.base ? { base: { sbom: sbom.base.sbom.carrier, packages: sbom.base.packages.length, files: sbom.base.files.length } } : {}),
  };
}
