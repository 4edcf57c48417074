import { OcipushError } from '../errors.js';
import { DEFAULT_LAYOUT_DIR } from '../defaults.js';

/*
 * How `oci:DIR[:NAME]` splits, and the default layout, apart from layout-reference.ts: every verb
 * reads the default before it runs, and this loads nothing more than the error class.
 */

export interface LayoutTarget {
  dir: string;
  /** A tag or digest inside the layout; none means its only image. */
  name?: string;
}

/** `DIR[:NAME]` or `DIR@sha256:…` / `DIR@sha512:…` (what follows `oci:`). */
export function splitDirAndName(rest: string): LayoutTarget {
  const target = dirAndName(rest);
  // skopeo refuses `oci:` too: an unset "$DIR" must not make the current directory a layout.
  if (target.dir === '') throw new OcipushError('EUSAGE', `oci:${rest}: no directory named after oci: (the current one is oci:.)`);
  return target;
}

function dirAndName(rest: string): LayoutTarget {
  // DIR@sha256:… (or sha512, the image spec's other algorithm) names an image by digest.
  const at = rest.lastIndexOf('@');
  if (at >= 0 && !rest.slice(0, at).includes(':') && /^sha(?:256|512):/.test(rest.slice(at + 1))) return { dir: rest.slice(0, at), name: rest.slice(at + 1) };
  // The name is everything after the first colon, as skopeo splits it: podman and skopeo write
  // full references as names (oci:DIR:localhost/app:1, oci:DIR:example.com/app:1).
  const colon = rest.indexOf(':');
  if (colon >= 0) return { dir: rest.slice(0, colon), name: rest.slice(colon + 1) || undefined };
  return { dir: rest };
}

/**
 * The layout of a verb or library call that names none: `$OCIPUSH_LAYOUT` read as `--layout`
 * reads it (`oci:DIR` is the directory DIR, as skopeo and oras name a layout), else ./oci-layout.
 * Every verb and call reads it here, so a build and the push after it agree on one directory,
 * and a comparison with the default (export's "name the layout once") sees the directory.
 * A NAME in it is refused: the variable outlives one command, and would tag every build and
 * pick every push's image.
 */
export function defaultLayoutDir(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.OCIPUSH_LAYOUT;
  if (!value) return DEFAULT_LAYOUT_DIR;
  if (!value.startsWith('oci:')) return value;
  const { dir, name } = splitDirAndName(value.slice(4));
  if (name !== undefined) {
    throw new OcipushError('EUSAGE', `OCIPUSH_LAYOUT=${value}: the variable names a layout, not an image in it: OCIPUSH_LAYOUT=oci:${dir}, and the image with --tag ${name}`);
  }
  return dir;
}
