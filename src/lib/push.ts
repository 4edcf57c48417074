import type { Descriptor } from '../oci/descriptor.js';
import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import { OcipushError } from '../errors.js';
import { defaultLayoutDir } from '../defaults.js';
import { libraryCall } from './errors.js';
import { abortWith, concurrencyOf, connectWith, type RegistryOptions } from './options.js';

export interface PushOptions extends RegistryOptions {
  /** `REGISTRY/REPOSITORY[:TAG|@DIGEST]`; the tag defaults to `latest`. */
  to: string;
  /** The layout to read; default `$OCIPUSH_LAYOUT` or `./oci-layout`. */
  layout?: string;
  /** The image of the layout to push (its tag or digest); default: the destination's tag, the only image, or `latest`. */
  tag?: string;
  /** More tags for the same manifest in the destination repository. */
  alsoTag?: string[];
  /** Repositories of the same registry to mount blobs from instead of uploading them. */
  mountFrom?: string[];
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
}

const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * `ocipush push`: every blob the repository lacks (mounted where it can be), then the manifest
 * under its tag, strictly last, then the other tags.
 */
export function push(options: PushOptions): Promise<PushResult> {
  return libraryCall(`push ${options.to}`, options.signal, async () => {
    const { parseReference } = await import('../oci/reference.js');
    const { OciLayout } = await import('../content/layout.js');
    const { selectLayoutImage } = await import('../transports/layout-reference.js');
    const { Repository } = await import('../registry/repository.js');
    const { copyGraph } = await import('../transfer/copy-graph.js');
    const { LazyBlobs } = await import('../transfer/lazy-blobs.js');
    const destination = parseReference(options.to);
    const alsoTag = options.alsoTag ?? [];
    for (const t of alsoTag) if (!TAG.test(t)) throw new OcipushError('EUSAGE', `alsoTag "${t}": not a valid tag`);
    if (options.chunkSize !== undefined && !(Number.isSafeInteger(options.chunkSize) && options.chunkSize >= 1024)) {
      throw new OcipushError('EUSAGE', `chunkSize ${options.chunkSize}: a whole number of bytes, at least 1024`);
    }
    const concurrency = concurrencyOf(options);
    const mountFrom = (options.mountFrom ?? []).map((m) => {
      const ref = parseReference(m.startsWith(`${destination.registry}/`) ? m : `${destination.registry}/${m}`);
      if (ref.registry !== destination.registry) throw new OcipushError('EUSAGE', `mountFrom ${m}: blobs can only be mounted from the same registry (${destination.registry})`);
      return ref.repository;
    });

    const layout = await OciLayout.open(options.layout ?? defaultLayoutDir());
    const root = await selectLayoutImage(layout, { ...(options.tag !== undefined ? { tag: options.tag } : {}), destination });
    if (destination.digest && destination.digest !== root.digest) {
      throw new OcipushError('EUSAGE', `${options.to}: the image to push has digest ${root.digest}, not ${destination.digest}`);
    }
    const tag = destination.digest ? destination.tag : (destination.tag ?? 'latest');
    const { baseRepositories } = await import('../transfer/base-repositories.js');
    mountFrom.push(...await baseRepositories(layout, root, destination.registry, destination.repository));

    const client = await connectWith(destination.registry, options);
    const unhook = abortWith(options.signal, client);
    // Base layers a build only referenced: mounted from the base's repository in this registry,
    // else fetched from it (verified, kept in the layout) to be uploaded.
    const source = new LazyBlobs(layout, { shared: [client], connect: (registry) => connectWith(registry, options) });
    try {
      const baseMounts = await source.mountLookup(destination.registry);
      await client.ping();
      const repository = new Repository(client, destination.repository, options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {});
      const result = await copyGraph(source, repository, root, {
        concurrency,
        ...(tag !== undefined ? { rootReference: tag } : {}),
        mountFrom: (desc) => [...new Set([...mountFrom, ...baseMounts(desc)])],
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      for (const extra of alsoTag) await repository.tag(root, extra);
      const pushed = result.nodes.filter((n) => (n.kind === 'layer' || n.kind === 'config') && n.outcome !== 'skipped');
      await source.remember(pushed.map((n) => n.descriptor), `${destination.registry}/${destination.repository}`).catch(() => {
        // A read-only layout: the push is done all the same, later pushes just upload.
      });
      await source.close();
      await client.close();
      const where = `${destination.registry}/${destination.repository}`;
      return {
        digest: root.digest,
        size: root.size,
        mediaType: root.mediaType,
        reference: `${where}${tag ? `:${tag}` : ''}@${root.digest}`,
        tags: [...(tag ? [tag] : []), ...alsoTag],
        blobs: result.nodes.filter((n) => n.descriptor.digest !== root.digest).map((n) => ({ descriptor: n.descriptor, kind: n.kind, outcome: n.outcome })),
      };
    } catch (err) {
      await source.close();
      await client.destroy();
      throw err;
    } finally {
      unhook();
    }
  });
}
