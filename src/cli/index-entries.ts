import { formatPlatform, type Descriptor } from '../oci/descriptor.js';

/*
 * An index entry as `index create` reports it. Windows images of one tag differ only by their
 * os.version (ltsc2019, ltsc2022): it is named, or two entries would read the same. An artifact
 * (an SBOM oras pushed into the index) has no platform: its artifactType names it.
 */

export function entryLine(entry: Descriptor): string {
  if (!entry.platform) return `artifact ${entry.artifactType ?? entry.mediaType} ${entry.digest}`;
  const version = entry.platform['os.version'];
  return `${formatPlatform(entry.platform)}${version ? ` (os.version ${version})` : ''} ${entry.digest}`;
}

export function entryReport(entry: Descriptor): { digest: string; size: number; mediaType: string; platform?: string; osVersion?: string; artifactType?: string } {
  const version = entry.platform?.['os.version'];
  return {
    digest: entry.digest, size: entry.size, mediaType: entry.mediaType,
    ...(entry.platform ? { platform: formatPlatform(entry.platform) } : {}),
    ...(version ? { osVersion: version } : {}),
    ...(entry.artifactType ? { artifactType: entry.artifactType } : {}),
  };
}
