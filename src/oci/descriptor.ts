import { describeJson, digestAs, digestProblem, sha256, type Digest } from './digest.js';
import { MediaType } from './media-types.js';
import { OcipushError } from '../errors.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Created: 'org.opencontainers.image.created',
  BaseName: 'org.opencontainers.image.base.name',
  BaseDigest: 'org.opencontainers.image.base.digest',
  /** containerd's full image name in a layout (`docker.io/library/hello:1`). */
  ContainerdImageName: 'io.containerd.image.name',
  /** On BuildKit's attestation manifests in an index: what they are (`attestation-manifest`), and the image they describe. */
  ReferenceType: 'vnd.docker.reference.type',
  ReferenceDigest: 'vnd.docker.reference.digest',
} as const;

/**
 * Orders two `org.opencontainers.image.created` values by the instant they name (> 0: `a` is
 * later). RFC 3339 lets a writer use any offset and any number of second fractions
 * (`date -Iseconds` writes `+02:00`, Go's RFC3339Nano nine digits), so the text alone does not
 * sort them; a value that is absent or no RFC 3339 time comes before every time.
 */
export function compareCreated(a: string | undefined, b: string | undefined): number {
  const x = createdInstant(a);
  const y = createdInstant(b);
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  if (x.seconds !== y.seconds) return x.seconds - y.seconds;
  // Digit strings without trailing zeros order as the fractions they write (0.5 > 0.05, 0.5 = 0.50).
  return x.fraction < y.fraction ? -1 : x.fraction > y.fraction ? 1 : 0;
}

function createdInstant(text: string | undefined): { seconds: number; fraction: string } | undefined {
  const m = text === undefined ? null : /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`);
  return Number.isFinite(ms) ? { seconds: ms / 1000, fraction: (m[3] ?? '').replace(/0+$/, '') } : undefined;
}

/**
 * A non-distributable layer (Windows base layers: Docker's `foreign` media types, OCI's
 * `nondistributable`): its bytes live at its `urls`, and registries need not hold it.
 */
export function isForeignLayer(desc: Pick<Descriptor, 'mediaType' | 'urls'>): boolean {
  return (desc.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(desc.mediaType);
}

export function assertDescriptor(value: unknown, where: string): asserts value is Descriptor {
  const problem = descriptorProblem(value);
  if (problem !== undefined) throw new OcipushError('EINVALID', `${where}: not a valid descriptor: ${problem}`);
}

/** Why `value` is no descriptor (its first fault, named as Go's decoder and go-digest would refuse it), or undefined. */
function descriptorProblem(value: unknown): string | undefined {
  if (value === undefined) return 'there is none';
  if (!value || typeof value !== 'object' || Array.isArray(value)) return `${describeJson(value)}, not an object`;
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') return d.mediaType === undefined ? 'no mediaType' : `mediaType is ${describeJson(d.mediaType)}, not a string`;
  const digest = digestProblem(d.digest);
  if (digest !== undefined) return digest;
  const size = d.size;
  if (typeof size !== 'number') return size === undefined ? 'no size' : `size is ${describeJson(size)}, not a number`;
  if (!Number.isInteger(size)) return `size ${size} is not a whole number of bytes`;
  if (size < 0) return `size ${size} is negative`;
  if (!Number.isSafeInteger(size)) return `size ${size} is beyond what ocipush counts (2^53 bytes)`;
  return undefined;
}

/**
 * Why a descriptor's `data` (the blob embedded, base64) is not the blob its digest and size name,
 * or undefined when it is, or when there is none. The image spec says it MUST be identical; a
 * reader that takes it instead of fetching would otherwise see other bytes than one that fetches.
 */
export function embeddedDataProblem(desc: Descriptor): string | undefined {
  const data: unknown = (desc as { data?: unknown }).data;
  if (data === undefined) return undefined;
  if (typeof data !== 'string') return `its data is ${describeJson(data)}, not base64 text`;
  // Go's decoder (what wrote and reads it elsewhere) takes only standard, padded base64.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(data)) return 'its data is not standard base64';
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== desc.size) return `its data is ${bytes.length} bytes, the descriptor says ${desc.size}`;
  const actual = digestAs(desc.digest, bytes);
  return actual === desc.digest ? undefined : `its data has digest ${actual}, not ${desc.digest}`;
}

/** Annotations are a map of string to string (as the image spec says, and as Go's clients unmarshal them): anything else is named. */
export function assertAnnotations(value: unknown, where: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) throw new OcipushError('EINVALID', `${where}: annotations is not an object of strings`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new OcipushError('EINVALID', `${where}: annotation ${JSON.stringify(key)} is ${v === null ? 'null' : `a ${Array.isArray(v) ? 'list' : typeof v}`}, not a string`);
  }
}

/** What a list of platforms given where one is taken is told. */
export const ONE_PLATFORM_ONLY = 'one os/arch[/variant] here; copy and pull take several, comma-separated (a multi-platform image is built once per platform and combined with ocipush index create)';

/**
 * Parses `os/arch[/variant]` as given to --platform (one platform: a comma-separated list is
 * refused, saying where it goes), with an os.version as crane writes it
 * (`windows/amd64:10.0.17763.1234`) or containerd (`windows(10.0.17763)/amd64`): the one way to
 * tell apart the Windows images of one tag, one per Windows release.
 */
export function parsePlatform(text: string): Platform {
  if (text.includes(',')) throw new OcipushError('EUSAGE', `platform ${JSON.stringify(text)}: ${ONE_PLATFORM_ONLY}`);
  const { rest, osVersion } = splitOsVersion(text);
  const parts = rest.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new OcipushError('EUSAGE', `invalid platform "${text}": expected os/arch[/variant][:os.version], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  const platform = normalizePlatform(os, architecture, variant);
  return osVersion ? { ...platform, 'os.version': osVersion } : platform;
}

