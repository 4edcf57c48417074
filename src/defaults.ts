/**
 * Defaults shared by the commands, so that `ocipush build ./rootfs` then `ocipush push …` chain
 * with no flags: both read and write the same layout.
 */

/** The OCI image layout used when no `--layout` is given (relative to the working directory). */
export const DEFAULT_LAYOUT_DIR = 'oci-layout';

/** The tag a build writes and a push reads when none is named. */
export const DEFAULT_TAG = 'latest';

/** `$OCIPUSH_LAYOUT` when set, else DEFAULT_LAYOUT_DIR. */
export function defaultLayoutDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OCIPUSH_LAYOUT || DEFAULT_LAYOUT_DIR;
}

/** Blobs transferred at once by a copy (push, pull), unless `--concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 4;
