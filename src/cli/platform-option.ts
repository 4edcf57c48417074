import type { Argv } from 'yargs';

// The checks themselves live in oci/platform-check.ts: the library's `platform` takes the same spellings.
export { KNOWN_OS, KNOWN_ARCH, KNOWN_VARIANTS, checkPlatform, checkPlatformList, isAllPlatforms } from '../oci/platform-check.js';

export const UNLISTED_FLAG = 'unlisted-platform';

export function unlistedPlatformOption(y: Argv): Argv {
  return y.option(UNLISTED_FLAG, { type: 'boolean', describe: 'Take --platform as it is, also an os, architecture or variant the OCI image spec does not list' });
}
