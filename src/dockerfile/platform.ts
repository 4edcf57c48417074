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

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);
const SPECIFIER = /^[A-Za-z0-9_.-]+$/;
const OS_PART = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;

/**
 * A FROM --platform value read as BuildKit reads it (containerd's platforms.Parse): `os/arch`,
 * `os/arch/variant`, or one word, an os (`linux`: this machine's architecture) or an architecture
 * (`arm64`: Linux's), returned as `os[(version)]/arch[/variant]`. Throws containerd's message for
 * one that is not a platform (`linux/`, as a misspelt `linux/${ARCH}` expands).
 */
export function parseFromPlatform(specifier: string): string {
  const fail = (why: string): never => {
    throw new Error(`${why}: invalid argument`);
  };
  if (specifier.includes('*')) fail(`${JSON.stringify(specifier)}: wildcards not yet supported`);
  const parts = specifier.split('/');
  if (parts.length > 4) parts.splice(3, parts.length, parts.slice(3).join('/'));
  const os = OS_PART.exec(parts[0]!);
  if (!os) fail(`${JSON.stringify(parts[0])} is an invalid OS component of ${JSON.stringify(specifier)}: OSAndVersion specifier component must match ${JSON.stringify(OS_PART.source)}`);
  for (const part of parts.slice(1)) {
    if (!SPECIFIER.test(part)) fail(`${JSON.stringify(part)} is an invalid component of ${JSON.stringify(specifier)}: platform specifier component must match ${JSON.stringify(SPECIFIER.source)}`);
  }
  if (parts.length > 3) fail(`${JSON.stringify(specifier)}: cannot parse platform specifier`);
  if (parts.length > 1) return specifier;
  const word = os![1]!.toLowerCase() === 'macos' ? 'darwin' : os![1]!.toLowerCase();
  if (KNOWN_OS.has(word)) {
    const host = hostPlatform();
    return [parts[0], host.architecture, host.variant].filter(Boolean).join('/');
  }
  const { architecture, variant } = normalizeTarget({ os: 'linux', architecture: parts[0]! });
  if (KNOWN_ARCH.has(architecture)) return ['linux', architecture, architecture === 'arm' && variant === 'v7' ? undefined : variant].filter(Boolean).join('/');
  return fail(`${JSON.stringify(specifier)}: unknown operating system or architecture`);
}

export function hostPlatform(): PlatformSpec {
  return hostPlatformOf();
}
