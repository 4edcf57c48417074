import { missingEntryError, type Descriptor, type Platform } from '../oci/descriptor.js';
import type { Reference } from '../oci/reference.js';
import type { RegistryClient } from '../registry/http.js';
import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import { resolve } from 'node:path';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { OcipushError } from '../errors.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { concurrencyOf, connectWith, layoutOption, platformsOf, type RegistryOptions } from './options.js';

export interface PullOptions extends RegistryOptions {
  /** `REGISTRY/REPOSITORY[:TAG|@DIGEST]`. */
  from: string;
  /** The layout to write into, created when missing (a directory of other files is refused, ELAYOUT); `oci:DIR` is DIR, and `oci:DIR:NAME` also `tag: NAME`, as `--layout` reads them; default `$OCIPUSH_LAYOUT` (`DIR` or `oci:DIR`) or `./oci-layout`. */
  layout?: string;
  /** The image's name in the layout; default the reference's tag (none for a digest). */
  tag?: string;
  /** From a multi-platform index, pull only this `os/arch[/variant]`; several, comma-separated: an index of only those platforms' images. */
  platform?: string;
  /** Take `platform` as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`); without it a typo is refused before any request. */
  unlistedPlatform?: boolean;
  onEvent?: (event: CopyEvent) => void;
}

export interface PullResult {
  digest: string;
  size: number;
  mediaType: string;
  layout: string;
  tag?: string;
  /** Blobs (every node but the root) and whether each was `downloaded` or `exists` already. */
  blobs: { descriptor: Descriptor; kind: NodeKind; outcome: 'downloaded' | Exclude<CopyOutcome, 'uploaded'> }[];
}

const PULL: LibraryCall<PullOptions> = { name: 'pull', required: { from: 'the reference to pull (REGISTRY/REPOSITORY[:TAG|@DIGEST])' }, strings: ['layout', 'tag', 'platform'], what: (o) => `pull ${o.from}` };

