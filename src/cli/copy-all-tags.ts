import { usageError } from './command.js';
import type { Endpoint, OpenedSource } from './endpoints.js';
import { nameTag } from '../transports/parse.js';
import { isReferencePusher, isTagResolver } from '../content/storage.js';
import { formatPlatform } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { copyImage, type CopiedImage, type CopyContext } from './copy.js';
import type { MadeSignature, Signing } from './key-options.js';

/** A tag of the referrers tag schema or of cosign (`sha256-<hex>`, `….sig`, `….att`, `….sbom`): not an image of its own. */
const REFERRER_TAG = /^sha256-([0-9a-f]{64})(?:\.[a-z0-9]+)?$/;

/** What `copy --all-tags` reports with --json. */
export interface AllTagsReport {
  source: string;
  destination: string;
  images: (CopiedImage['report'] & { tag: string; signatures?: MadeSignature[]; missingPlatforms?: string[] })[];
  /** Tags left where they were, and why: referrer tags, and with --platform images for none of its platforms. */
  skipped: { tag: string; reason: string }[];
}

/**
 * `copy --all-tags`: every tag of a registry repository (or every name in a layout's index.json)
 * copied to the same tag at the destination, as `skopeo sync` and `crane copy --all-tags` do:
 * `jobs` images at once (as crane's --jobs), each with its blobs in parallel, started in the order
 * the source lists them; blobs the destination already has are found there and skipped, and a
 * blob one running copy is sending the others wait for instead of sending it again. The first
 * image that fails stops the copy with its error: no further image is started, those under way
 * finish, and the images copied stay.
 *
 * Referrer tags (`sha256-<hex>.sig` …) are not copied as images: with --referrers each image
 * brings its own signatures, attestations and SBOMs (and keeps the destination's referrers tag
 * index whole instead of overwriting it); those whose image no tag names are left out and listed.
 *
 * With a `tagPattern` (--tag-regex), only the tags it matches, as skopeo sync's tags-regex.
 *
 * With --platform, a mirror of the platforms one runs: each tag is copied with those of the
 * platforms it has (the others named), and a tag with none of them is left out and listed, with
 * what it has; a mirror does not stop at an old tag built for one platform only.
 */
