import type { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import type { OciLayout } from '../content/layout.js';
import type { MountLookup, OperationOptions, ReadOnlyStorage, ReferrerLister, TagResolver } from '../content/storage.js';
import { isForeignLayer, type Descriptor } from '../oci/descriptor.js';
import type { RegistryClient } from '../registry/http.js';
import { fileSource, type BlobSource } from '../content/blob-source.js';
import { listLayoutReferrers } from '../content/layout-referrers.js';
import { forgetRemoteBlobs, readRemoteBlobs, recordRemoteBlobs, type RemoteBlobRecord } from '../content/remote-blobs.js';

/** Opens a client for a registry host (credentials, TLS and retries as the caller wants them). */
export type ConnectRegistry = (registry: string) => Promise<RegistryClient> | RegistryClient;

export interface LazyBlobsOptions {
  /** How to reach the registries base layers live in; default: anonymous or Docker-config credentials. */
  connect?: ConnectRegistry;
  /** Told before a blob is downloaded from its base registry (for a progress line). */
  onDownload?: (desc: Descriptor, from: string) => void;
  /** Clients the caller already has (e.g. the push destination's): used for their registries, never closed here. */
  shared?: RegistryClient[];
  /**
   * The clients `connect` gives are the caller's, cached and closed by it (a copy's, one per
   * registry and side, which its destination may share): used here, never closed here.
   */
  callerClosesClients?: boolean;
  /**
   * false: a recorded blob is read from its registry (verified) and `exists` asks the registry,
   * but nothing is written into the layout (a check, `validate`, leaves a lazy layout lazy).
   */
  keep?: boolean;
}

/** The default connection: credentials from the environment and the Docker config, default TLS. */
export async function defaultConnect(registry: string): Promise<RegistryClient> {
  const { connectRegistry } = await import('../registry/connect.js');
  const { lazyDefaultCredentials } = await import('../registry/credentials/lazy.js');
  return connectRegistry(registry, { credentials: lazyDefaultCredentials({ registry }) });
}

/**
 * A layout seen with the blobs it names but does not hold: the layers of registry base images,
 * which builds reference without downloading (see remote-blobs.ts). Reading such a blob
 * downloads it from the repository recorded for it, verified against its digest, into the
 * layout: each is fetched once and kept. A blob that is neither here nor recorded anywhere is a
 * clear error naming it.
 *
 * Used as the source of a push (copyGraph, with `mountRepositories` so that a push to the base's
 * registry mounts instead of downloading); without `keep`, by the reading verbs (validate, export,
 * rootfs, sbom), which stream such blobs from their registry and write nothing into the layout.
 */
export class LazyBlobs implements ReadOnlyStorage, TagResolver, ReferrerLister, MountLookup {
  private record: Promise<RemoteBlobRecord> | undefined;
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  private readonly downloads = new Map<string, Promise<void>>();
  /** Clients for the hosts of foreign layers' URLs (anonymous, owned and closed here). */
  private readonly anonymous = new Map<string, RegistryClient>();
  /** Blobs downloaded so far, for a summary. */
  readonly downloaded: Descriptor[] = [];

  constructor(readonly layout: OciLayout, private readonly options: LazyBlobsOptions = {}) {}

  /** Here, or recorded as fetchable (without `keep`: there, at its size, as the registry answers). */
  async exists(desc: Descriptor): Promise<boolean> {
    if (await this.layout.exists(desc)) return true;
    if (this.options.keep !== false) return (await this.sourcesOf(desc)).length > 0;
    await this.refuseDamaged(desc);
    const { blobSize } = await import('../registry/blob-info.js');
    return this.fromSources(desc, async (client, repository) => (await blobSize(client, repository, desc.digest)) === desc.size).catch((err: unknown) => {
      if (err instanceof OcipushError && err.code === 'ENOTFOUND') return false;
      throw err;
    });
  }

  async fetch(desc: Descriptor, options: OperationOptions = {}): Promise<Readable> {
    if (this.options.keep === false && !(await this.layout.exists(desc))) {
      await this.refuseDamaged(desc);
      if (await this.onlyAtUrls(desc)) return this.fromUrls(desc, options.signal);
      const { fetchBlob } = await import('../registry/blobs.js');
      return this.fromSources(desc, (client, repository) => fetchBlob(client, repository, desc, options.signal ? { signal: options.signal } : {}));
    }
    await this.ensure(desc, options);
    return this.layout.fetch(desc);
  }

  /**
   * Without `keep` (validate): a file of the wrong size is the layout's own damage, said as such
   * (EDIGEST), not passed over for the registry's copy; only a blob the layout has no file for is
   * checked where it is recorded.
   */
  private async refuseDamaged(desc: Descriptor): Promise<void> {
    const err = await this.layout.unusableBlobError(desc);
    if (err.code === 'EDIGEST') throw err;
  }

  /** The blob as an upload source: read from the layout's file (by range for chunks), downloaded first if needed. */
  blobSource(desc: Descriptor): BlobSource {
    const local = fileSource(this.layout.blobPath(desc.digest), desc);
    return {
      size: desc.size,
      open: async () => { await this.ensure(desc); return local.open(); },
      openRange: async (start, end) => { await this.ensure(desc); return local.openRange(start, end); },
    };
  }

  /** `registry/repository` of every repository recorded as holding the blob, newest first. */
  async sourcesOf(desc: Pick<Descriptor, 'digest'>): Promise<string[]> {
    this.record ??= readRemoteBlobs(this.layout.root);
    return (await this.record).get(desc.digest) ?? [];
  }

  /** Repositories of `registry` recorded as holding the blob: where a push to that registry mounts it from. */
  async mountRepositories(desc: Pick<Descriptor, 'digest'>, registry: string): Promise<string[]> {
    return (await this.sourcesOf(desc)).map(splitSource).filter((s) => s.registry === registry).map((s) => s.repository);
  }

  /** A synchronous lookup of `mountRepositories` (copyGraph asks for each blob as it goes). */
  async mountLookup(registry: string): Promise<(desc: Pick<Descriptor, 'digest'>) => string[]> {
    this.record ??= readRemoteBlobs(this.layout.root);
    const record = await this.record;
    return (desc) => (record.get(desc.digest) ?? []).map(splitSource).filter((s) => s.registry === registry).map((s) => s.repository);
  }

  /** Whether the layout holds the blob itself. */
  isLocal(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    return this.layout.exists(desc);
  }

  /** Makes sure the layout holds the blob, downloading it (verified) when it is only recorded. Concurrent calls share one download. */
  async ensure(desc: Descriptor, options: OperationOptions = {}): Promise<void> {
    if (await this.layout.exists(desc)) return;
    let pending = this.downloads.get(desc.digest);
    if (!pending) {
      pending = this.download(desc, options.signal);
      this.downloads.set(desc.digest, pending);
      pending.catch(() => this.downloads.delete(desc.digest));
    }
    await pending;
  }

  /** Notes that `repository` (registry/name) holds these blobs. */
  async remember(blobs: Pick<Descriptor, 'digest'>[], repository: string): Promise<void> {
    // Already noted, newest first, in the record as read for this push (a re-push): no lock, no write.
    const known = await this.record?.catch(() => undefined);
    if (known && blobs.every((b) => known.get(b.digest)?.[0] === repository)) return;
    await recordRemoteBlobs(this.layout.root, blobs.map((b) => ({ digest: b.digest, repository })));
    this.record = undefined;
  }

  /**
   * Forgets that these repositories (registry/name) hold these blobs, for the blobs the layout
   * holds itself: there the record was only a hint where to mount from. A blob the layout lacks
   * keeps its sources, the only places its bytes can come from.
   */
  async forgetMountSources(entries: { descriptor: Descriptor; repository: string }[]): Promise<void> {
    const local: { digest: Descriptor['digest']; repository: string }[] = [];
    for (const { descriptor, repository } of entries) if (await this.layout.exists(descriptor)) local.push({ digest: descriptor.digest, repository });
    if (local.length === 0) return;
    await forgetRemoteBlobs(this.layout.root, local);
    this.record = undefined;
  }

  /**
   * A name of the layout's index.json (a tag; cosign's `sha256-<hex>.sig`, which a copy from a
   * registry keeps): so a copy out of the layout finds the signatures stored beside the image.
   */
  resolve(reference: string): Promise<Descriptor> {
    return this.layout.resolve(reference);
  }

  tag(desc: Descriptor, reference: string): Promise<void> {
    return this.layout.tag(desc, reference);
  }

  /** The OCI 1.1 referrers the layout lists for `desc` (an SBOM a build made, those a copy brought): a copy out of the layout takes them along. */
  referrers(desc: Descriptor, options: { artifactType?: string } = {}): Promise<Descriptor[]> {
    return listLayoutReferrers(this.layout, desc, options.artifactType);
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    for (const c of this.anonymous.values()) await c.close().catch(() => {});
    this.anonymous.clear();
    if (this.options.callerClosesClients) return;
    for (const c of clients) await (await c.catch(() => undefined))?.close().catch(() => {});
  }

  /**
   * Downloads the blob from the first recorded repository that has it. Retries are the registry
   * transport's (its retry policy, and a download that breaks resumes from the byte it reached).
   */
  private async download(desc: Descriptor, signal?: AbortSignal): Promise<void> {
    if (await this.onlyAtUrls(desc)) {
      await this.layout.push(desc, await this.fromUrls(desc, signal));
      this.downloaded.push(desc);
      return;
    }
    const { fetchBlob } = await import('../registry/blobs.js');
    await this.fromSources(desc, async (client, repository, source) => {
      this.options.onDownload?.(desc, source);
      await this.layout.push(desc, await fetchBlob(client, repository, desc, { signal }));
      this.downloaded.push(desc);
    });
  }

  /** A foreign layer the layout goes without and no repository is recorded for (a pull leaves it out, as skopeo does). */
  private async onlyAtUrls(desc: Descriptor): Promise<boolean> {
    return isForeignLayer(desc) && (await this.sourcesOf(desc)).length === 0;
  }

  /** Such a layer read from its urls (verified), as skopeo reads it from an OCI layout. */
  private async fromUrls(desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
    const first = desc.urls?.map((u) => (URL.canParse(u) ? new URL(u) : undefined)).find((u) => u?.protocol === 'http:' || u?.protocol === 'https:');
    if (!first) throw await this.layout.unusableBlobError(desc, undefined, ', and none of its urls is http or https');
    this.options.onDownload?.(desc, first.host);
    const { fetchForeignBlob } = await import('../registry/blobs.js');
    return fetchForeignBlob(await this.anonymousClient(first.host), this.layout.root, desc, signal ? { signal } : {});
  }

  /**
   * A client without credentials for a foreign layer's host: its URLs are the image author's, and
   * the caller's connect may carry credentials given for any registry it is asked for (--src-username).
   */
  private async anonymousClient(host: string): Promise<RegistryClient> {
    let client = this.anonymous.get(host);
    if (!client) {
      const { connectRegistry } = await import('../registry/connect.js');
      client = connectRegistry(host);
      this.anonymous.set(host, client);
    }
    return client;
  }

  /** `use` with each repository recorded as holding the blob, in turn, until one succeeds. */
  private async fromSources<T>(desc: Descriptor, use: (client: RegistryClient, repository: string, source: string) => Promise<T>): Promise<T> {
    const sources = await this.sourcesOf(desc);
    if (sources.length === 0) {
      throw await this.layout.unusableBlobError(desc, undefined, ', and no registry is recorded to fetch it from');
    }
    const { networkError } = await import('../registry/errors.js');
    const failures: string[] = [];
    let gone = 0;
    for (const source of sources) {
      const { registry, repository } = splitSource(source);
      let client: RegistryClient;
      try {
        client = await this.client(registry);
      } catch (err) {
        failures.push(`${source}: ${(err as Error).message}`);
        continue;
      }
      try {
        return await use(client, repository, source);
      } catch (err) {
        // Wrong bytes are never worth another try elsewhere: the digest pins the content.
        if (err instanceof OcipushError && err.code === 'EDIGEST') {
          throw new OcipushError('EDIGEST', `base layer ${desc.digest} from ${source}: ${err.message.replace(/^.*?: blob \S+: /, '')}`, { digest: desc.digest, cause: err });
        }
        if (err instanceof OcipushError && err.code === 'EABORTED') throw err;
        // The layout cannot store it (read-only, full): no other source helps, and "cannot be fetched" would mislead.
        if (err instanceof OcipushError && err.code === 'EIO') throw err;
        if (err instanceof OcipushError && err.code === 'ENOTFOUND') gone++;
        failures.push(`${source}: ${(err instanceof OcipushError ? err : networkError(registry, err)).message}`);
      }
    }
    // The record names where the build found the layer: its base image's repository, or the
    // registry layer cache's (--cache-repo). Gone from all of them, only a new build can make it.
    const hint = gone === sources.length ? '; build the image again' : '';
    throw new OcipushError('ENOTFOUND', `blob ${desc.digest} is not in ${this.layout.root} and cannot be fetched from where the build found it (${failures.join('; ')})${hint}`, { digest: desc.digest });
  }

  private client(registry: string): Promise<RegistryClient> {
    const shared = this.options.shared?.find((c) => c.registry === registry);
    if (shared) return Promise.resolve(shared);
    let client = this.clients.get(registry);
    if (!client) {
      const connect = this.options.connect ?? defaultConnect;
      client = Promise.resolve(connect(registry));
      this.clients.set(registry, client);
    }
    return client;
  }
}

/** `127.0.0.1:5000/team/base` → registry `127.0.0.1:5000`, repository `team/base`. */
export function splitSource(source: string): { registry: string; repository: string } {
  const slash = source.indexOf('/');
  return { registry: source.slice(0, slash), repository: source.slice(slash + 1) };
}

/**
 * Downloads (verified) into the layout the blobs among `blobs` that it only references, for a
 * library caller that wants them kept there (export streams them instead, keeping nothing). Blobs neither here nor recorded are left for
 * the caller to report; a foreign layer the layout goes without is read from its urls. Resolves to the number of blobs downloaded.
 */
export async function fetchRecordedBlobs(layout: OciLayout, blobs: Descriptor[], options: LazyBlobsOptions = {}): Promise<number> {
  const lazy = new LazyBlobs(layout, options);
  try {
    for (const blob of blobs) {
      if (await lazy.isLocal(blob)) continue;
      if ((await lazy.sourcesOf(blob)).length === 0 && !isForeignLayer(blob)) continue;
      await lazy.ensure(blob);
    }
    return lazy.downloaded.length;
  } finally {
    await lazy.close();
  }
}
