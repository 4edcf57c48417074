/**
 * Defaults shared by the commands, so that `ocipush build ./rootfs` then `ocipush push …` chain
 * with no flags: both read and write the same layout.
 */

/** The OCI image layout used when no `--layout` is given and OCIPUSH_LAYOUT is unset (relative to the working directory). */
export const DEFAULT_LAYOUT_DIR = 'oci-layout';

/** The tag a build writes and a push reads when none is named. */
export const DEFAULT_TAG = 'latest';

/**
 * The default of the CLI's `--layout`: `$OCIPUSH_LAYOUT` as it is written, else DEFAULT_LAYOUT_DIR.
 * cli/layout-option.ts reads it as it reads a typed `--layout` (`oci:DIR` is DIR); what it means
 * to a library call, or to a verb comparing with it, is `defaultLayoutDir` (transports/layout-name.ts).
 */
export function layoutOptionDefault(env: NodeJS.ProcessEnv = process.env): string {
  return env.OCIPUSH_LAYOUT || DEFAULT_LAYOUT_DIR;
}

/** Blobs transferred at once by a copy (push, pull), unless `--concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 4;
