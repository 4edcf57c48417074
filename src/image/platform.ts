import { OcipushError } from '../errors.js';
import { normalizeTarget } from '../dockerfile/platform.js';
import { Annotation, describePlatform, normalVariant, platformArgument, platformExact, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';

/** linux/amd64: what an index is narrowed to when nobody asked for a platform, as docker on such a host does. */
export const DEFAULT_PLATFORM: Readonly<Platform> = Object.freeze({ os: 'linux', architecture: 'amd64' });

export interface PlatformChoice {
  /** The platform asked for; none means DEFAULT_PLATFORM, or the only image there is. */
  wanted?: Platform;
  /** Names the image in the error (a reference, a path). */
  name: string;
  /** Builds the error when nothing matches; `available` lists the index's platforms. */
  noMatch?: (wanted: Platform, available: string) => OcipushError;
}

/**
 * The entry of an index for a platform (arm64 matches arm64/v8, as docker reads it; an exact
 * entry first, `platformExact`: linux/amd64 is not an amd64/v3 listed before it). Entries
 * for `unknown/unknown` (BuildKit's attestation manifests) are never images to run; none for the
 * platform: one for a lower variant (`runnablePlatforms`). With no platform asked for: linux/amd64,
 * else the only image.
 */
export function choosePlatform(entries: readonly Descriptor[], choice: PlatformChoice): Descriptor {
  const images = platformImages(entries);
  const platform = choice.wanted ?? DEFAULT_PLATFORM;
  for (const candidate of runnablePlatforms(platform)) {
    const match = exactFirst(images, candidate).find((d) => platformMatches(candidate, d.platform));
    if (match) return match;
  }
  if (!choice.wanted && images.length === 1) return images[0]!;
  throw noPlatformError(choice, listPlatforms(images));
}

/**
 * The platforms a CPU of `wanted` runs, best first: `wanted`, then, for an index that has no
 * image of it, the lower variants of its architecture (arm/v7 runs arm/v6 and v5 code, amd64/v3
 * runs v2 and the plain amd64, arm64/v9 the plain arm64), as containerd's platforms.Only and
 * skopeo's --override-variant fall back. Never another architecture, nor a higher variant.
 */
export function runnablePlatforms(wanted: Platform): Platform[] {
  if (wanted.architecture === 'arm64') return [wanted, ...lowerArm64(normalVariant(wanted)!).map((variant) => ({ ...wanted, variant }))];
  const lowest = LOWEST_VARIANT[wanted.architecture];
  const level = /^v(\d+)$/.exec(normalVariant(wanted) ?? '')?.[1];
  if (lowest === undefined || level === undefined) return [wanted];
  const runnable: Platform[] = [wanted];
  for (let v = Number(level) - 1; v >= lowest; v--) runnable.push({ ...wanted, variant: `v${v}` });
  return runnable;
}

/**
 * Whether an image of `found` may stand for `wanted`: it is for `wanted`, or, when it was picked
 * from an index (`fromIndex`), for a lower variant a CPU of `wanted` runs (`runnablePlatforms`).
 * One image, not an index, is what its reference names: another variant of it is refused.
 */
export function servesPlatform(wanted: Platform, found: Platform, fromIndex: boolean): boolean {
  return (fromIndex ? runnablePlatforms(wanted) : [wanted]).some((p) => platformMatches(p, found));
}

/**
 * The platform of an image built for `target` onto a base of `base`: the base's; onto a lower
 * variant of the target's architecture (an index with arm/v6 and no arm/v7), the target's
 * variant, as BuildKit writes it: the image is for what the build was for. A base that is for
 * the target keeps its own (an `arm` config without a variant stays so for `linux/arm`).
 */
export function builtPlatform(base: Platform, target: Platform | undefined): Platform {
  if (!target || platformMatches(target, base) || target.os !== base.os || target.architecture !== base.architecture) return base;
  const { variant } = normalizeTarget(target);
  return variant ? { ...base, variant } : base;
}

/**
 * The arm64 levels below `variant`, best first, as containerd orders them: v8.2 runs v8.1 and v8;
 * v9.x runs v9.(x-1) … v9, then v8.(x+5) … v8, v9.0 having forked from v8.5 (v8.9 the highest).
 * Images name v8 and v9 without `.0`.
 */
function lowerArm64(variant: string): string[] {
  const m = /^v(8|9)(?:\.(\d))?$/.exec(variant);
  if (!m) return [];
  const level = (major: number, minor: number) => (minor === 0 ? `v${major}` : `v${major}.${minor}`);
  const lower: string[] = [];
  let minor = Number(m[2] ?? 0);
  if (m[1] === '9') {
    for (let v = minor - 1; v >= 0; v--) lower.push(level(9, v));
    minor = Math.min(minor + 5, 9);
    lower.push(level(8, minor));
  }
  for (let v = minor - 1; v >= 0; v--) lower.push(level(8, v));
  return lower;
}

/** The lowest variant of the architectures whose variants are levels a CPU of a higher one runs. */
const LOWEST_VARIANT: Record<string, number> = { arm: 5, amd64: 1 };

/**
 * `entries` with those exactly `wanted` first (`platformExact`: linux/amd64 is not an amd64/v3
 * listed before it), the rest in their order: the order an index's entries are tried in.
 */
export function exactFirst(entries: readonly Descriptor[], wanted: Platform): Descriptor[] {
  const exact = entries.filter((d) => platformExact(wanted, d.platform));
  return [...exact, ...entries.filter((d) => !exact.includes(d))];
}

/** The error when an index has no image for the platform of `choice`: `available` lists what it has. */
export function noPlatformError(choice: PlatformChoice, available: string): OcipushError {
  const platform = choice.wanted ?? DEFAULT_PLATFORM;
  return choice.noMatch?.(platform, available)
    ?? new OcipushError('ENOTFOUND', `${choice.name} has no image for ${platformArgument(platform)} (it has: ${available}); choose one with --platform`);
}

/**
 * An index's entries that are images to run: BuildKit's attestation manifests, under
 * `unknown/unknown` and annotated `vnd.docker.reference.type`, are not.
 */
export function platformImages(entries: readonly Descriptor[]): Descriptor[] {
  return entries.filter((d) => d.platform?.os !== 'unknown' && d.annotations?.[Annotation.ReferenceType] === undefined);
}

/** `linux/amd64, linux/arm64` (an entry without a platform by its digest), or `none`: what an index has, for a message. */
export function listPlatforms(images: readonly Descriptor[]): string {
  return images.map((d) => (d.platform ? describePlatform(d.platform) : d.digest)).join(', ') || 'none';
}

/** The error pull and inspect give: `NAME: no manifest for P (the index has: …)`. */
export function noManifestFor(name: string): NonNullable<PlatformChoice['noMatch']> {
  return (wanted, available) => new OcipushError('ENOTFOUND', `${name}: no manifest for ${platformArgument(wanted)} (the index has: ${available})`);
}