export async function copyAllTags(
  source: Endpoint, destination: Endpoint, context: CopyContext, options: { jobs: number; signing?: Signing; tagPattern?: RegExp },
): Promise<AllTagsReport> {
  checkRepositoryEnds(source, destination);
  const { out } = context;
  const { signing } = options;
  const listed = await listSourceTags(source, destination, context);
  const { tagPattern } = options;
  const everyImage = listed.filter((t) => !REFERRER_TAG.test(t.tag));
  const images = tagPattern ? everyImage.filter((t) => tagPattern.test(t.tag)) : everyImage;
  if (tagPattern && images.length < everyImage.length) {
    out.info(`${everyImage.length - images.length} of the ${everyImage.length} tags of ${source.text} do not match --tag-regex ${tagPattern.source}`);
  }
  const { isValidTag } = await import('../oci/reference.js');
  const destinationTags = new Map<string, string>();
  for (const { tag, name } of images) {
    if (destination.transport === 'registry' && !isValidTag(tag)) throw usageError(`${source.text}: ${name} is not a valid tag for ${destination.text}`);
    const other = destinationTags.get(tag);
    if (other !== undefined) throw usageError(`${source.text}: ${other} and ${name} would both be copied to the tag ${tag}`);
    destinationTags.set(tag, name);
  }
  if (images.length === 0) out.info(`${source.text} has no tags to copy${tagPattern ? ` that match --tag-regex ${tagPattern.source}` : ''}`);

  const report: AllTagsReport = { source: source.text, destination: destination.text, images: [], skipped: [] };
  /** Each tag's entry, in the order the source lists them, whichever copy finishes first. */
  const entries: (AllTagsReport['images'][number] | AllTagsReport['skipped'][number] | undefined)[] = [];
  const copiedManifests = new Set<string>();
  /** The destination name each source manifest is first copied to: a later tag of it is only named, once that copy is done. */
  const firstCopies = new Map<string, Promise<string>>();
  const { openSource } = await import('./endpoints.js');
  const wanted = context.platforms ?? (context.platform ? [context.platform] : undefined);
  /** Images left out for --platform: their referrer tags are left with them. */
  const leftOut = new Set<string>();
  // The copies running at once share what they send: a base layer of several tags goes up once.
  const shared: CopyContext = { ...context, inFlight: new Map() };
  const { eachAtMost } = await import('../each-at-most.js');
  /**
   * Settled once each tag knows whether it copies its image or only names an earlier tag's copy:
   * decided in the source's order, whatever order the manifests arrive in, so the first tag of an
   * image is the one copied.
   */
  const decided: Promise<void>[] = [];
  await eachAtMost(images, options.jobs, async (image, index) => {
    let decide!: () => void;
    decided[index] = new Promise((resolve) => { decide = resolve; });
    try {
      await copyTag(image, index, decide);
    } finally {
      decide();
    }
  });
  async function copyTag({ tag, name }: { tag: string; name: string }, index: number, decide: () => void): Promise<void> {
    const one = withName(source, name);
    // Into a layout, each image under its name there (a layout's name whole, a registry's tag).
    const to = destination.transport === 'oci' ? withName(destination, tag) : destination;
    const src = await openSource(one, { connect: (r) => context.clients.connect('src', r) });
    let imageContext = shared;
    let missing: string[] | undefined;
    if (wanted) {
      // A mirror of the platforms one runs: a tag with none of them is not an error, only not copied.
      const { platformsOffered } = await import('../assemble/filter-index.js');
      const { offered, available } = await platformsOffered(src.storage, src.root, src.rootBytes, wanted, src.name);
      // What --platform leaves of this tag: the root, or the index's entries the copy does not keep.
      leftOut.add(src.root.digest);
      for (const d of indexEntries(src.rootBytes, src.name, src.root.mediaType)) leftOut.add(d);
      if (offered.length === 0) {
        await src.close();
        entries[index] = { tag, reason: `no image for ${wanted.map(formatPlatform).join(', ')} (it has: ${available})` };
        return;
      }
      if (context.platforms && offered.length < wanted.length) {
        missing = wanted.filter((w) => !offered.includes(w)).map(formatPlatform);
        imageContext = { ...shared, platforms: offered };
        out.info(`${src.name} has no image for ${missing.join(', ')} (it has: ${available}): copying ${offered.map(formatPlatform).join(', ')}`);
      }
    }
    if (!wanted && index > 0) await decided[index - 1];
    const earlier = wanted ? undefined : firstCopies.get(src.root.digest);
    let copied: CopiedImage;
    if (earlier) {
      decide();
      copied = await tagAlias(src, to, await earlier, context);
    } else {
      const copying = copyImage(one, to, imageContext, src);
      if (!wanted) {
        const named = copying.then((c) => c.report.destination);
        // Its failure is this job's to report; a tag waiting on it fails with it.
        named.catch(() => {});
        firstCopies.set(src.root.digest, named);
      }
      decide();
      copied = await copying;
    }
    out.info(copied.line);
    // --sign: each image once, by digest; a tag of an image already copied (and signed) is only named.
    const signatures = signing && !earlier ? await signTagged(destination, tag, copied.digest, signing, context) : undefined;
    entries[index] = { ...copied.report, tag, ...(signatures ? { signatures } : {}), ...(missing ? { missingPlatforms: missing } : {}) };
    // An index's manifests too: their signatures (cosign sign --recursive) came along with them.
    for (const d of copied.manifests) copiedManifests.add(d);
  }
  for (const entry of entries) {
    if (entry && 'reason' in entry) report.skipped.push(entry);
    else if (entry) report.images.push(entry);
  }
  for (const { tag } of listed.filter((t) => REFERRER_TAG.test(t.tag))) {
    const subject = `sha256:${REFERRER_TAG.exec(tag)![1]}`;
    if (context.referrers && copiedManifests.has(subject)) continue;
    const reason = !context.referrers ? '--no-referrers' : leftOut.has(subject) ? `its image ${subject} is left out (--platform)` : `no tag ${tagPattern ? 'copied ' : ''}names its image ${subject}`;
    report.skipped.push({ tag, reason });
  }
  if (report.skipped.length > 0) {
    const referrerTags = report.skipped.filter((s) => REFERRER_TAG.test(s.tag)).length;
    const what = referrerTags === report.skipped.length ? 'referrer tag' : 'tag';
    out.info(`left out ${report.skipped.length} ${what}${report.skipped.length === 1 ? '' : 's'} (${report.skipped.map((s) => `${s.tag}: ${s.reason}`).join('; ')})`);
  }
  out.info(`copied ${report.images.length} tag${report.images.length === 1 ? '' : 's'} of ${source.text} to ${destination.text}`);
  out.result(report.images.map((i) => `${i.tag} ${i.digest}`).join('\n'), report);
  return report;
}

