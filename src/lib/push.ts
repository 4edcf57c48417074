import type { Descriptor } from '../oci/descriptor.js';
import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import type { DeclinedMount } from '../transfer/mount-sources.js';
import type { RegistryClient } from '../registry/http.js';
import type { ReferrersMethod } from '../registry/referrers.js';
import { OcipushError } from '../errors.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { abortWith, concurrencyOf, connectWith, layoutOption, repositoryOption, type RegistryOptions, type SignatureStore } from './options.js';

export interface PushOptions extends RegistryOptions, SignatureStore {
  /** `REGISTRY/REPOSITORY[:TAG|@DIGEST]`; the tag defaults to `latest`. */
  to: string;
  /** The layout to read; `oci:DIR` is DIR, and `oci:DIR:NAME` also `tag: NAME`, as `--layout` reads them; default `$OCIPUSH_LAYOUT` (`DIR` or `oci:DIR`) or `./oci-layout`. */
  layout?: string;
  /** The image of the layout to push (its tag or digest); default: the destination's tag, the only image, or `latest`. */
  tag?: string;
  /** When the image is a multi-platform index, push only this `os/arch[/variant]` (its manifest). */
  platform?: string;
  /** Take `platform` as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`); without it a typo is refused before any request. */
  unlistedPlatform?: boolean;
  /** More tags for the same manifest in the destination repository (one, or a list). */
  alsoTag?: string | string[];
  /** Repositories of the same registry to mount blobs from instead of uploading them (one, or a list). */
  mountFrom?: string | string[];
  /** Upload every blob in chunks of this many bytes (default: one PUT up to 64 MiB, one streamed PATCH above). */
  chunkSize?: number;
  onEvent?: (event: CopyEvent) => void;
}

export interface PushResult {
  /** The manifest (or index) digest: what `docker/build-push-action` calls `digest`. */
  digest: string;
  size: number;
  mediaType: string;
  /** `REGISTRY/REPOSITORY[:TAG]@DIGEST`. */
  reference: string;
  tags: string[];
  blobs: { descriptor: Descriptor; kind: NodeKind; outcome: CopyOutcome }[];
  /** What referred to the image in the layout and went with it: OCI 1.1 referrers (via the API or tag schema), cosign's tags (`tag`). */
  referrers: { descriptor: Descriptor; artifactType?: string; via: ReferrersMethod | 'cosign-tag'; tag?: string; storedIn?: string }[];
  /** Registry layer cache entries a `build --cache-repo` left pending, written now. */
  cacheEntries: number;
}

/**
 * What the CLI adds around a push; not part of the library's API. Its errors are left in the
 * CLI's words (`pushWith` is not wrapped in `libraryCall`).
 */
export interface PushHooks {
  /** A client for the destination (`destination`) or for a registry holding a base layer (`base`). */
  connect?: (registry: string, role: 'destination' | 'base') => Promise<RegistryClient>;
  /** Told once the image is chosen, before any request. */
  onRoot?: (root: Descriptor, tag: string | undefined) => void;
  /** Told before a base layer the layout only references is fetched from its registry. */
  onDownload?: (desc: Descriptor, from: string) => void;
  /** A layer cache entry that could not be written (the push itself succeeded). */
  warn?: (message: string) => void;
  /** Runs once the image and its referrers are in place, with the destination's client (`push --sign`). */
  afterPush?: (client: RegistryClient, root: Descriptor) => Promise<void>;
  /** cosign's COSIGN_REPOSITORY: the layout's signatures and attestations go there, not beside the image. */
  signatureRepository?: { registry: string; repository: string };
}


/**
 * `ocipush push`: every blob the repository lacks (mounted where it can be), then the manifest
 * under its tag, strictly last, then the other tags, then what refers to it in the layout.
 */
