import { OcipushError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { Annotation, compareCreated, type Descriptor } from '../../oci/descriptor.js';
import { isIndex, parseManifest, type ImageManifest } from '../../oci/manifest.js';
import { DSSE_MEDIA_TYPE } from '../../oci/media-types.js';
import type { ReadOnlyStorage } from '../../content/storage.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../../content/verify.js';
import { cosignTag } from '../cosign-tags.js';
import { parseBaseSbom, type ParsedBaseSbom } from './base-sbom-parse.js';
import { SBOM_MEDIA_TYPES, type SbomFormat } from './documents.js';

/**
 * The base image's own SBOM, found without reading a layer of the base: an OCI 1.1 referrer of
 * the base manifest (referrers API, referrers tag schema, or a layout's referrer entries) whose
 * artifactType is SPDX or CycloneDX JSON; else cosign's `sha256-<hex>.sbom` tag (`cosign attach
 * sbom`); else an SBOM attestation (DSSE: a referrer, else cosign's `.att` tag); else, when the
 * base was named by an index, BuildKit's SBOM attestation for the platform in that index; else
 * the same search for the index itself (an SBOM attached to the index rather than to each
 * platform: only its packages of the base's architecture are kept). The first candidate that
 * reads and parses is used; one that does not is one warning line and the next is tried.
 */

/** A base SBOM is read whole to be parsed: this bounds it (a base of 100 000 files with SPDX files is ~40 MiB). */
export const MAX_BASE_SBOM_BYTES = 64 * 1024 * 1024;

/** Where the base image lives, as the finder needs it. */
export interface BaseSbomSource {
  /** `registry/repository` or `layout DIR`, for messages. */
  where: string;
  /** Fetches manifests and blobs, verified against their digests and sizes (as every ReadOnlyStorage does). */
  storage: ReadOnlyStorage;
  /** Descriptors (with artifactType) of the manifests whose subject is `subject`. */
  referrers(subject: Descriptor): Promise<Descriptor[]>;
  /** What a tag names, undefined when the tag does not exist (cosign's `.sbom` tags); absent where there are no such tags. */
  resolveTag?(tag: string): Promise<Descriptor | undefined>;
}

export interface BaseSbom extends ParsedBaseSbom {
  /** The base image (its platform manifest) as the new SBOM names it, and how many layers it has (those above are the new image's). */
  image: { name: string; digest: Digest; layers: number };
  /** The manifest the SBOM describes: the base's platform manifest, or its index. */
  describes: Digest;
  /** The manifest that carries the SBOM (a referrer, the `.sbom` tag's image, an attestation manifest). */
  carrier: Digest;
  /** The SBOM document's blob. */
  blob: Digest;
  via: 'referrer' | 'cosign-tag' | 'attestation' | 'cosign-attestation' | 'buildkit-attestation';
}

const SBOM_TYPES = new Set(Object.values(SBOM_MEDIA_TYPES));
/** Layer media types an SBOM document may have: ours (OCI artifacts), cosign's (`spdx+json`, once `text/spdx+json`), in-toto's. */
const LAYER_TYPES = new Set([...SBOM_TYPES, 'spdx+json', 'text/spdx+json', 'application/vnd.in-toto+json']);
/** in-toto predicate types of SBOMs (cosign attest --type spdxjson / cyclonedx, BuildKit), and where they are annotated. */
const SBOM_PREDICATES = new Set(['https://spdx.dev/Document', 'https://cyclonedx.org/bom']);
const PREDICATE_ANNOTATIONS = ['in-toto.io/predicate-type', 'predicateType'];
const isSbomPredicate = (d: Descriptor) => PREDICATE_ANNOTATIONS.some((k) => SBOM_PREDICATES.has(d.annotations?.[k] ?? ''));

interface Candidate {
  carrier: Descriptor;
  describes: Digest;
  via: BaseSbom['via'];
  /** For a referrer: the subject its manifest must name. */
  subject?: Digest;
}

export interface FindBaseSbomOptions {
  /** The output format: an SBOM of the same format is preferred when the base has both. */
  prefer: SbomFormat;
  warn: (message: string) => void;
  signal?: AbortSignal;
  /** The base image as given, for messages. */
  name: string;
  /** The base image's name in the new SBOM; default `name`. */
  imageName?: string;
}

/**
 * The base's SBOM, or undefined (none, or none that reads: each failure is one warning). Errors
 * of the registry while looking are warnings too: the build does not depend on the base's SBOM.
 */
export async function findBaseSbom(source: BaseSbomSource, base: { manifest: Descriptor; layers: number; index?: Descriptor }, options: FindBaseSbomOptions): Promise<BaseSbom | undefined> {
  const image = { name: options.imageName ?? options.name, digest: base.manifest.digest, layers: base.layers };
  const tried = new Set<string>();
  const attempt = async (candidates: () => Promise<Candidate[]>): Promise<BaseSbom | undefined> => {
    let list: Candidate[];
    try {
      list = await candidates();
    } catch (err) {
      if (options.signal?.aborted) throw err;
      options.warn(`base image ${options.name}: could not look for its SBOM in ${source.where}: ${(err as Error).message}`);
      return undefined;
    }
    for (const c of list) {
      if (tried.has(c.carrier.digest)) continue;
      tried.add(c.carrier.digest);
      try {
        const found = await readCandidate(source, c, options.signal);
        if (!found) continue;
        // An SBOM of the whole index may list every platform's packages: those of another architecture are not this base's.
        const platform = base.manifest.platform;
        if (found.describes !== image.digest && platform) found.packages = found.packages.filter((p) => samePlatform(p.purl, platform.architecture));
        return { image, ...found };
      } catch (err) {
        if (options.signal?.aborted) throw err;
        options.warn(`base image ${options.name}: its SBOM ${c.carrier.digest} is not reused: ${(err as Error).message}`);
      }
    }
    return undefined;
  };
  const ofManifest = (subject: Descriptor) => async () => {
    // The three places asked at once (one round trip, not three), taken in this order: the
    // referrers, cosign's `.sbom` tag, then an SBOM attestation (DSSE): a referrer (ocipush
    // attest, cosign in OCI 1.1 mode), else cosign's `.att` tag.
    const [found, tagged, attTag] = await Promise.all([
      fromReferrers(source, subject, options.prefer), fromCosignTag(source, subject.digest, 'sbom'), fromCosignTag(source, subject.digest, 'att'),
    ]);
    const attested = found.filter((c) => c.via === 'attestation');
    return [...found.filter((c) => c.via !== 'attestation'), ...(tagged ? [tagged] : []), ...attested, ...(attTag ? [attTag] : [])];
  };
  return (await attempt(ofManifest(base.manifest)))
    ?? (base.index ? (await attempt(() => fromAttestations(source, base.index!, base.manifest.digest, options.signal))) ?? (await attempt(ofManifest(base.index))) : undefined);
}

async function fromReferrers(source: BaseSbomSource, subject: Descriptor, prefer: SbomFormat): Promise<Candidate[]> {
  const created = (d: Descriptor) => d.annotations?.['org.opencontainers.image.created'];
  const rank = (d: Descriptor) => (d.artifactType === SBOM_MEDIA_TYPES[prefer] ? 0 : 1);
  // Deterministic whatever order the registry lists them in: the preferred format, the newest, then by digest.
  return (await source.referrers(subject))
    .filter((d) => d.artifactType !== undefined && (SBOM_TYPES.has(d.artifactType) || (d.artifactType === DSSE_MEDIA_TYPE && isSbomPredicate(d))))
    .sort((a, b) => rank(a) - rank(b) || compareCreated(created(b), created(a)) || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
    .map((d) => ({ carrier: d, describes: subject.digest, via: d.artifactType === DSSE_MEDIA_TYPE ? 'attestation' as const : 'referrer' as const, subject: subject.digest }));
}

async function fromCosignTag(source: BaseSbomSource, digest: Digest, suffix: 'sbom' | 'att'): Promise<Candidate | undefined> {
  const desc = await source.resolveTag?.(cosignTag(digest, suffix));
  return desc ? { carrier: desc, describes: digest, via: suffix === 'sbom' ? 'cosign-tag' : 'cosign-attestation' } : undefined;
}

/** BuildKit keeps an image's SBOM in its index: an attestation manifest naming the platform manifest's digest. */
async function fromAttestations(source: BaseSbomSource, index: Descriptor, platformDigest: Digest, signal?: AbortSignal): Promise<Candidate[]> {
  const parsed = parseManifest(await readVerified(source, index, MAX_MANIFEST_BYTES, signal), `${source.where}@${index.digest}`, index.mediaType);
  if (!isIndex(parsed)) return [];
  return parsed.manifests
    .filter((d) => d.annotations?.[Annotation.ReferenceType] === 'attestation-manifest' && d.annotations[Annotation.ReferenceDigest] === platformDigest)
    .map((d) => ({ carrier: d, describes: platformDigest, via: 'buildkit-attestation' as const }));
}

/** A manifest or document read whole, up to `limit` bytes; the storage's fetch verifies digest and size (ReadOnlyStorage). */
async function readVerified(source: BaseSbomSource, desc: Descriptor, limit: number, signal?: AbortSignal): Promise<Buffer> {
  if (desc.size > limit) throw new OcipushError('EINVALID', `${desc.digest} has ${desc.size} bytes, more than the ${limit} read for it`);
  return readSmall(await source.storage.fetch(desc, { signal }), limit, `${source.where}@${desc.digest}`);
}

/** The SBOM a candidate carries; undefined for cosign's `.att` image when none of its attestations is an SBOM (provenance only, say). */
async function readCandidate(source: BaseSbomSource, c: Candidate, signal?: AbortSignal): Promise<Omit<BaseSbom, 'image'> | undefined> {
  const manifest = parseManifest(await readVerified(source, c.carrier, MAX_MANIFEST_BYTES, signal), `${source.where}@${c.carrier.digest}`, c.carrier.mediaType);
  if (isIndex(manifest)) throw new OcipushError('EINVALID', 'an index, not an artifact manifest');
  if (c.subject && (manifest as ImageManifest).subject?.digest !== c.subject) throw new OcipushError('EINVALID', `its subject is not ${c.subject}`);
  const layer = sbomLayer(manifest, c.via);
  if (!layer && c.via === 'cosign-attestation') return undefined;
  if (!layer) throw new OcipushError('EINVALID', 'no SPDX or CycloneDX JSON layer');
  const bytes = await readVerified(source, layer, MAX_BASE_SBOM_BYTES, signal);
  const parsed = parseBaseSbom(bytes, `layer ${layer.digest}`, c.describes);
  return { ...parsed, describes: c.describes, carrier: c.carrier.digest, blob: layer.digest, via: c.via };
}

function sbomLayer(manifest: ImageManifest, via: Candidate['via']): Descriptor | undefined {
  // An attestation image may hold several statements (cosign appends to `.att`): the newest SBOM one.
  if (via === 'buildkit-attestation' || via === 'attestation' || via === 'cosign-attestation') return manifest.layers.filter(isSbomPredicate).at(-1);
  // oras attach (and ocipush attach) give a file the generic layer type unless told otherwise: an SBOM artifact's only layer is its document.
  return manifest.layers.find((l) => LAYER_TYPES.has(l.mediaType)) ?? (manifest.layers.length === 1 ? manifest.layers[0] : undefined);
}

/** purl `arch` qualifiers (dpkg, apk, rpm names) → OCI architectures. */
const PURL_ARCH: Record<string, string> = {
  amd64: 'amd64', x86_64: 'amd64', 'x86-64': 'amd64', arm64: 'arm64', aarch64: 'arm64',
  armhf: 'arm', armel: 'arm', armv7: 'arm', armv7l: 'arm', armv7hl: 'arm', armv6: 'arm', armhfp: 'arm', arm: 'arm',
  i386: '386', i686: '386', i586: '386', x86: '386', 386: '386', ppc64el: 'ppc64le', ppc64le: 'ppc64le', s390x: 's390x',
  riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64', loongarch64: 'loong64',
};

/** False only for a purl whose `arch` names another architecture (`all`, `noarch`, none or unknown: true). */
function samePlatform(purl: string | undefined, architecture: string): boolean {
  const arch = purl ? /[?&]arch=([^&#]+)/.exec(purl)?.[1] : undefined;
  const key = arch?.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).toLowerCase();
  const oci = key !== undefined && Object.hasOwn(PURL_ARCH, key) ? PURL_ARCH[key] : undefined;
  return oci === undefined || oci === architecture;
}
