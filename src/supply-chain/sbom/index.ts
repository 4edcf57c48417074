import { OcipushError } from '../../errors.js';
import { missingEntryError, type Descriptor } from '../../oci/descriptor.js';
import { isIndex, parseImageConfig, parseManifest, type ImageConfig, type ImageManifest } from '../../oci/manifest.js';
import type { ReadOnlyStorage } from '../../content/storage.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, readSmall } from '../../content/verify.js';
import { SBOM_MEDIA_TYPES, sbomDocumentChunks, type SbomFormat, type SbomSubject } from './documents.js';
import { detectPackages, type Package } from './packages.js';
import { baseContents, type BaseContents } from './base-sbom-documents.js';
import type { BaseSbom } from './base-sbom.js';
import { scanImageFiles, type ImageFiles } from './scan.js';
import type { LayerEntries } from './layer-entries.js';

export { SBOM_MEDIA_TYPES, type SbomFormat } from './documents.js';
export { LayerFilesRecorder, type LayerEntries } from './layer-entries.js';

export interface SbomOptions {
  format: SbomFormat;
  /** `registry/repo:tag` or `oci:dir:tag`, for the document's name. */
  name: string;
  repository?: string;
  /** Overrides the image config's `created` (from --created / SOURCE_DATE_EPOCH). */
  created?: Date;
  signal?: AbortSignal;
  /**
   * Layers not to read (a lazily referenced base's, which a build does not download): their files
   * are left out, and the SBOM names the base image by digest instead.
   */
  skipLayer?: (layer: Descriptor) => boolean;
  /** The base image's own SBOM (base-sbom.ts): its packages and files join the document, marked as the base's. */
  baseSbom?: BaseSbom;
  /** The entries of layers a build recorded as it wrote them; the other layers are streamed. */
  knownEntries?: (layer: Descriptor) => LayerEntries | undefined;
}

/** What an SBOM describes, before its document is written out. */
export interface PreparedSbom {
  mediaType: string;
  files: ImageFiles;
  packages: Package[];
  /** What the base's own SBOM added. */
  base?: BaseContents;
  /** The document, in chunks of about 1 MiB made as they are read (each call starts it again). */
  chunks(): Iterable<Buffer>;
}

/**
 * The SBOM of one image manifest in `storage` (a layout or a registry repository): its layers are
 * streamed once, nothing is unpacked to disk, except those whose entries a build recorded as it
 * wrote them (`knownEntries`), which are not read at all. Either way gives the same bytes.
 */
export async function prepareSbom(storage: ReadOnlyStorage, desc: Descriptor, options: SbomOptions): Promise<PreparedSbom> {
  // An entry an index chose for --platform names that platform when its manifest is gone, as `inspect --platform` says it.
  const fetched = await storage.fetch(desc, { signal: options.signal }).catch((err: unknown) => { throw missingEntryError(err, desc, (platform) => `${options.name} names it for ${platform}`); });
  const manifestBytes = await readSmall(fetched, MAX_MANIFEST_BYTES, `manifest ${desc.digest}`);
  const manifest = parseManifest(manifestBytes, `manifest ${desc.digest}`, desc.mediaType);
  if (isIndex(manifest)) throw new OcipushError('EUSAGE', `${options.name} is a multi-platform index: name one platform with --platform`);
  const config = await readConfig(storage, manifest, options.signal);
  // Paths the layers above the base remove (whiteouts, symlinks): the base SBOM's entries there are gone too.
  const removed: string[] = [];
  const baseLayers = options.baseSbom?.image.layers ?? Infinity;
  const onRemoved = (path: string, layer: number) => { if (layer >= baseLayers) removed.push(path); };
  const files = await scanImageFiles(storage, manifest, { signal: options.signal, skipLayer: options.skipLayer, knownEntries: options.knownEntries, onRemoved });
  const packages = detectPackages(files);
  const subject: SbomSubject = { name: options.name, digest: desc.digest, created: sbomTime(options.created, config), ...(options.repository ? { repository: options.repository } : {}) };
  const base = baseOf(manifest);
  if (base) subject.base = base;
  else if (options.baseSbom) subject.base = options.baseSbom.image;
  const contents = { files, packages, ...(options.baseSbom ? { base: baseContents(options.baseSbom, files.paths(), packages, removed) } : {}) };
  // Package metadata was kept for package detection alone: dropped before the document is written.
  files.dropContents();
  return {
    mediaType: SBOM_MEDIA_TYPES[options.format], files, packages, ...(contents.base ? { base: contents.base } : {}),
    chunks: () => sbomDocumentChunks(options.format, subject, contents),
  };
}

async function readConfig(storage: ReadOnlyStorage, manifest: ImageManifest, signal?: AbortSignal): Promise<ImageConfig | undefined> {
  try {
    return parseImageConfig(await readSmall(await storage.fetch(manifest.config, { signal }), MAX_CONFIG_BYTES, `config ${manifest.config.digest}`), `config ${manifest.config.digest}`);
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'EINVALID') return undefined;
    throw err;
  }
}

function baseOf(manifest: ImageManifest): SbomSubject['base'] {
  const name = manifest.annotations?.['org.opencontainers.image.base.name'];
  const digest = manifest.annotations?.['org.opencontainers.image.base.digest'];
  return name && digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? { name, digest: digest as `sha256:${string}` } : undefined;
}

/** Seconds precision, UTC: the given time, else the image's own creation time, else the epoch. */
function sbomTime(created: Date | undefined, config: ImageConfig | undefined): string {
  const fromConfig = config?.created ? new Date(config.created) : undefined;
  const t = created ?? (fromConfig && !Number.isNaN(fromConfig.getTime()) ? fromConfig : new Date(0));
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