/** `windows/amd64:10.0.17763.1234` (crane's) or `windows(10.0.17763)/amd64` (containerd's): the platform without its os.version, and the os.version. */
export function splitOsVersion(text: string): { rest: string; osVersion?: string } {
  const crane = /^([^:()]*):([^:/()]*)$/.exec(text);
  if (crane) return { rest: crane[1]!, ...(crane[2] ? { osVersion: crane[2] } : {}) };
  const containerd = /^([^/()]*)\(([^/()]*)\)(\/[^()]*)?$/.exec(text);
  if (containerd) return { rest: `${containerd[1]}${containerd[3] ?? ''}`, ...(containerd[2] ? { osVersion: containerd[2] } : {}) };
  return { rest: text };
}

/** Other spellings of an architecture, as docker and containerd read them (`uname -m`'s, Debian's). */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' }, 'x86-64': { architecture: 'amd64' }, i386: { architecture: '386' }, i686: { architecture: '386' },
  aarch64: { architecture: 'arm64' }, armhf: { architecture: 'arm', variant: 'v7' }, armel: { architecture: 'arm', variant: 'v6' },
};

/**
 * A platform as the image spec spells it, whatever way it was typed: `Linux/ARM64`,
 * `linux/aarch64`, `linux/x86_64`, `linux/arm/7` read as docker and containerd read them
 * (lower case, Go's architecture names, a variant's `v`), so a `--platform` a user copied from
 * `uname -m` finds the image it means.
 */
export function normalizePlatform(os: string, architecture: string, variant?: string): Platform {
  const lowerOs = os.toLowerCase();
  const lowerArch = architecture.toLowerCase();
  const alias = ARCH_ALIASES[lowerArch];
  let v = (variant ?? alias?.variant)?.toLowerCase();
  if (v !== undefined && /^\d/.test(v)) v = `v${v}`;
  const platform: Platform = { os: lowerOs === 'macos' ? 'darwin' : lowerOs, architecture: alias?.architecture ?? lowerArch };
  return v ? { ...platform, variant: v } : platform;
}

