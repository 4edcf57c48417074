import { OcipushError } from '../errors.js';
import { normalizePlatform, ONE_PLATFORM_ONLY, parsePlatform, platformArgument, splitOsVersion, type Platform } from './descriptor.js';

/**
 * A platform as a user types it (the CLI's `--platform`, the library's `platform`) checked against
 * the values the OCI image spec names: os and architecture from Go's GOOS and GOARCH lists
 * (image-index.md: "implementations SHOULD understand values listed in the Go Language
 * document"), variants from the spec's table (arm v6/v7/v8, arm64 v8) and those containerd
 * normalises (arm v5, arm64 v8.x/v9.x, amd64's microarchitecture levels v1-v4). A typo
 * (`linux/amd65`) is refused with the valid values, before any request: unchecked, it reached the
 * registry as a platform no index lists and came back as "not found". An os.version may follow,
 * as crane (`windows/amd64:10.0.17763.1234`) or containerd (`windows(10.0.17763)/amd64`) takes
 * it. Besides Go's, `wasi`: the os of Docker's WebAssembly images, which containerd takes.
 * One function for the CLI and the library, so both take the same spellings.
 */
export const KNOWN_OS = ['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasi', 'wasip1', 'windows', 'zos'] as const;
export const KNOWN_ARCH = ['386', 'amd64', 'arm', 'arm64', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'ppc64', 'ppc64le', 'riscv64', 's390x', 'sparc64', 'wasm'] as const;
const ARM64_LEVELS = ['v8', 'v9', ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `v8.${n}`), ...[0, 1, 2, 3, 4, 5].map((n) => `v9.${n}`)];
export const KNOWN_VARIANTS: Record<string, readonly string[]> = {
  arm: ['v5', 'v6', 'v7', 'v8'],
  arm64: ARM64_LEVELS,
  amd64: ['v1', 'v2', 'v3', 'v4'],
};

/** How the messages name the option and its escape hatch: the CLI's flags, or the library's option names. */
export interface PlatformWording {
  option: string;
  unlisted: string;
}

export const CLI_PLATFORM_WORDING: PlatformWording = { option: '--platform', unlisted: '--unlisted-platform' };

function usage(message: string): OcipushError {
  return new OcipushError('EUSAGE', message);
}

/** This machine's platform as containerd's DefaultSpec names it on Linux (node's process.arch in Go's words). */
export function hostPlatformOf(nodeArch: string = process.arch): Platform {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return { os: 'linux', architecture: arch[nodeArch] ?? nodeArch, ...(nodeArch === 'arm' && { variant: 'v7' }) };
}

/** crane's `--platform all`: every platform of an index, what copy, pull and mutate take without --platform. */
export function isAllPlatforms(text: string | undefined): boolean {
  return text?.trim().toLowerCase() === 'all';
}

/**
 * The platform text as the spec spells it (`Linux/aarch64` is `linux/arm64`: normalizePlatform)
 * when it names a known platform, or as given with `unlisted`; else a usage error naming the valid values.
 */
export function checkPlatform(text: string | undefined, unlisted: boolean | undefined, wording: PlatformWording = CLI_PLATFORM_WORDING): string | undefined {
  if (text === undefined) return text;
  const flag = wording.option;
  if (text.includes(',')) throw usage(`${flag} ${JSON.stringify(text)}: ${ONE_PLATFORM_ONLY}`);
  if (isAllPlatforms(text)) throw usage(`${flag} all (every platform, as crane takes it): one os/arch[/variant] here, or no ${flag} for what the command reads without one; copy, pull and mutate take ${flag} all`);
  if (unlisted) return text;
  const { rest, osVersion } = splitOsVersion(text);
  const hint = `(${wording.unlisted} takes it as it is)`;
  const parts = rest.includes('/') ? rest.split('/') : oneWord(text, rest, flag, hint);
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw usage(`${flag}: invalid platform ${JSON.stringify(text)}: expected os/arch[/variant][:os.version], e.g. linux/amd64, linux/arm64/v8 or windows/amd64:10.0.17763.1234`);
  }
  if (osVersion !== undefined && !/^[A-Za-z0-9_.-]+$/.test(osVersion)) {
    throw usage(`${flag} ${JSON.stringify(text)}: invalid os.version ${JSON.stringify(osVersion)}: expected letters, digits, '.', '_' or '-', e.g. 10.0.17763.1234`);
  }
  const { os, architecture: arch, variant } = normalizePlatform(...(parts as [string, string, string?]));
  if (!(KNOWN_OS as readonly string[]).includes(os)) {
    throw usage(`${flag} ${JSON.stringify(text)}: unknown os "${os}"; the OCI image spec's values are ${KNOWN_OS.join(', ')} ${hint}`);
  }
  if (!(KNOWN_ARCH as readonly string[]).includes(arch)) {
    throw usage(`${flag} ${JSON.stringify(text)}: unknown architecture "${arch}"; the OCI image spec's values are ${KNOWN_ARCH.join(', ')} ${hint}`);
  }
  if (variant !== undefined) {
    const variants = KNOWN_VARIANTS[arch] ?? [];
    if (!variants.includes(variant)) {
      const valid = variants.length > 0 ? `the variants of ${arch} are ${variants.join(', ')}` : `${arch} has no variants`;
      throw usage(`${flag} ${JSON.stringify(text)}: unknown variant "${variant}"; ${valid} ${hint}`);
    }
  }
  return platformArgument({ os, architecture: arch, ...(variant ? { variant } : {}), ...(osVersion ? { 'os.version': osVersion } : {}) });
}

/**
 * `linux` or `arm64` alone, as docker and containerd's platforms.Parse take them: an os is this
 * machine's architecture on it (`darwin` is darwin/amd64 on amd64), an architecture is Linux's
 * (`aarch64` is linux/arm64), as a Linux machine reads it.
 */
function oneWord(text: string, word: string, flag: string, hint: string): string[] {
  const host = hostPlatformOf();
  const lower = word.toLowerCase();
  const os = lower === 'macos' ? 'darwin' : lower;
  if ((KNOWN_OS as readonly string[]).includes(os)) return [os, host.architecture, ...(host.variant ? [host.variant] : [])];
  if ((KNOWN_ARCH as readonly string[]).includes(normalizePlatform('linux', word).architecture)) return ['linux', word];
  if (word === '') return [];
  throw usage(`${flag} ${JSON.stringify(text)}: "${word}" is neither an os nor an architecture the OCI image spec names; expected os/arch[/variant], e.g. linux/amd64 ${hint}`);
}

/** A comma-separated `a,b` (copy, pull, mutate): each one checked as checkPlatform does, then parsed; `all`: none (every platform). */
export function checkPlatformList(text: string, unlisted: boolean | undefined, wording: PlatformWording = CLI_PLATFORM_WORDING): Platform[] {
  if (isAllPlatforms(text)) return [];
  if (text.split(',').some(isAllPlatforms)) throw usage(`${wording.option} ${JSON.stringify(text)}: all is every platform, given alone`);
  return text.split(',').map((p) => parsePlatform(checkPlatform(p.trim(), unlisted, wording)!));
}
