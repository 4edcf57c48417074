import type { Platform } from '../oci/descriptor.js';
import { hostPlatformOf } from '../oci/platform-check.js';

/** The platform a build targets, and the automatic platform ARGs BuildKit derives from it. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
  /** The os.version (`10.0.20348.887` of `windows/amd64:10.0.20348.887`). */
  osVersion?: string;
}

/** The platform ARGs BuildKit defines in the global scope (dockerfile2llb's defaultArgs). */
export function platformArgs(target: PlatformSpec, build: PlatformSpec = target): Record<string, string> {
  const format = (p: PlatformSpec): string => [p.os, p.architecture, p.variant].filter((s) => s).join('/');
  // TARGETPLATFORM is containerd's FormatAll, which names an os.version (`windows(10.0.20348.887)/amd64`,
  // a form FROM --platform reads back); BUILDPLATFORM is Format, which never does.
  const formatAll = (p: PlatformSpec): string => (p.osVersion ? format({ ...p, os: `${p.os}(${p.osVersion})` }) : format(p));
  return {
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDOSVERSION: build.osVersion ?? '',
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
    TARGETPLATFORM: formatAll(target),
    TARGETOS: target.os,
    TARGETOSVERSION: target.osVersion ?? '',
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
  };
}

/**
 * containerd's platforms.Normalize, which BuildKit applies to `--platform` before it sets
 * TARGETPLATFORM and the image's platform: `linux/arm` is `linux/arm/v7`, `linux/arm64/v8` is
 * `linux/arm64`, `linux/amd64/v1` is `linux/amd64`, `armhf` is `arm/v7`, `armel` `arm/v6`.
 */
export function normalizeTarget(p: PlatformSpec): PlatformSpec {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (architecture) {
    case 'i386':
      architecture = '386';
      variant = '';
      break;
    case 'x86_64': case 'x86-64': case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64': case 'arm64':
      architecture = 'arm64';
      if (['8', 'v8', 'v8.0'].includes(variant)) variant = '';
      else if (['9', '9.0', 'v9.0'].includes(variant)) variant = 'v9';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (['5', '6', '8'].includes(variant)) variant = `v${variant}`;
      break;
  }
  return { os, architecture, ...(variant !== '' && { variant }), ...(p.osVersion ? { osVersion: p.osVersion } : {}) };
}

/**
 * The platform BuildKit writes into the image of a Dockerfile's final stage (dockerfile2llb's
 * toDispatchState): the stage's, read from its base's config; with `--platform` given (`target`),
 * the target's os and architecture, and its variant and os.version too where it names one or is
 * another os or architecture (a final `FROM --platform=$BUILDPLATFORM` stage is labelled for the
 * target). Normalized at the end, as Dockerfile frontend 1.15 and later do: an arm64 base's `v8`
 * is dropped, an `arm` base without a variant is arm/v7.
 */
export function finalStagePlatform(base: Platform, target: PlatformSpec | undefined): Platform {
  let platform: Platform = { ...base };
  if (target) {
    const wanted = normalizeTarget(target);
    const sameOsArch = wanted.os === base.os && wanted.architecture === base.architecture;
    const { variant, 'os.version': osVersion, ...rest } = platform;
    platform = {
      ...rest,
      os: wanted.os,
      architecture: wanted.architecture,
      ...(wanted.variant ? { variant: wanted.variant } : !sameOsArch || !variant ? {} : { variant }),
      ...(sameOsArch && osVersion ? { 'os.version': osVersion } : {}),
    };
  }
  const normal = normalizeTarget(platform);
  const features = platform['os.features'];
  return {
    ...normal,
    ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
    ...(features && features.length > 0 ? { 'os.features': [...new Set(features)].sort() } : {}),
  };
}

export function hostPlatform(): PlatformSpec {
  return hostPlatformOf();
}
