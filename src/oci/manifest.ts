import type { Descriptor, Platform } from './descriptor.js';
import { assertAnnotations, assertDescriptor } from './descriptor.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './media-types.js';
import { OcipushError } from '../errors.js';

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The image config (`application/vnd.oci.image.config.v1+json`), with Docker's extra fields. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: Healthcheck;
  Shell?: string[];
  OnBuild?: string[] | null;
}

export interface Healthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export type AnyManifest = ImageManifest | ImageIndex;

export function platformOfConfig(config: ImageConfig): Platform {
  const p: Platform = { os: config.os, architecture: config.architecture };
  if (config.variant) p.variant = config.variant;
  if (config['os.version']) p['os.version'] = config['os.version'];
  // An index entry carries them (win32k: a Windows image that needs the GUI subsystem), as buildah manifest add copies them.
  if (Array.isArray(config['os.features']) && config['os.features'].length > 0) p['os.features'] = config['os.features'];
  return p;
}

/**
 * JSON bytes of a manifest, config or index. Encoded once, hashed and stored as these exact bytes:
 * a digest always refers to the bytes, never to a re-serialisation.
 */
export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Why text that does not parse is no JSON, when it starts with a UTF-8 byte order mark: one an
 * editor saved, invisible in a terminal, which RFC 8259 forbids and Go's decoder (skopeo's,
 * umoci's) refuses too. Empty for any other text.
 */
export function byteOrderMarkNote(text: string | Uint8Array): string {
  const bom = typeof text === 'string' ? text.charCodeAt(0) === 0xfeff : text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf;
  return bom ? ': it starts with a byte order mark (EF BB BF), which JSON may not' : '';
}

function parseJsonBytes(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    const bom = byteOrderMarkNote(bytes);
    throw new OcipushError('EINVALID', `${where}: not valid JSON${bom || ` (${(err as Error).message})`}`, { cause: err });
  }
}

/**
 * A document with the fields of the other kind (an index's `manifests` in a manifest, a
 * manifest's `config` or `layers` in an index) reads as either, one image to one tool and
 * another to the next under the same digest (CVE-2021-41190): refused, as containerd and
 * skopeo refuse it ("rejecting ambiguous manifest"). So is a body listed as the other kind.
 */
function assertUnambiguous(value: Record<string, unknown>, mediaType: string, where: string, how: string): void {
  const index = isIndexMediaType(mediaType);
  if (!index && !isManifestMediaType(mediaType)) return;
  const foreign = (index ? ['config', 'layers'] : ['manifests']).filter((key) => key in value);
  if (foreign.length === 0) return;
  throw new OcipushError('EINVALID', `${where}: it ${how} ${index ? 'an index' : 'a manifest'} (${mediaType}) but has ${foreign.join(' and ')}, which ${index ? 'a manifest has' : 'an index has'}: ambiguous, refused as containerd and skopeo refuse it`);
}

/** Parses a manifest or index, taking the media type from the descriptor when the body lacks one. */
export function parseManifest(bytes: Uint8Array, where: string, mediaTypeHint?: string): AnyManifest {
  const value = parseJsonBytes(bytes, where) as Record<string, unknown>;
  if (!value || typeof value !== 'object') throw new OcipushError('EINVALID', `${where}: not a JSON object`);
  const mediaType = (typeof value.mediaType === 'string' ? value.mediaType : undefined) ?? mediaTypeHint
    ?? (Array.isArray(value.manifests) ? MediaType.OciIndex : MediaType.OciManifest);
  if (value.schemaVersion !== 2) throw new OcipushError('EINVALID', `${where}: unsupported schemaVersion ${String(value.schemaVersion)}`);
  assertUnambiguous(value, mediaType, where, typeof value.mediaType === 'string' ? 'says it is' : 'is listed as');
  assertAnnotations(value.annotations, where);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(value.manifests)) throw new OcipushError('EINVALID', `${where}: index has no manifests array`);
    // An entry's annotations name it (a layout's ref.name): one that is no string is refused here.
    // A layer's are left to what reads them (a cosign signature layer with an odd one is one invalid signature).
    value.manifests.forEach((d, i) => {
      assertDescriptor(d, `${where}: manifests[${i}]`);
      assertAnnotations(d.annotations, `${where}: manifests[${i}]`);
    });
    return { ...(value as unknown as ImageIndex), mediaType };
  }
  if (isManifestMediaType(mediaType)) {
    assertDescriptor(value.config, `${where}: config`);
    // A config is a blob (the registry's blob endpoint, never its manifest one): named as a manifest, every reader that follows manifests took it for one.
    if (isManifestMediaType(value.config.mediaType) || isIndexMediaType(value.config.mediaType)) {
      throw new OcipushError('EINVALID', `${where}: config ${value.config.digest} has the media type of ${isIndexMediaType(value.config.mediaType) ? 'an index' : 'a manifest'} (${value.config.mediaType}); a config is a blob, never a manifest`);
    }
    if (!Array.isArray(value.layers)) throw new OcipushError('EINVALID', `${where}: manifest has no layers array`);
    value.layers.forEach((d, i) => assertDescriptor(d, `${where}: layers[${i}]`));
    return { ...(value as unknown as ImageManifest), mediaType };
  }
  throw new OcipushError('EUNSUPPORTED', `${where}: unsupported manifest media type ${mediaType}`);
}

export function isIndex(m: AnyManifest): m is ImageIndex {
  return isIndexMediaType(m.mediaType);
}

/**
 * An image config, its `rootfs.diff_ids` a list. Go's encoding/json writes a list never filled as
 * `null`: go-containerregistry's image of no layers (crane's `empty.Image`, a scratch image made
 * with it) says `"rootfs": {"type": "layers", "diff_ids": null}`, which docker, podman and umoci
 * read as no layers; so is it read here (the bytes stay as they are). A config without `rootfs`,
 * which docker and umoci refuse, is refused.
 */
export function parseImageConfig(bytes: Uint8Array, where: string): ImageConfig {
  const value = parseJsonBytes(bytes, where) as ImageConfig;
  if (!value || typeof value !== 'object' || !value.rootfs || typeof value.rootfs !== 'object') {
    throw new OcipushError('EINVALID', `${where}: image config has no rootfs`);
  }
  const diffIds: unknown = value.rootfs.diff_ids;
  if (diffIds === null || diffIds === undefined) return { ...value, rootfs: { ...value.rootfs, diff_ids: [] } };
  if (!Array.isArray(diffIds)) throw new OcipushError('EINVALID', `${where}: image config's rootfs.diff_ids is not a list`);
  return value;
}
