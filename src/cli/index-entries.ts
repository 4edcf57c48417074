import { formatPlatform, type Descriptor } from '../oci/descriptor.js';

/*
 * An index entry as `index create` reports it. Windows images of one tag differ only by their
 * os.version (ltsc2019, ltsc2022): it is named, or two entries would read the same.
 */

export function entryLine(entry: Descriptor): string {
  const version = entry.platform?.['os.version'];
  return `${formatPlatform(entry.platform!)}${version ? ` (os.version ${version})` : ''} ${entry.digest}`;
}

export function entryReport(entry: Descriptor): { digest: string; size: number; mediaType: string; platform: string; osVersion?: string } {
  const version = entry.platform?.['os.version'];
  return { digest: entry.digest, size: entry.size, mediaType: entry.mediaType, platform: formatPlatform(entry.platform!), ...(version ? { osVersion: version } : {}) };
}
