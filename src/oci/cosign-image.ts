import { sha256 } from './digest.js';
import type { Descriptor } from './descriptor.js';
import { encodeJson, type ImageManifest } from './manifest.js';
import { MediaType } from './media-types.js';

/**
 * The image cosign keeps under `sha256-<hex>.sig` / `.att` over `layers` (one per signature or
 * attestation): the config go-containerregistry gives the images cosign builds (empty.Image plus
 * appended layers: zero times, empty platform, one history entry and one diff_id per layer) and
 * an OCI manifest naming it and the layers. Pure: the caller stores the bytes.
 */
export function cosignImage(layers: readonly Descriptor[]): { config: { descriptor: Descriptor; bytes: Buffer }; manifest: { descriptor: Descriptor; bytes: Buffer } } {
  const config = encodeJson({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  });
  const configDesc: Descriptor = { mediaType: MediaType.OciConfig, size: config.length, digest: sha256(config) };
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [...layers] };
  const bytes = encodeJson(manifest);
  return {
    config: { descriptor: configDesc, bytes: config },
    manifest: { descriptor: { mediaType: MediaType.OciManifest, digest: sha256(bytes), size: bytes.length }, bytes },
  };
}

/** One signature (or attestation) layer is another when it holds the same payload with the same annotations (the signature among them). */
export function sameAttachedLayer(a: Descriptor, b: Descriptor): boolean {
  return a.digest === b.digest && sameAnnotations(a.annotations ?? {}, b.annotations ?? {});
}

export function sameAnnotations(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
