import { OcipushError } from '../errors.js';
import { formatPlatform, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';

/**
 * The manifest of an index that matches `platform` (arm64 matches arm64/v8, as docker reads it).
 * A plain manifest is returned as it is: it is the only choice there is.
 */
export function selectPlatform(fetched: { descriptor: Descriptor; bytes: Buffer }, platform: Platform, what: string): Descriptor {
  const parsed = parseManifest(fetched.bytes, what, fetched.descriptor.mediaType);
  if (!isIndex(parsed)) return fetched.descriptor;
  const match = parsed.manifests.find((d) => platformMatches(platform, d.platform));
  if (match) return match;
  const available = parsed.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : d.digest)).join(', ') || 'none';
  throw new OcipushError('ENOTFOUND', `${what}: no manifest for ${formatPlatform(platform)} (the index has: ${available})`);
}
