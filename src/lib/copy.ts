import type { Descriptor } from '../oci/descriptor.js';
import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { concurrencyOf, connectorBeside, connectWith, platformsOf, repositoryOption, sourceConnector, type RegistryOptions, type SignatureStore, type SourceRegistryOptions } from './options.js';

export interface CopyOptions extends RegistryOptions, SignatureStore {
  /** What to copy: `REGISTRY/REPO[:TAG|@DIGEST]` (or `docker://…`), `oci:DIR[:NAME]`, `oci-archive:FILE`, `docker-archive:FILE`. */
  from: string;
  /** Where to: `REGISTRY/REPO[:TAG]` (or `docker://…`). Layouts and archives as destinations are the CLI's `copy`. */
  to: string;
  /**
   * From a multi-platform index, copy only this `os/arch[/variant]` (the result is its manifest);
   * several, comma-separated: an index of only those platforms' images (made anew when it had others).
   */
  platform?: string;
  /** Take `platform` as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`); without it a typo is refused before any request. */
  unlistedPlatform?: boolean;
  /** Signatures, attestations and SBOMs that refer to the image come along (default true). */
  referrers?: boolean;
  /** The source registry's own `credentials`, `plainHttp`, `insecure`, `caFile`, `certDir` (the CLI's `--src-…`), each instead of the call's. */
  source?: SourceRegistryOptions;
  onEvent?: (event: CopyEvent) => void;
}

export interface CopyResult {
  digest: string;
  size: number;
  mediaType: string;
  /** `registry/repo:tag@digest` where the image now is. */
  reference: string;
  /** Blobs (every node but the root) and what became of each. */
  blobs: { descriptor: Descriptor; kind: NodeKind; outcome: CopyOutcome }[];
  /** Manifests that refer to the image (cosign tags, OCI 1.1 referrers), copied along. */
  referrers: Descriptor[];
  /** Out of a layout: the registry cache entries its `build --cache-repo` left pending, written as push writes them. */
  cacheEntries: number;
}

const COPY: LibraryCall<CopyOptions> = {
  name: 'copy',
  required: { from: 'the image to copy (REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:NAME], oci-archive:FILE, docker-archive:FILE)', to: 'the registry reference to copy to (REGISTRY/REPO[:TAG])' },
  strings: ['platform', 'signatureRepository'],
  booleans: ['referrers'],
  what: (o) => `copy ${o.from} to ${o.to}`,
};

/**
 * `ocipush copy` into a registry: promotes an image between registries (each blob streamed from
 * one to the other and verified, never written to disk), mounts within one registry, skips what
 * the destination has, the manifest last; credentials per registry, as the CLI takes them.
 */
export function copy(options: CopyOptions): Promise<CopyResult> {
  return libraryCall(COPY, options, (options) => copyOne(options));
}

/**
 * copy() as one of several running at once into one registry (copyRepository's jobs): a blob
 * another of them is sending is waited for and counted as there, never sent twice.
 */
export function copySharing(options: CopyOptions, inFlight: Map<string, Promise<void>>): Promise<CopyResult> {
  return libraryCall(COPY, options, (options) => copyOne(options, inFlight));
}