/** `ocipush pull`: an image (or a whole index) into a layout, every blob verified as it streams. */
export function pull(options: PullOptions): Promise<PullResult> {
  return libraryCall(PULL, options, async (given) => {
    const options = layoutOption('pull', given);
    const { parseReference, assertLayoutRefName } = await import('../oci/reference.js');
    // The image-layout spec's grammar, as the CLI's pull --tag and build check it.
    if (options.tag !== undefined) assertLayoutRefName(options.tag);
    const named = (await import('../transports/parse.js')).namedTransport(options.from);
    // Not the Docker Hub image docker.io/library/docker-archive:app.tar.
    if (named) throw new OcipushError('EUSAGE', `from ${options.from}: ${named.what}, not a registry (REGISTRY/REPO[:TAG]), which pull reads`);
    const source = parseReference(options.from);
    const platforms = await platformsOf(options);
    const concurrency = concurrencyOf(options);
    const client = await connectWith(source.registry, options);
    // The signal goes to copyGraph, which hands it to the layout's writes: a download cut there
    // ends its stream. (The client is not destroyed under a running fetch: its resume-on-break
    // would report to a stream nobody reads any more.)
    try {
      const result = await pullWith(client, source, {
        layout: options.layout ?? defaultLayoutDir(),
        ...(options.tag !== undefined ? { tag: options.tag } : {}),
        ...(platforms.length === 1 ? { platform: platforms[0]! } : platforms.length > 1 ? { platforms } : {}),
        concurrency,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      await client.close();
      return result;
    } catch (err) {
      await client.destroy();
      throw err;
    }
  });
}

/** What `pullWith` needs besides the client: the library's options and the CLI's flags, resolved. */
export interface PullSettings {
  layout: string;
  tag?: string;
  platform?: Platform;
  /** Several platforms: of an index, only their images, under an index made anew when it had others. */
  platforms?: Platform[];
  concurrency: number;
  onEvent?: (event: CopyEvent) => void;
  /** Told the manifest chosen (after the platform), before any blob moves. */
  onRoot?: (root: Descriptor, name: string | undefined) => void;
  signal?: AbortSignal;
}

/**
 * The pull itself, over a client the caller owns (the library's `pull` and the CLI's verb, each
 * with its own client and wording): the root manifest (one platform of an index when asked),
 * every blob into the layout, the name in index.json. A pull that made the layout and failed
 * leaves no empty layout behind.
 */
export async function pullWith(client: RegistryClient, source: Reference, settings: PullSettings): Promise<PullResult> {
  const { referenceTarget, formatReference } = await import('../oci/reference.js');
  const { Repository } = await import('../registry/repository.js');
  const { copyGraph } = await import('../transfer/copy-graph.js');
  const { OciLayout } = await import('../content/layout.js');
  // A name like a digest (oci:DIR@sha256:…, --tag sha256:…) pins the image, as copy's destination
  // by digest does: only the image of that digest, listed without a name (a name like a digest
  // would hide the image that has it).
  const pinned = settings.tag !== undefined && /^sha(256|512):/.test(settings.tag) ? settings.tag : undefined;
  if (pinned !== undefined && !(await import('../oci/digest.js')).isDigest(pinned)) {
    throw new OcipushError('EUSAGE', `${settings.layout}@${pinned}: not a digest (sha256: and 64 hex digits), nor a name for an image in a layout`);
  }
  const name = pinned !== undefined ? undefined : settings.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
  // A directory of other files is refused before any request, as build refuses it.
  await (await import('../assemble/layout-target.js')).layoutDirectoryEntries(settings.layout);
  let layout: import('../content/layout.js').OciLayout | undefined;
  try {
    const repository = new Repository(client, source.repository);
    const signal = settings.signal ? { signal: settings.signal } : {};
    const fetched = await repository.fetchManifest(referenceTarget(source), signal);
    let root = fetched.descriptor;
    let from: import('../content/storage.js').ReadOnlyStorage = repository;
    if (settings.platforms) {
      const { narrowToPlatforms } = await import('../assemble/filter-index.js');
      ({ storage: from, root } = await narrowToPlatforms(repository, root, fetched.bytes, settings.platforms, formatReference(source)));
    }
    if (settings.platform) {
      const [{ platformManifest }, { noManifestFor }] = await Promise.all([import('../image/load.js'), import('../image/platform.js')]);
      const shown = formatReference(source);
      root = await platformManifest(repository, { descriptor: root, bytes: fetched.bytes }, { name: shown, platform: settings.platform, noMatch: noManifestFor(shown), requirePlatform: true, ...signal });
    }
    if (pinned !== undefined && pinned !== root.digest) {
      throw new OcipushError('EUSAGE', `${settings.layout}@${pinned}: the image pulled has digest ${root.digest}, not ${pinned}`);
    }
    layout = await OciLayout.open(settings.layout, { create: true });
    settings.onRoot?.(root, name);
    const chosen = root;
    const result = await copyGraph(from, layout, root, {
      concurrency: settings.concurrency,
      ...(name !== undefined ? { rootReference: name } : {}),
      ...(settings.onEvent ? { onEvent: settings.onEvent } : {}),
      ...(settings.signal ? { signal: settings.signal } : {}),
    }).catch((err: unknown) => { throw missingChosenPlatform(err, chosen, formatReference(source)); });
    if (name === undefined) {
      // Pulled by digest with no name: listed in index.json without a ref.name.
      await layout.updateIndex((index) => {
        if (!index.manifests.some((d) => d.digest === root.digest)) index.manifests.push({ mediaType: root.mediaType, digest: root.digest, size: root.size });
      });
    }
    await layout.close();
    return {
      digest: root.digest,
      size: root.size,
      mediaType: root.mediaType,
      layout: resolve(settings.layout),
      ...(name !== undefined ? { tag: name } : {}),
      blobs: result.nodes.filter((n) => n.descriptor.digest !== root.digest)
        .map((n) => ({ descriptor: n.descriptor, kind: n.kind, outcome: n.outcome === 'uploaded' ? 'downloaded' as const : n.outcome })),
    };
  } catch (err) {
    await layout?.discardIfCreated();
    throw err;
  }
}

/**
 * `--platform`'s manifest the registry does not hold under the index that names it (deleted, or the
 * index pushed alone): said as such, as a whole-index pull and inspect say it; a missing blob's
 * error is left as it is.
 */
function missingChosenPlatform(err: unknown, chosen: Descriptor, shown: string): unknown {
  if (!(err instanceof OcipushError) || err.code !== 'ENOTFOUND' || !err.message.includes(chosen.digest)) return err;
  return missingEntryError(err, chosen, (platform) => `${shown} names it for ${platform}, which the registry does not hold (deleted under its index, or the index pushed without it); pull another with --platform`);
}
