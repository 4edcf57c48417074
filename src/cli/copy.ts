import type { Argv } from 'yargs';
import { IMAGE_FORMS, signFlags, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { checkConcurrency, registryFlags, sideRegistryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatformList, isAllPlatforms, unlistedPlatformOption } from './platform-option.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { isTagResolver } from '../content/storage.js';
import type { Endpoint, OpenedDestination, OpenedSource } from './endpoints.js';
import type { SideClients } from './side-clients.js';
import type { RegistryClient } from '../registry/http.js';
import type { TransferProgress } from './progress.js';

/**
 * Images `copy --all-tags` copies at once: each waits on its own round trips (manifest, HEADs,
 * PUT), which across a network are most of a small image's time; more would mostly hold
 * connections (each image has --concurrency blob transfers of its own).
 */
const DEFAULT_JOBS = 4;

interface CopyArgs extends RegistryFlags {
  source: string;
  destination: string;
  platform?: string;
  unlistedPlatform?: boolean;
  allPlatforms?: boolean;
  allTags?: boolean;
  jobs?: number;
  tagRegex?: string;
  digestFile?: string;
  referrers?: boolean;
  sign?: boolean;
  key?: string;
  signContainerIdentity?: string;
}

export const copyCommand: CliCommand<CopyArgs> = {
  command: ['copy <source> <destination>', 'cp'],
  describe: 'Copy an image between registries, OCI layouts and archives, streaming and verifying every blob',
  builder: (y: Argv) => sideRegistryFlags(sideRegistryFlags(registryFlags(signFlags(unlistedPlatformOption(y))
    .positional('source', { type: 'string', describe: IMAGE_FORMS })
    .positional('destination', { type: 'string', describe: 'Same forms as the source' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, copy only this os/arch[/variant] (the result is its manifest); several, comma-separated: an index of only those' })
    .option('all-platforms', { type: 'boolean', describe: 'Copy every platform of an index (the default)' })
    .option('all-tags', { type: 'boolean', describe: 'Copy every tag of a repository (or every name of a layout) to the same tags: SOURCE and DESTINATION name a repository or oci:DIR, no tag' })
    .option('jobs', { alias: 'j', type: 'number', describe: 'With --all-tags: images copied at once (default 4; 1 copies one tag after the other), as crane copy --jobs' })
    .option('tag-regex', { type: 'string', describe: 'With --all-tags: only the tags this regular expression matches somewhere (anchor it: ^v1\\.), as skopeo sync\'s tags-regex' })
    .option('referrers', { type: 'boolean', default: true, describe: 'Also copy signatures, attestations and SBOMs (cosign tags, OCI referrers); --no-referrers to leave them' })
    .option('digest-file', { type: 'string', describe: 'Write the copied manifest digest to this file' })
    .conflicts('platform', 'all-platforms')
    .conflicts('all-tags', 'digest-file')
    .example('$0 copy staging.example.com/app:1.4 prod.example.com/app:1.4', 'promote between registries')
    .example('$0 copy --all-tags registry.example.com/app mirror.example.com/app', 'mirror a repository, tag by tag')
    .example('$0 copy docker-archive:app.tar localhost:5000/app:1', 'push a docker save tarball')), 'src'), 'dest'),
  run: async (argv, out: Output) => {
    const { parseEndpoint } = await import('./endpoints.js');
    const source = await parseEndpoint(argv.source);
    const destination = await parseEndpoint(argv.destination, { as: 'destination' });
    // An archive to /dev/stdout (| podman load, > app.tar): its bytes are all stdout may carry, the
    // digest goes to stderr, as export's lines do.
    const onStdout = (destination.transport === 'docker-archive' || destination.transport === 'oci-archive') && await (await import('../archive/sink.js')).isStdout(destination.path);
    if (onStdout && process.stdout.isTTY) throw usageError(`${destination.text}: refusing to write an archive to a terminal: name a file, or pipe the output`);
    if (onStdout && out.json) throw usageError(`--json needs a file: ${destination.text} is stdout, which carries the archive`);
    // Checked before anything is copied, as push checks it: a registry is not left changed by a command that then fails.
    if (argv.digestFile !== undefined) await (await import('./output-file.js')).checkWritableFile(argv.digestFile, 'digest-file');
    const platforms = argv.platform === undefined ? [] : checkPlatformList(argv.platform, argv.unlistedPlatform);
    if (platforms.length > 1 && destination.transport === 'docker-archive') throw usageError(`${destination.text}: a docker archive holds one image; give one --platform`);
    const images = {
      referrers: argv.referrers !== false, ...(argv.allPlatforms || isAllPlatforms(argv.platform) ? { allPlatforms: true } : {}),
      ...(platforms.length === 1 ? { platform: platforms[0]! } : platforms.length > 1 ? { platforms } : {}),
    };
    if (argv.jobs !== undefined && !argv.allTags) throw usageError('--jobs goes with --all-tags (one image is copied with --concurrency blobs at once)');
    if (argv.tagRegex !== undefined && !argv.allTags) throw usageError('--tag-regex goes with --all-tags');
    const tagPattern = argv.tagRegex === undefined ? undefined : tagRegex(argv.tagRegex);
    const jobs = argv.jobs === undefined ? DEFAULT_JOBS : argv.jobs;
    if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 32) throw usageError(`--jobs ${String(argv.jobs)}: expected a whole number from 1 to 32`);
    const { signingFromFlags } = await import('./key-options.js');
    const signing = await signingFromFlags(argv, destination);
    // COSIGN_REPOSITORY, read before anything is written. Out of a layout the copy is a push (cosign
    // load): its signatures go there. Between registries, as cosign copy: the source's are read there.
    const signaturesIn = (source.transport === 'oci' || source.transport === 'registry') && destination.transport === 'registry' && images.referrers
      ? signing?.storedIn ?? await (await import('./cosign-repository.js')).cosignRepository() : undefined;
    await withCopyContext(argv, out, source, destination, { ...images, ...(signaturesIn ? { signaturesIn } : {}) }, async (context) => {
      if (argv.allTags) {
        const { copyAllTags } = await import('./copy-all-tags.js');
        await copyAllTags(source, destination, context, { jobs, ...(signing ? { signing } : {}), ...(tagPattern ? { tagPattern } : {}) });
        return;
      }
      const copied = await copyImage(source, destination, context);
      if (argv.digestFile) {
        const { writeFileAtomic } = await import('../content/atomic.js');
        await writeFileAtomic(argv.digestFile, copied.digest);
      }
      out.info(copied.line);
      if (destination.transport === 'oci' || destination.transport === 'oci-archive') {
        const note = (await import('./copy-hint.js')).dockerInLayoutNote(copied.report.mediaType, copied.report.destination, destination.transport === 'oci' ? undefined : source.text);
        if (note) out.info(note);
      }
      if (signing) {
        const { reportDestinationSignatures, signDestination } = await import('./key-options.js');
        const signatures = await signDestination(context.clients, destination, copied.digest, signing);
        reportDestinationSignatures(out, destination, signing, signatures);
        out.result(copied.digest, { ...copied.report, signatures });
        return;
      }
      if (onStdout) out.info(copied.digest);
      else out.result(copied.digest, copied.report);
    });
  },
};

/** What every image of one copy command shares. */
export interface CopyContext {
  clients: SideClients;
  progress: TransferProgress;
  out: Output;
  concurrency: number;
  /** Signatures, attestations and SBOMs too. */
  referrers: boolean;
  platform?: Platform;
  /** Several platforms: an index of only their images (the root made anew when it had others). */
  platforms?: Platform[];
  allPlatforms?: boolean;
  /** COSIGN_REPOSITORY, out of a layout into a registry: where the layout's signatures and attestations go, as push puts them. */
  signaturesIn?: import('./cosign-repository.js').RepositoryName;
  /** Blob transfers of the copies running at once into one destination (copy --all-tags): see CopyOptions.inFlight. */
  inFlight?: Map<string, Promise<void>>;
}

/**
 * What a source seen through an overlay (`mutate`, `rebase`) adds to it: blobs made in memory or
 * read from another image (a new base's layers), which the source's repository does not hold (no
 * mount from it is asked for). `inPlace`: the destination is the source's own repository or
 * layout, which holds everything else already (nothing else is asked for). `mountFrom`: the
 * repositories of a registry that hold some of the added blobs (the new base's).
 */
export interface MadeContent {
  digests: ReadonlySet<string>;
  inPlace: boolean;
  mountFrom?: (desc: Descriptor, registry: string) => string[];
}

/** One image copied: the line for a person, the JSON report, and the manifests it copied. */
export interface CopiedImage {
  digest: Descriptor['digest'];
  line: string;
  report: {
    source: string; destination: string; digest: string; size: number; mediaType: string;
    blobs: { digest: string; size: number; mediaType: string; kind: string; outcome: string }[];
    referrers: { subject: string; digest: string; mediaType: string; tag?: string }[];
    /** Out of a layout: the registry cache entries its `build --cache-repo` left pending, written (when any). */
    cacheEntries?: number;
  };
  /** The root and, for an index, the manifests under it: what its referrers (signatures …) refer to. */
  manifests: Descriptor['digest'][];
}

/**
 * Runs `work` with what a command with a source and a destination shares (copy, mutate, rebase): the
 * registry clients of each side, passwords read, progress, and cleanup on a signal; the
 * clients are closed after, or destroyed when `work` fails.
 */
export async function withCopyContext(
  argv: RegistryFlags, out: Output, source: Endpoint, destination: Endpoint,
  images: Pick<CopyContext, 'referrers' | 'platform' | 'platforms' | 'allPlatforms' | 'signaturesIn'>, work: (context: CopyContext) => Promise<void>,
): Promise<void> {
  const concurrency = checkConcurrency(argv.concurrency);
  const { SideClients } = await import('./side-clients.js');
  const { TransferProgress } = await import('./progress.js');
  const progress = new TransferProgress(out, { active: 'copying', transferred: 'copied' });
  const clients = new SideClients(argv as unknown as Record<string, unknown>, (n, client) =>
    progress.notice(`${n.op}: ${n.reason}, retrying in ${(n.delayMs / 1000).toFixed(1)} s (${n.attempt}/${client.retryPolicy.retries})`));
  if (destination.transport === 'registry') clients.envRegistry = destination.reference.registry;
  await clients.readPasswords(source.transport === 'registry', destination.transport === 'registry');
  const { installSignalCleanup } = await import('../content/cleanup.js');
  installSignalCleanup();
  try {
    await work({ clients, progress, out, concurrency, ...images });
    progress.finish();
    await clients.close();
  } catch (err) {
    progress.finish();
    await clients.destroy();
    throw err;
  }
}

/**
 * Copies the image `source` names to `destination`: blobs, then the manifest (children before
 * their index), then what refers to it. A failed copy leaves an archive destination as it was.
 * `opened` and `given` are a source seen with content made in memory (mutate, index create …);
 * without them, `context.platforms` narrows an index to those platforms' images.
 */
export async function copyImage(
  source: Endpoint, destination: Endpoint, context: CopyContext, opened?: OpenedSource, given?: MadeContent,
): Promise<CopiedImage> {
  const { layoutDigest, openSource, openDestination } = await import('./endpoints.js');
  const { clients, progress, concurrency } = context;
  let dst: OpenedDestination | undefined;
  try {
    // Into an archive or a layout, a lazy source layout's base layers are streamed from their
    // registry and not kept: its source is only read (it may be read-only), as skopeo reads it.
    // Into a registry they are kept when fetched, as push keeps them.
    const keep = destination.transport === 'registry' ? {} : { keep: false };
    let src = opened ?? await openSource(source, { connect: (r) => sourceClient(clients, source, destination, r), ...keep });
    let narrowed = given;
    const asOpened = src.storage;
    if (context.platforms && !given) ({ src, made: narrowed } = await toPlatforms(src, context.platforms));
    const made = narrowed;
    let root: Descriptor = src.root;
    const { hostPlatformOf } = await import('../oci/platform-check.js');
    const { platformManifest } = await import('../image/load.js');
    const { noManifestFor } = await import('../image/platform.js');
    const chooseFor = (platform: Platform, requirePlatform = false) => platformManifest(src.storage, { descriptor: root, bytes: src.rootBytes }, { name: src.name, platform, noMatch: noManifestFor(src.name), requirePlatform });
    if (context.platform) root = await chooseFor(context.platform, true);
    else if (destination.transport === 'docker-archive' && !context.allPlatforms) {
      // A docker archive holds one platform's image: this machine's, as skopeo picks it.
      root = await chooseFor(hostPlatformOf());
    }
    if (destination.transport === 'docker-archive' && root.digest === src.root.digest) {
      // Refused before any blob moves; the archive writer checks again a manifest an index chose.
      const { checkDockerArchiveImage } = await import('../archive/archive-writer.js');
      const { parseManifest } = await import('../oci/manifest.js');
      checkDockerArchiveImage(parseManifest(src.rootBytes, src.name, root.mediaType), src.name);
    }
    const pinned = destination.transport === 'registry' ? destination.reference.digest : layoutDigest(destination);
    if (pinned && pinned !== root.digest) throw usageError(`${destination.text}: the image to copy has digest ${root.digest}, not ${pinned}`);
    // (Not for a changed image: the source's repository does not hold it yet.)
    if (!made && source.transport === 'registry' && destination.transport === 'registry' && clients.sameEndpoint(source.reference, destination.reference)) {
      const dstTag = destination.reference.digest ? destination.reference.tag : (destination.reference.tag ?? src.tag ?? 'latest');
      const current = dstTag === undefined ? root : isTagResolver(src.storage) ? await src.storage.resolve(dstTag).catch(() => undefined) : undefined;
      if (current?.digest === root.digest) {
        return {
          digest: root.digest,
          line: `${src.name} and ${destination.text} are the same image (${root.digest}): nothing to copy`,
          report: { source: src.name, destination: destination.text, digest: root.digest, size: root.size, mediaType: root.mediaType, blobs: [], referrers: [] },
          manifests: [root.digest],
        };
      }
    }
    dst = await openDestination(destination, src, { connect: (r) => clients.connect('dest', r) });
    const copied = await (await import('../lib/copy-image.js')).copyImageGraph(
      {
        storage: src.storage, name: src.name, opened: { descriptor: src.root, bytes: src.rootBytes }, referrersFrom: asOpened,
        ...(src.layout ? { layout: src.layout } : {}), ...(src.located ? { located: src.located } : {}),
      },
      {
        storage: dst.storage, archive: dst.writer !== undefined,
        ...(dst.repository ? { repository: dst.repository } : {}), ...(dst.layout ? { layout: dst.layout } : {}), ...(dst.reference ? { reference: dst.reference } : {}),
      },
      root,
      {
        // An archive is written one entry at a time: more would only hold connections open.
        concurrency: dst.writer ? 1 : concurrency,
        referrers: context.referrers,
        onEvent: progress.handle,
        ...(made ? { madeInMemory: made.digests } : {}),
        ...(made?.mountFrom ? { moreMountSources: made.mountFrom } : {}),
        ...(made?.inPlace ? { present: (d: Descriptor) => !made.digests.has(d.digest) } : {}),
        ...(context.inFlight ? { inFlight: context.inFlight } : {}),
        // Clients of its own (the cache closes them): a side's credentials in that side's registry
        // alone; a cache repository on a third host gets only its own login, as push's.
        connectCache: (r) => clientBeside(clients, source, destination, r),
        ...(context.signaturesIn ? { signaturesIn: context.signaturesIn, connectSignatures: (r: string) => clientBeside(clients, source, destination, r) } : {}),
        warn: (message) => context.out.warn(message),
      },
    );
    const { subjects, referrers, cacheEntries } = copied;
    if (context.referrers && dst.writer) await sayReferrersLeft(src, subjects, context.out, destination.text);
    await dst.finish(root);
    await src.close();

    const blobs = copied.nodes.filter((n) => n.descriptor.digest !== root.digest);
    const count = (o: string) => blobs.filter((b) => b.outcome === o).length;
    const extra = referrers.length > 0 ? `; ${referrers.length} referrer${referrers.length === 1 ? '' : 's'} (${referrers.map((r) => `${r.tag ?? r.result.root.digest}${r.storedIn ? ` in ${r.storedIn}` : ''}`).join(', ')})` : '';
    const cached = cacheEntries > 0 ? `; wrote ${cacheEntries} layer cache entr${cacheEntries === 1 ? 'y' : 'ies'}` : '';
    return {
      digest: root.digest,
      line: `copied ${src.name} to ${dst.name} (${blobs.length} blobs: ${count('uploaded')} copied, ${count('mounted')} mounted, ${count('exists')} already there${(await import('./progress.js')).foreignNote(count('skipped'))}${extra}${cached})`,
      report: {
        source: src.name,
        destination: dst.name,
        digest: root.digest,
        size: root.size,
        mediaType: root.mediaType,
        blobs: blobs.map((b) => ({ digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType, kind: b.kind, outcome: b.outcome })),
        referrers: referrers.map((r) => ({ subject: r.subject, digest: r.result.root.digest, mediaType: r.result.root.mediaType, ...(r.tag ? { tag: r.tag } : {}) })),
        ...(cacheEntries > 0 ? { cacheEntries } : {}),
      },
      manifests: subjects.map((d) => d.digest),
    };
  } catch (err) {
    await dst?.abort().catch(() => {});
    throw err;
  }
}

/**
 * The client a source reads with: a registry source's own, with the source side's credentials;
 * for the base layers a layout or archive only references, the destination's on its host, else
 * only that registry's own login: a side's --username and OCIPUSH_USERNAME never go to a base's.
 */
function sourceClient(clients: SideClients, source: Endpoint, destination: Endpoint, registry: string): Promise<RegistryClient> {
  if (source.transport === 'registry' && source.reference.registry === registry) return clients.connect('src', registry);
  if (destination.transport === 'registry' && destination.reference.registry === registry) return clients.connect('dest', registry);
  return clients.connectElsewhere('src', registry);
}

/**
 * A client of its own for a registry beside the copy (COSIGN_REPOSITORY's, the layer cache a
 * `build --cache-repo` left entries for): on a side's registry, that side's credentials (the
 * same host); on any other, only its own login (SideClients.elsewhere), never a side's.
 */
function clientBeside(clients: SideClients, source: Endpoint, destination: Endpoint, registry: string): Promise<RegistryClient> {
  if (destination.transport === 'registry' && destination.reference.registry === registry) return clients.own('dest', registry);
  if (source.transport === 'registry' && source.reference.registry === registry) return clients.own('src', registry);
  return clients.elsewhere('dest', registry);
}

/**
 * An archive holds the image alone: what refers to it (cosign's signatures, attestations and
 * SBOMs, OCI 1.1 referrers) stays behind, which a line says rather than leave it to be found
 * missing by a verify on the far side of an air gap.
 */
async function sayReferrersLeft(src: OpenedSource, subjects: Descriptor[], out: Output, destination: string): Promise<void> {
  const [{ findReferrers }, { referrerEnds }] = await Promise.all([import('../transfer/copy-referrers.js'), import('../transfer/referrer-ends.js')]);
  const { listReferrers } = await referrerEnds(src, {});
  const left = await findReferrers(src.storage, subjects, listReferrers ? { listReferrers } : {});
  if (left.length === 0) return;
  out.warn(`${left.length} referrer${left.length === 1 ? '' : 's'} not copied (${left.join(', ')}): ${destination} holds the image only; copy to oci:DIR to carry signatures, attestations and SBOMs`);
}

/** The source with its root narrowed to `platforms`: an index made anew in memory when it had others. */
async function toPlatforms(src: OpenedSource, platforms: Platform[]): Promise<{ src: OpenedSource; made?: MadeContent }> {
  const { narrowToPlatforms } = await import('../assemble/filter-index.js');
  const { changed, ...narrowed } = await narrowToPlatforms(src.storage, src.root, src.rootBytes, platforms, src.name);
  const { made, ...opened } = narrowed;
  return changed ? { src: { ...src, ...opened }, made: { digests: new Set(made), inPlace: false } } : { src };
}



function tagRegex(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw usageError(`--tag-regex ${JSON.stringify(text)}: not a regular expression (${(err as Error).message})`);
  }
}