async function copyOne(options: CopyOptions, inFlight?: Map<string, Promise<void>>): Promise<CopyResult> {
  const { OcipushError } = await import('../errors.js');
  const { parseTransport, sourceTag } = await import('../transports/parse.js');
  const destination = parseTransport(options.to);
  if (destination.transport !== 'registry') {
    throw new OcipushError('EUSAGE', `to ${options.to}: the library's copy writes to a registry (REGISTRY/REPO[:TAG]); the CLI's copy also writes layouts and archives`);
  }
  const target = destination.reference;
  const concurrency = concurrencyOf(options);
  const platforms = await platformsOf(options);
  const [{ openImage }, { isRegistryLocated }] = await Promise.all([import('../transports/open.js'), import('../content/storage.js')]);
  // OCIPUSH_USERNAME/PASSWORD are the destination's, as the CLI's copy takes them: never sent to another source registry.
  const connectSource = sourceConnector(options, target.registry);
  const signaturesIn = options.signatureRepository === undefined ? undefined : await repositoryOption(options.signatureRepository, 'signatureRepository');
  const beside = connectorBeside(options, target.registry);
  const source = await openImage(options.from, { connect: connectSource, ...(options.signal ? { signal: options.signal } : {}) });
  const client = await connectWith(target.registry, options);
  const sourceRegistry = isRegistryLocated(source.storage) ? source.storage.registry : undefined;
  try {
    let root = source.root;
    let storage = source.storage;
    if (platforms.length === 1) {
      const { platformManifest, readManifest } = await import('../image/load.js');
      const signal = options.signal ? { signal: options.signal } : {};
      root = await platformManifest(source.storage, await readManifest(source.storage, root, { name: source.name, ...signal }), { name: source.name, platform: platforms[0]!, requirePlatform: true, ...signal });
    } else if (platforms.length > 1) {
      const { MAX_MANIFEST_BYTES, readSmall } = await import('../content/verify.js');
      const { narrowToPlatforms } = await import('../assemble/filter-index.js');
      const rootBytes = await readSmall(await source.storage.fetch(root), MAX_MANIFEST_BYTES, `${source.name}: manifest ${root.digest}`);
      // An index made anew (in memory) is a manifest, PUT, never mounted: the blobs under it are the source's.
      ({ storage, root } = await narrowToPlatforms(source.storage, root, rootBytes, platforms, source.name));
    }
    if (target.digest && target.digest !== root.digest) {
      throw new OcipushError('EUSAGE', `to ${options.to}: the image to copy has digest ${root.digest}, not ${target.digest}`);
    }
    const { Repository } = await import('../registry/repository.js');
    const repository = new Repository(client, target.repository, { destination: true });
    // A destination without a tag takes the source's, as the CLI's copy names it.
    const tag = target.digest ? target.tag : (target.tag ?? sourceTag(parseTransport(options.from)) ?? 'latest');
    const copied = await (await import('./copy-image.js')).copyImageGraph(
      {
        storage, name: source.name, opened: { descriptor: source.root }, referrersFrom: source.storage,
        ...(source.layout ? { layout: source.layout } : {}),
        ...(isRegistryLocated(source.storage) ? { located: source.storage } : {}),
      },
      { storage: repository, repository, ...(tag ? { reference: tag } : {}) },
      root,
      {
        concurrency, referrers: options.referrers !== false,
        // The cache closes its clients: its own, with the destination's credentials in its registry, as push's.
        connectCache: connectSource,
        // As the library's push: a cache that fails is no failed copy, and says nothing.
        warn: () => {},
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(inFlight ? { inFlight } : {}),
        // Out of a layout, its signatures and attestations go there, as push takes them (the CLI's, to
        // COSIGN_REPOSITORY); out of a registry, its cosign tags are read there, as cosign copy reads them.
        // On the source's registry with the source's credentials, else never OCIPUSH_USERNAME/PASSWORD off the destination's.
        ...(signaturesIn ? { signaturesIn, connectSignatures: (registry: string) => (registry === sourceRegistry ? connectSource : beside)(registry) } : {}),
      },
    );
    await client.close();
    return {
      digest: root.digest,
      size: root.size,
      mediaType: root.mediaType,
      reference: `${target.registry}/${target.repository}${tag ? `:${tag}` : ''}@${root.digest}`,
      blobs: copied.nodes.filter((n) => n.descriptor.digest !== root.digest).map((n) => ({ descriptor: n.descriptor, kind: n.kind, outcome: n.outcome })),
      referrers: copied.referrers.map((r) => r.result.root),
      cacheEntries: copied.cacheEntries,
    };
  } catch (err) {
    await client.destroy();
    throw err;
  } finally {
    await source.close();
  }
}
