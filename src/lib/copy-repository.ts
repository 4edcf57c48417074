import type { CopyEvent } from '../transfer/copy-graph.js';
import { copySharing, type CopyResult } from './copy.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { platformsOf, sourceConnector, type RegistryOptions, type SourceRegistryOptions } from './options.js';

export interface CopyRepositoryOptions extends RegistryOptions {
  /** Every tag of this: `REGISTRY/REPO` (or `docker://…`), or every name of a layout, `oci:DIR`; no tag. */
  from: string;
  /** To the same tags here: `REGISTRY/REPO` (or `docker://…`), no tag. */
  to: string;
  /** Images copied at once, each with `concurrency` blobs at once (default 4, 1 to 32), as the CLI's `--jobs`. */
  jobs?: number;
  /** Only the tags this matches somewhere (anchor it: `^v1\.`), as the CLI's `--tag-regex` and skopeo sync's tags-regex. */
  tagPattern?: RegExp | string;
  /**
   * A mirror of these platforms (`os/arch[/variant]`, comma-separated): each tag copied with those of
   * them it has, and a tag with none of them left out (in `skipped`), as the CLI's `copy --all-tags --platform`.
   */
  platform?: string;
  unlistedPlatform?: boolean;
  /** Each image's signatures, attestations and SBOMs come along (default true); referrer tags are never copied as images. */
  referrers?: boolean;
  /** The source registry's own `credentials`, `plainHttp`, `insecure`, `caFile`, `certDir` (the CLI's `--src-…`), each instead of the call's. */
  source?: SourceRegistryOptions;
  onEvent?: (event: CopyEvent) => void;
}

export interface CopyRepositoryResult {
  /** Each tag copied, in the order the source lists them. */
  images: (CopyResult & { tag: string; missingPlatforms?: string[] })[];
  /** Tags left where they were, and why: referrer tags (`sha256-<hex>.sig` …), and with `platform` images for none of its platforms. */
  skipped: { tag: string; reason: string }[];
}

/** A tag of the referrers tag schema or of cosign (`sha256-<hex>`, `….sig`, `….att`, `….sbom`): not an image of its own. */
type Connect = ReturnType<typeof sourceConnector>;

const REFERRER_TAG = /^sha256-([0-9a-f]{64})(?:\.[a-z0-9]+)?$/;
const DEFAULT_JOBS = 4;

const COPY_REPOSITORY: LibraryCall<CopyRepositoryOptions> = {
  name: 'copyRepository',
  required: { from: 'the repository to copy (REGISTRY/REPO or oci:DIR, no tag)', to: 'the registry repository to copy to (REGISTRY/REPO, no tag)' },
  strings: ['platform'],
  booleans: ['referrers'],
  what: (o) => `copyRepository ${o.from} to ${o.to}`,
};

/**
 * `ocipush copy --all-tags` into a registry, as crane's `CopyRepository`: every tag of a
 * repository (or every name of a layout) copied to the same tag, `jobs` images at once, each
 * through `copy()` (blobs streamed, those already there skipped, a blob another job is sending
 * waited for, referrers along). The first image
 * that fails stops it: no further one starts, those under way finish, and the copied ones stay.
 */