const PUSH: LibraryCall<PushOptions> = { name: 'push', required: { to: 'the reference to push to (REGISTRY/REPOSITORY[:TAG])' }, strings: ['layout', 'tag', 'platform', 'signatureRepository'], oneOrList: ['alsoTag', 'mountFrom'], what: (o) => `push ${o.to}` };

export function push(options: PushOptions): Promise<PushResult> {
  return libraryCall(PUSH, options, async (given) => {
    const options = layoutOption('push', given);
    // The layout's signatures and attestations go there, as the CLI's push takes them to COSIGN_REPOSITORY.
    const hooks = options.signatureRepository === undefined ? {} : { signatureRepository: await repositoryOption(options.signatureRepository, 'signatureRepository') };
    if (options.platform === undefined) return pushWith(options, hooks);
    const { checkPlatform } = await import('../oci/platform-check.js');
    return pushWith({ ...options, platform: checkPlatform(options.platform, options.unlistedPlatform)! }, hooks);
  });
}

/**
 * The one push of a layout's image, for the library and the CLI alike. What runs before the
 * first request is kept to what that request needs: the layout's index and the image's manifest,
 * the transport. A re-push of an unchanged image is one request (a HEAD of the tag); the
 * referrers, the layer cache and the record of pushed blobs are only loaded when the layout has
 * something for them.
 */
