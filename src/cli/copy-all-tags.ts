import { usageError } from './command.js';
import { nameTag, type Endpoint } from './endpoints.js';
import { copyImage, type CopiedImage, type CopyContext } from './copy.js';

/** A tag of the referrers tag schema or of cosign (`sha256-<hex>`, `….sig`, `….att`, `….sbom`): not an image of its own. */
const REFERRER_TAG = /^sha256-([0-9a-f]{64})(?:\.[a-z0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** What `copy --all-tags` reports with --json. */
export interface AllTagsReport {
  source: string;
  destination: string;
  images: (CopiedImage['report'] & { tag: string })[];
  /** Referrer tags left where they were, and why. */
  skipped: { tag: string; reason: string }[];
}

/**
 * `copy --all-tags`: every tag of a registry repository (or every name in a layout's index.json)
 * copied to the same tag at the destination, as `skopeo sync` and `crane copy --all-tags` do: one
 * image after the other (each with its blobs in parallel), in the order the source lists them,
 * blobs the destination already has found there and skipped. The first image that fails stops
 * the copy with its error; the images copied before it stay.
 *
 * Referrer tags (`sha256-<hex>.sig` …) are not copied as images: with --referrers each image
 * brings its own signatures, attestations and SBOMs (and keeps the destination's referrers tag
 * index whole instead of overwriting it); those whose image no tag names are left out and listed.
 */
export async function copyAllTags(source: Endpoint, destination: Endpoint, context: CopyContext): Promise<AllTagsReport> {
  checkRepositoryEnds(source, destination);
  const { out } = context;
  const listed = await listSourceTags(source, context);
  const images = listed.filter((t) => !REFERRER_TAG.test(t.tag));
  const destinationTags = new Map<string, string>();
  for (const { tag, name } of images) {
    if (destination.transport === 'registry' && !TAG.test(tag)) throw usageError(`${source.text}: ${name} is not a valid tag for ${destination.text}`);
    const other = destinationTags.get(tag);
    if (other !== undefined) throw usageError(`${source.text}: ${other} and ${name} would both be copied to the tag ${tag}`);
    destinationTags.set(tag, name);
  }
  if (images.length === 0) out.info(`${source.text} has no tags to copy`);

  const report: AllTagsReport = { source: source.text, destination: destination.text, images: [], skipped: [] };
  const copiedManifests = new Set<string>();
  for (const { tag, name } of images) {
    const copied = await copyImage(withName(source, name), destination, context);
    out.info(copied.line);
    report.images.push({ ...copied.report, tag });
    copiedManifests.add(copied.digest);
  }
  for (const { tag } of listed.filter((t) => REFERRER_TAG.test(t.tag))) {
    const subject = `sha256:${REFERRER_TAG.exec(tag)![1]}`;
    if (context.referrers && copiedManifests.has(subject)) continue;
    report.skipped.push({ tag, reason: context.referrers ? `no tag names its image ${subject}` : '--no-referrers' });
  }
  if (report.skipped.length > 0) {
    out.info(`left out ${report.skipped.length} referrer tag${report.skipped.length === 1 ? '' : 's'} (${report.skipped.map((s) => `${s.tag}: ${s.reason}`).join('; ')})`);
  }
  out.info(`copied ${report.images.length} tag${report.images.length === 1 ? '' : 's'} of ${source.text} to ${destination.text}`);
  out.result(report.images.map((i) => `${i.tag} ${i.digest}`).join('\n'), report);
  return report;
}

function checkRepositoryEnds(source: Endpoint, destination: Endpoint): void {
  for (const [end, what] of [[source, 'source'], [destination, 'destination']] as const) {
    if (end.transport === 'registry' ? end.reference.tag !== undefined || end.reference.digest !== undefined : end.transport === 'oci' && end.name !== undefined) {
      throw usageError(`${end.text}: with --all-tags, the ${what} names a repository or oci:DIR, without a tag`);
    }
    if (end.transport !== 'registry' && end.transport !== 'oci') throw usageError(`${end.text}: --all-tags copies between registries and OCI layouts, not archives`);
  }
}

/** The source's tags (a layout's names, with the tag each gives), as it lists them. */
async function listSourceTags(source: Endpoint, context: CopyContext): Promise<{ tag: string; name: string }[]> {
  if (source.transport === 'registry') {
    const { listTags } = await import('../registry/tags.js');
    const client = await context.clients.connect('src', source.reference.registry);
    return (await listTags(client, source.reference.repository)).map((tag) => ({ tag, name: tag }));
  }
  if (source.transport !== 'oci') throw new Error('unreachable');
  const { OciLayout } = await import('../content/layout.js');
  const { Annotation } = await import('../oci/descriptor.js');
  const layout = await OciLayout.open(source.path);
  try {
    const names = (await layout.readIndex()).manifests.flatMap((m) => {
      const name = m.annotations?.[Annotation.RefName];
      return name ? [name] : [];
    });
    // A layout may name an image `registry/repo:tag`: its tag is what a copy of that name gets.
    return [...new Set(names)].map((name) => {
      const tag = nameTag(name);
      if (tag === undefined) throw usageError(`${source.text}: the name ${name} holds no tag to copy it to`);
      return { tag, name };
    });
  } finally {
    await layout.close();
  }
}

function withName(source: Endpoint, name: string): Endpoint {
  if (source.transport === 'registry') return { ...source, reference: { ...source.reference, tag: name }, text: `${source.text}:${name}` };
  return { ...source, name, text: `${source.text}:${name}` } as Endpoint;
}
