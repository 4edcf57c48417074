/** The platform a build targets, and the automatic platform ARGs BuildKit derives from it. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** The platform ARGs BuildKit defines in the global scope. */
export function platformArgs(target: PlatformSpec, build: PlatformSpec = target): Record<string, string> {
  const format = (p: PlatformSpec): string => [p.os, p.architecture, p.variant].filter((s) => s).join('/');
  return {
    TARGETPLATFORM: format(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
  };
}

export function hostPlatform(): PlatformSpec {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch, ...(process.arch === 'arm' && { variant: 'v7' }) };
}