export async function pushWith(options: PushOptions, hooks: PushHooks = {}): Promise<PushResult> {
  const { parseReference, isValidTag } = await import('../oci/reference.js');
  const named = (await import('../transports/parse.js')).namedTransport(options.to);
  // Not the Docker Hub image docker.io/library/oci-archive:app.tar.
  if (named) throw new OcipushError('EUSAGE', `to ${options.to}: ${named.what}, not a registry (REGISTRY/REPO[:TAG]), which push writes to`);
  const destination = parseReference(options.to);
  // One tag given as a string is that tag, not its letters (`alsoTag: 'latest'` once tagged l, a, t …).
  const alsoTag = [options.alsoTag ?? []].flat();
  for (const t of alsoTag) if (!isValidTag(t)) throw new OcipushError('EUSAGE', `alsoTag "${t}": not a valid tag`);
  if (options.chunkSize !== undefined && !(Number.isSafeInteger(options.chunkSize) && options.chunkSize >= 1024)) {
    throw new OcipushError('EUSAGE', `chunkSize ${options.chunkSize}: a whole number of bytes, at least 1024`);
  }
  const concurrency = concurrencyOf(options);
  const platform = options.platform === undefined ? undefined : (await import('../oci/descriptor.js')).parsePlatform(options.platform);
  const mountFrom = [options.mountFrom ?? []].flat().map((m) => {
    const ref = parseReference(m.startsWith(`${destination.registry}/`) ? m : `${destination.registry}/${m}`);
    if (ref.registry !== destination.registry) throw new OcipushError('EUSAGE', `mountFrom ${m}: blobs can only be mounted from the same registry (${destination.registry})`);
    return ref.repository;
  });

  const { OciLayout } = await import('../content/layout.js');
  const { selectLayoutImage } = await import('../transports/layout-reference.js');
  const layoutDir = options.layout ?? defaultLayoutDir();
  const layout = await OciLayout.open(layoutDir);
  let root = await selectLayoutImage(layout, { ...(options.tag !== undefined ? { tag: options.tag } : {}), destination });
  if (platform) {
    const [{ platformManifest }, { noManifestFor }] = await Promise.all([import('../image/load.js'), import('../image/platform.js')]);
    const name = `${layoutDir}: ${options.tag ?? root.digest}`;
    root = await platformManifest(layout, { descriptor: root, bytes: await layout.readBlob(root) }, { name, platform, noMatch: noManifestFor(name), requirePlatform: true });
  }
  if (destination.digest && destination.digest !== root.digest) {
    throw new OcipushError('EUSAGE', `${options.to}: the image to push has digest ${root.digest}, not ${destination.digest}`);
  }
  const tag = destination.digest ? destination.tag : (destination.tag ?? 'latest');
  const { baseRepositories } = await import('../transfer/base-repositories.js');
  mountFrom.push(...await baseRepositories(layout, root, destination.registry, destination.repository));
  hooks.onRoot?.(root, tag);

  // OCIPUSH_USERNAME/PASSWORD are the destination's: never sent to the registry of a base layer.
  const connect = hooks.connect ?? ((registry: string, role: 'destination' | 'base') => connectWith(registry, options, role === 'base' ? { envCredentials: false } : {}));
  const [client, { Repository }, { copyGraph }, { LazyBlobs }, { recordMountSources }] = await Promise.all([
    connect(destination.registry, 'destination'),
    import('../registry/repository.js'), import('../transfer/copy-graph.js'), import('../transfer/lazy-blobs.js'), import('../transfer/mount-sources.js'),
  ]);
  const unhook = abortWith(options.signal, client);
  // Base layers a build only referenced: mounted from the base's repository in this registry,
  // else fetched from it (verified, kept in the layout) to be uploaded.
  const source = new LazyBlobs(layout, {
    shared: [client],
    connect: (registry) => connect(registry, 'base'),
    ...(hooks.onDownload ? { onDownload: hooks.onDownload } : {}),
  });
  const where = `${destination.registry}/${destination.repository}`;
  try {
    const baseMounts = await source.mountLookup(destination.registry);
    const repository = new Repository(client, destination.repository, { destination: true, ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}) });
    const signal = options.signal ? { signal: options.signal } : {};
    const declined: DeclinedMount[] = [];
    // Read and compiled while the image goes up, not after it.
    const extrasModule = import('./push-extras.js');
    extrasModule.catch(() => {});
    const result = await copyGraph(source, repository, root, {
      concurrency,
      ...(tag !== undefined ? { rootReference: tag } : {}),
      mountFrom: (desc) => [...new Set([...mountFrom, ...baseMounts(desc)])],
      onMountDeclined: (descriptor, from) => declined.push({ descriptor, repository: `${destination.registry}/${from}` }),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...signal,
    });
    // The manifest is in place under the first tag: the others are the same bytes again.
    for (const extra of alsoTag) await repository.tag(root, extra);
    // Local files, written while the referrers go up.
    const remembered = recordMountSources(source, result.nodes, where, declined);
    const { pushExtras } = await extrasModule;
    const extras = await pushExtras({
      layout, source, repository, root, nodes: result.nodes, concurrency, pushedTo: destination,
      // A cache repository in the registry pushed to is written with the push's credentials (its
      // --username, OCIPUSH_USERNAME): as a base's login, they were withheld and the entry refused.
      connect: (registry) => connect(registry, registry === destination.registry ? 'destination' : 'base'),
      // COSIGN_REPOSITORY on another registry is reached as a base's is: with its own login (the
      // Docker config), never the destination's --username or OCIPUSH_USERNAME/PASSWORD.
      ...(hooks.signatureRepository ? { signaturesIn: hooks.signatureRepository, connectSignatures: (registry: string) => connect(registry, registry === destination.registry ? 'destination' : 'base') } : {}),
      warn: hooks.warn ?? (() => {}),
    }).finally(() => remembered);
    await hooks.afterPush?.(client, root);
    await source.close();
    await client.close();
    return {
      digest: root.digest,
      size: root.size,
      mediaType: root.mediaType,
      reference: `${where}${tag ? `:${tag}` : ''}@${root.digest}`,
      tags: [...(tag ? [tag] : []), ...alsoTag],
      blobs: result.nodes.filter((n) => n.descriptor.digest !== root.digest).map((n) => ({ descriptor: n.descriptor, kind: n.kind, outcome: n.outcome })),
      referrers: extras.referrers,
      cacheEntries: extras.cacheEntries,
    };
  } catch (err) {
    await source.close();
    await client.destroy();
    throw err;
  } finally {
    unhook();
  }
}