export function copyRepository(options: CopyRepositoryOptions): Promise<CopyRepositoryResult> {
  return libraryCall(COPY_REPOSITORY, options, async (options) => {
    const { OcipushError } = await import('../errors.js');
    const { parseTransport } = await import('../transports/parse.js');
    const jobs = options.jobs ?? DEFAULT_JOBS;
    if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 32) throw new OcipushError('EUSAGE', `copyRepository: \`jobs\` ${String(options.jobs)}: expected a whole number from 1 to 32`);
    const pattern = patternOf(options.tagPattern, OcipushError);
    const source = parseTransport(options.from);
    const destination = parseTransport(options.to);
    if (destination.transport !== 'registry' || destination.reference.tag !== undefined || destination.reference.digest !== undefined) {
      throw new OcipushError('EUSAGE', `to ${options.to}: expected a registry repository without a tag (REGISTRY/REPO)`);
    }
    const untagged = source.transport === 'registry' ? source.reference.tag === undefined && source.reference.digest === undefined : source.transport === 'oci' && source.name === undefined;
    if (!untagged) throw new OcipushError('EUSAGE', `from ${options.from}: expected a registry repository or oci:DIR, without a tag`);
    const wanted = await platformsOf(options);
    const target = destination.reference;
    const from = options.from.replace(/\/+$/, '');
    const to = options.to.replace(/\/+$/, '');

    const connectSource = sourceConnector(options, target.registry);
    const listed = await listNames(source, connectSource);
    const everyImage = listed.filter((t) => !REFERRER_TAG.test(t.tag));
    const images = pattern ? everyImage.filter((t) => pattern.test(t.tag)) : everyImage;
    const { isValidTag } = await import('../oci/reference.js');
    const seen = new Map<string, string>();
    for (const { tag, name } of images) {
      if (!isValidTag(tag)) throw new OcipushError('EUSAGE', `from ${options.from}: ${name} is not a valid tag for ${options.to}`);
      const other = seen.get(tag);
      if (other !== undefined) throw new OcipushError('EUSAGE', `from ${options.from}: ${other} and ${name} would both be copied to the tag ${tag}`);
      seen.set(tag, name);
    }

    const entries: (CopyRepositoryResult['images'][number] | CopyRepositoryResult['skipped'][number] | undefined)[] = [];
    /** Every manifest copied (an index's children too): a referrer tag of one of them came along. */
    const copiedManifests = new Set<string>();
    /** Images left out for `platform`: their referrer tags are left with them. */
    const leftOut = new Set<string>();
    // The copies running at once share what they send: a base layer of several tags goes up once.
    const inFlight = new Map<string, Promise<void>>();
    const { eachAtMost } = await import('../each-at-most.js');
    await eachAtMost(images, jobs, async ({ tag, name }, index) => {
      const one = `${from}:${name}`;
      let platform = options.platform;
      let missingPlatforms: string[] | undefined;
      if (wanted.length > 0) {
        const offer = await offeredPlatforms(one, wanted, connectSource, options.signal);
        for (const d of offer.leftOut) leftOut.add(d);
        if (offer.offered.length === 0) {
          entries[index] = { tag, reason: `no image for ${offer.wanted} (it has: ${offer.available})` };
          return;
        }
        if (offer.offered.length < wanted.length) {
          missingPlatforms = offer.missing;
          platform = offer.offered.join(',');
        }
      }
      const { tagPattern: _pattern, jobs: _jobs, ...copyOptions } = options;
      const copied = await copySharing({ ...copyOptions, from: one, to: `${to}:${tag}`, ...(platform !== undefined ? { platform } : {}) }, inFlight);
      copiedManifests.add(copied.digest);
      for (const b of copied.blobs) if (b.kind === 'manifest' || b.kind === 'index') copiedManifests.add(b.descriptor.digest);
      entries[index] = { ...copied, tag, ...(missingPlatforms ? { missingPlatforms } : {}) };
    });

    const result: CopyRepositoryResult = { images: [], skipped: [] };
    for (const entry of entries) {
      if (entry && 'reason' in entry) result.skipped.push(entry);
      else if (entry) result.images.push(entry);
    }
    for (const { tag } of listed.filter((t) => REFERRER_TAG.test(t.tag))) {
      const subject = `sha256:${REFERRER_TAG.exec(tag)![1]}`;
      if (options.referrers !== false && copiedManifests.has(subject)) continue;
      const reason = options.referrers === false ? 'referrers: false'
        : leftOut.has(subject) ? `its image ${subject} is left out (platform)`
          : `no tag ${pattern ? 'copied ' : ''}names its image ${subject}`;
      result.skipped.push({ tag, reason });
    }
    return result;
  });
}

function patternOf(pattern: RegExp | string | undefined, Err: typeof import('../errors.js').OcipushError): RegExp | undefined {
  if (pattern === undefined || pattern instanceof RegExp) return pattern;
  if (typeof pattern !== 'string') throw new Err('EUSAGE', 'copyRepository: `tagPattern`: expected a RegExp or a string');
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new Err('EUSAGE', `copyRepository: \`tagPattern\` ${pattern}: ${(err as Error).message}`);
  }
}

/** The source's tags, and the name each is under: a registry's tags, or a layout's names with the tag each gives (`localhost/app:1` → `1`). */
async function listNames(source: import('../transports/parse.js').ImageLocation, connect: Connect): Promise<{ tag: string; name: string }[]> {
  if (source.transport === 'registry') {
    const { listTags } = await import('../registry/tags.js');
    const client = await connect(source.reference.registry);
    try {
      return (await listTags(client, source.reference.repository)).map((tag) => ({ tag, name: tag }));
    } finally {
      await client.close();
    }
  }
  const [{ OciLayout }, { nameTag }, { OcipushError }] = await Promise.all([import('../content/layout.js'), import('../transports/parse.js'), import('../errors.js')]);
  const layout = await OciLayout.open((source as { path: string }).path);
  try {
    return (await layout.names()).filter((name) => name !== '').map((name) => {
      const tag = nameTag(name);
      if (tag === undefined) throw new OcipushError('EUSAGE', `from: the name ${name} holds no tag to copy it to`);
      return { tag, name };
    });
  } finally {
    await layout.close();
  }
}

/** Which of the wanted platforms the image `text` has, and what a mirror of them leaves out of it. */
async function offeredPlatforms(text: string, wanted: import('../oci/descriptor.js').Platform[], connect: Connect, signal: AbortSignal | undefined) {
  const [{ openImage }, { platformsOffered }, { MAX_MANIFEST_BYTES, readSmall }, { formatPlatform }, { isIndex, parseManifest }] = await Promise.all([
    import('../transports/open.js'), import('../assemble/filter-index.js'), import('../content/verify.js'), import('../oci/descriptor.js'), import('../oci/manifest.js'),
  ]);
  const source = await openImage(text, { connect, ...(signal ? { signal } : {}) });
  try {
    const bytes = await readSmall(await source.storage.fetch(source.root), MAX_MANIFEST_BYTES, `${source.name}: manifest ${source.root.digest}`);
    const { offered, available } = await platformsOffered(source.storage, source.root, bytes, wanted, source.name);
    const parsed = parseManifest(bytes, source.name, source.root.mediaType);
    const leftOut = [source.root.digest, ...(isIndex(parsed) ? parsed.manifests.map((d) => d.digest) : [])];
    return {
      offered: offered.map(formatPlatform),
      missing: wanted.filter((w) => !offered.includes(w)).map(formatPlatform),
      wanted: wanted.map(formatPlatform).join(', '),
      available,
      leftOut,
    };
  } finally {
    await source.close();
  }
}