/** `linux/amd64,linux/arm64`: the platforms a `--platform` list names, in its order. */
export function parsePlatformList(text: string): Platform[] {
  return text.split(',').map((p) => parsePlatform(p.trim()));
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** A platform as --platform takes it back, its os.version after a colon as crane writes it (`windows/amd64:10.0.17763.1234`). */
export function platformArgument(p: Platform): string {
  return p['os.version'] ? `${formatPlatform(p)}:${p['os.version']}` : formatPlatform(p);
}

/** A platform in --json: `platform` as formatPlatform writes it, and `osVersion` beside it when it has one (Windows images of one tag differ only by it). */
export function platformFields(p: Platform): { platform: string; osVersion?: string } {
  return { platform: formatPlatform(p), ...(p['os.version'] ? { osVersion: p['os.version'] } : {}) };
}

/** A platform for a message: `windows/amd64 (os.version 10.0.17763.1234)`, as inspect and index create name Windows images, which differ only by it. */
export function describePlatform(p: Platform): string {
  return p['os.version'] ? `${formatPlatform(p)} (os.version ${p['os.version']})` : formatPlatform(p);
}

/**
 * A failed read of an index entry's manifest the source does not hold (ELAYOUT, ENOTFOUND), said
 * with the platform the index lists it for (`tail` words it); any other error is left as it is.
 */
export function missingEntryError(err: unknown, entry: Descriptor, tail: (platform: string, code: string) => string): unknown {
  if (!(err instanceof OcipushError) || (err.code !== 'ELAYOUT' && err.code !== 'ENOTFOUND') || !entry.platform) return err;
  return new OcipushError(err.code, `${err.message}: ${tail(formatPlatform(entry.platform), err.code)}`, { ...err.details, cause: err });
}

/**
 * The platform of an image: its config's, with the variant the index entry that chose it names
 * when the config leaves it out (an `arm/v6` entry whose config says only `arm`, which alone
 * would read as arm/v7), as skopeo and containerd go by the entry.
 */
export function entryPlatform(config: Platform, entry: Platform | undefined): Platform {
  if (config.variant || !entry?.variant || entry.os !== config.os || entry.architecture !== config.architecture) return config;
  return { ...config, variant: entry.variant };
}

/** The default variant a platform has when it names none (arm64 is v8, arm is v7); arm64's v8.0 is v8, as containerd reads it. */
export function normalVariant(p: Platform): string | undefined {
  if (p.variant) return p.architecture === 'arm64' ? p.variant.replace(/^(v[89])\.0$/, '$1') : p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return undefined;
}

/**
 * Whether `candidate` is exactly the wanted platform: the same variant once each default is
 * filled in (arm64 is v8, arm is v7, amd64 is v1). `linux/amd64` is then the image without a
 * variant (or `v1`), not an `amd64/v3` beside it, which a v1 CPU cannot run: an index's exact
 * entry is chosen before one `platformMatches` only accepts, as skopeo and containerd choose.
 */
export function platformExact(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate || wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  return variantLevel(wanted) === variantLevel(candidate) && osVersionMatches(wanted, candidate);
}

/**
 * Whether `candidate` is for the os.version asked (any, when none is): that one, or one of its
 * updates (`10.0.17763` is `10.0.17763.1234`, as containerd matches a Windows build).
 */
function osVersionMatches(wanted: Platform, candidate: Platform): boolean {
  const want = wanted['os.version'];
  const have = candidate['os.version'];
  return !want || (have !== undefined && (have === want || have.startsWith(`${want}.`)));
}

/** A platform's variant with its default filled in, amd64's `v1` too (what an image without one needs). */
function variantLevel(p: Platform): string | undefined {
  return normalVariant(p) ?? (p.architecture === 'amd64' ? 'v1' : undefined);
}

/**
 * Whether `candidate` satisfies the wanted platform (variant compared after normalisation:
 * `linux/amd64/v1` is an amd64 image without a variant, as containerd and skopeo read it).
 */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture || !osVersionMatches(wanted, candidate)) return false;
  const wv = normalVariant(wanted);
  return wv === undefined || wv === variantLevel(candidate);
}

/** The empty JSON object (`{}`) the OCI image spec names as the config of an artifact that has none. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Readonly<Descriptor> = Object.freeze({ mediaType: MediaType.OciEmpty, digest: sha256(EMPTY_JSON), size: EMPTY_JSON.length });