/**
 * A tag whose image this mirror has already copied (an alias: `1`, `1.2`, `latest` of one
 * digest): its blobs, children and referrers are there, so the manifest is only stored under the
 * new name, one request to a registry, instead of a whole copy asking for everything again.
 */
async function tagAlias(src: OpenedSource, destination: Endpoint, first: string, context: CopyContext): Promise<CopiedImage> {
  const { openDestination } = await import('./endpoints.js');
  const dst = await openDestination(destination, src, { connect: (r) => context.clients.connect('dest', r) });
  const root = src.root;
  if (isReferencePusher(dst.storage)) await dst.storage.pushManifest(root, src.rootBytes, dst.reference);
  else if (isTagResolver(dst.storage)) await dst.storage.tag(root, dst.reference!);
  else throw new Error(`${dst.name}: cannot name an image there`);
  await dst.finish(root);
  await src.close();
  return {
    digest: root.digest,
    line: `tagged ${dst.name}: the same image as ${first} (${root.digest}), nothing to copy`,
    report: { source: src.name, destination: dst.name, digest: root.digest, size: root.size, mediaType: root.mediaType, blobs: [], referrers: [] },
    manifests: [root.digest],
  };
}

/** Signs the image just copied to `tag` of the destination repository or layout, and says so. */
async function signTagged(destination: Endpoint, tag: string, digest: CopiedImage['digest'], signing: Signing, context: CopyContext): Promise<MadeSignature[]> {
  const { reportDestinationSignatures, signDestination } = await import('./key-options.js');
  const tagged: Endpoint = destination.transport === 'registry'
    ? { ...destination, reference: { ...destination.reference, tag } }
    : { ...destination, text: `${destination.text}:${tag}` };
  const signatures = await signDestination(context.clients, tagged, digest, signing);
  reportDestinationSignatures(context.out, tagged, signing, signatures);
  return signatures;
}

function checkRepositoryEnds(source: Endpoint, destination: Endpoint): void {
  for (const [end, what] of [[source, 'source'], [destination, 'destination']] as const) {
    if (end.transport === 'registry' ? end.reference.tag !== undefined || end.reference.digest !== undefined : end.transport === 'oci' && end.name !== undefined) {
      throw usageError(`${end.text}: with --all-tags, the ${what} names a repository or oci:DIR, without a tag`);
    }
    if (end.transport !== 'registry' && end.transport !== 'oci') throw usageError(`${end.text}: --all-tags copies between registries and OCI layouts, not archives`);
  }
}

/**
 * The source's tags (a layout's names, with the tag each gives), as it lists them. From a layout
 * into a layout, a name is its own tag: `localhost/app:1` (podman save's, skopeo's) stays whole.
 */
async function listSourceTags(source: Endpoint, destination: Endpoint, context: CopyContext): Promise<{ tag: string; name: string }[]> {
  if (source.transport === 'registry') {
    const { listTags } = await import('../registry/tags.js');
    const client = await context.clients.connect('src', source.reference.registry);
    return (await listTags(client, source.reference.repository)).map((tag) => ({ tag, name: tag }));
  }
  if (source.transport !== 'oci') throw new Error('unreachable');
  const { OciLayout } = await import('../content/layout.js');
  const layout = await OciLayout.open(source.path);
  try {
    // A layout may name an image `registry/repo:tag`: its tag is what a copy of that name gets.
    return (await layout.names()).filter((name) => name !== '').map((name) => {
      const tag = destination.transport === 'oci' ? name : nameTag(name);
      if (tag === undefined) throw usageError(`${source.text}: the name ${name} holds no tag to copy it to`);
      return { tag, name };
    });
  } finally {
    await layout.close();
  }
}

function indexEntries(bytes: Buffer, name: string, mediaType: string): string[] {
  const parsed = parseManifest(bytes, name, mediaType);
  return isIndex(parsed) ? parsed.manifests.map((d) => d.digest) : [];
}

function withName(source: Endpoint, name: string): Endpoint {
  if (source.transport === 'registry') return { ...source, reference: { ...source.reference, tag: name }, text: `${source.text}:${name}` };
  return { ...source, name, text: `${source.text}:${name}` } as Endpoint;
}
