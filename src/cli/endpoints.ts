import type { Descriptor } from '../oci/descriptor.js';
import { isRegistryLocated, isTagResolver, type ReadOnlyStorage, type RegistryLocated, type Storage } from '../content/storage.js';
import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import type { ArchiveWriter } from '../archive/archive-writer.js';
import type { OciLayout } from '../content/layout.js';
import { sourceTag, type ImageLocation } from '../transports/parse.js';
import type { OpenOptions } from '../transports/open.js';

/**
 * The two ends of a copy, in skopeo's transport syntax (transports/parse.ts): a registry
 * (`host/repo[:tag|@digest]`, also `docker://…`), `oci:DIR[:NAME]`, `oci-archive:FILE[:NAME]`,
 * `docker-archive:FILE[:NAME:TAG]`. Sources open through transports/open.ts; destinations are a
 * registry repository, a layout, or an archive written as the copy goes (archive-writer.ts).
 */
export type Endpoint = ImageLocation;

/**
 * `as: 'destination'` also checks the name an image gets in a layout or an archive, before
 * anything is opened or made, as skopeo checks it.
 */
export async function parseEndpoint(text: string, options: { as?: 'destination' } = {}): Promise<Endpoint> {
  const { parseTransport } = await import('../transports/parse.js');
  let endpoint = parseTransport(text);
  // docker-archive:- is stdout, as -o - is for export (a file named - is ./-).
  if (options.as === 'destination' && (endpoint.transport === 'docker-archive' || endpoint.transport === 'oci-archive') && endpoint.path === '-') endpoint = { ...endpoint, path: '/dev/stdout' };
  if (options.as !== 'destination' || endpoint.transport === 'registry' || endpoint.name === undefined) return endpoint;
  if (endpoint.transport === 'docker-archive') {
    // A RepoTag podman load and docker load can read, or the copy would fail once every blob is written.
    const { normaliseRepoTag } = await import('../archive/names.js');
    normaliseRepoTag(endpoint.name, `${text}: image name "${endpoint.name}"`);
    return endpoint;
  }
  const [{ isLayoutRefName }, { OcipushError }, { isDigest }] = await Promise.all([import('../oci/reference.js'), import('../errors.js'), import('../oci/digest.js')]);
  // oci:DIR@sha256:… puts the image with that digest in the layout by digest, as a registry destination's digest does.
  if (endpoint.transport === 'oci' && isDigest(endpoint.name)) return endpoint;
  // As skopeo and build --tag check it: umoci, skopeo and podman load cannot name such an image;
  // and as tag checks it: a name like a digest would hide the image that has that digest.
  if (!isLayoutRefName(endpoint.name) || /^sha(256|512):/.test(endpoint.name)) {
    const where = endpoint.transport === 'oci' ? 'a layout' : 'an OCI archive';
    throw new OcipushError('EUSAGE', `${text}: "${endpoint.name}" is not a name for an image in ${where} (letters and digits, joined by - . _ : @ + or /; a digest is sha256: and 64 hex digits)`);
  }
  return endpoint;
}

/** The digest an `oci:DIR@sha256:…` destination names (the image it must be), if it names one. */
export function layoutDigest(endpoint: Endpoint): Descriptor['digest'] | undefined {
  return endpoint.transport === 'oci' && endpoint.name !== undefined && /^sha(256|512):/.test(endpoint.name) ? endpoint.name as Descriptor['digest'] : undefined;
}

/** An opened source: its storage, the root it names, and the root's bytes. */
export interface OpenedSource {
  endpoint: Endpoint;
  /** For messages: `registry/repo:tag`, `oci:DIR:NAME` … */
  name: string;
  storage: ReadOnlyStorage;
  root: Descriptor;
  rootBytes: Buffer;
  /** The tag the source names, to default the destination's. */
  tag?: string;
  /** Where a registry source lives (for mounts within one registry). */
  located?: RegistryLocated;
  /** A layout source's layout (its OCI 1.1 referrers, its attestations). */
  layout?: OciLayout;
  close(): Promise<void>;
}

export interface SourceOptions extends Pick<OpenOptions, 'keep' | 'everyImage'> {
  /** A registry client for a registry (made, cached and closed by the caller). */
  connect: (registry: string) => Promise<RegistryClient>;
}

export async function openSource(endpoint: Endpoint, options: SourceOptions): Promise<OpenedSource> {
  const { openLocation } = await import('../transports/open.js');
  const { readManifest } = await import('../image/load.js');
  const { connect, ...how } = options;
  // The clients are the caller's (cached per registry, the destination's among them): a lazy
  // layout's base layers are read through them, and they stay open when the source closes.
  const opened = await openLocation(endpoint, { connect, ...how, callerClosesClients: true });
  // The caller owns registry clients (a source and a destination may share one).
  const close = endpoint.transport === 'registry' ? async () => {} : () => opened.close();
  try {
    const { descriptor, bytes } = await readManifest(opened.storage, opened.root, { name: opened.name });
    const tag = sourceTag(endpoint);
    return {
      endpoint, name: opened.name, storage: opened.storage, root: descriptor, rootBytes: bytes,
      ...(tag ? { tag } : {}),
      ...(isRegistryLocated(opened.storage) ? { located: opened.storage } : {}),
      ...(opened.layout ? { layout: opened.layout } : {}),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** An opened destination; `finish` completes it (an archive is renamed into place), `abort` undoes it. */
export interface OpenedDestination {
  endpoint: Endpoint;
  name: string;
  storage: Storage;
  /** The name the root gets (a tag, a layout ref.name, an archive's RepoTag). */
  reference?: string;
  repository?: Repository;
  /** A layout destination (where copied OCI 1.1 referrers are listed). */
  layout?: OciLayout;
  writer?: ArchiveWriter;
  finish(root: Descriptor): Promise<void>;
  abort(): Promise<void>;
}

export async function openDestination(endpoint: Endpoint, source: OpenedSource, options: SourceOptions): Promise<OpenedDestination> {
  const nothing = async () => {};
  switch (endpoint.transport) {
    case 'registry': {
      const { formatReference } = await import('../oci/reference.js');
      const { Repository } = await import('../registry/repository.js');
      const ref = endpoint.reference;
      const repository = new Repository(await options.connect(ref.registry), ref.repository, { destination: true });
      const reference = ref.digest ? ref.tag : (ref.tag ?? source.tag ?? 'latest');
      return { endpoint, name: formatReference({ ...ref, ...(reference ? { tag: reference } : {}) }), storage: repository, ...(reference ? { reference } : {}), repository, finish: nothing, abort: nothing };
    }
    case 'oci': {
      const { OciLayout } = await import('../content/layout.js');
      const layout = await OciLayout.open(endpoint.path, { create: true });
      const digest = layoutDigest(endpoint);
      const reference = digest ? undefined : endpoint.name ?? source.tag ?? 'latest';
      // A copy that made the layout and failed leaves no empty layout behind, as a pull does.
      return {
        endpoint, name: reference ? `oci:${endpoint.path}:${reference}` : `oci:${endpoint.path}@${digest}`, storage: layout,
        ...(reference ? { reference } : {}), layout, finish: nothing, abort: () => layout.discardIfCreated(),
      };
    }
    case 'oci-archive':
    case 'docker-archive': {
      const { ArchiveWriter } = await import('../archive/archive-writer.js');
      const writer = await ArchiveWriter.create(endpoint.path, endpoint.transport);
      const reference = endpoint.name ?? (endpoint.transport === 'oci-archive' ? ociArchiveName(source) : registryName(source));
      return {
        endpoint, name: endpoint.text, storage: writer, ...(reference ? { reference } : {}), writer,
        finish: (root) => writer.finish(root), abort: () => writer.abort(),
      };
    }
  }
}

/** A registry source's whole reference (`host/repo:tag`), the name an archive gives its image. */
function registryName(source: OpenedSource): string | undefined {
  const from = source.endpoint;
  return from.transport === 'registry' && source.tag ? `${from.reference.registry}/${from.reference.repository}:${source.tag}` : undefined;
}

/**
 * The ref.name of an oci-archive given none. podman load reads it as the image's name, so a
 * registry source keeps its whole reference (as a docker archive's RepoTag does) and an archive
 * or layout image named `host/repo:tag` (as podman save and skopeo name them) that name, never
 * its bare tag (`1` would load as `localhost/1:latest`); a layout's name stays as the layout has
 * it (`oci:DIR:app` → `app`, `oci:DIR:localhost/app:1` → `localhost/app:1`).
 */
function ociArchiveName(source: OpenedSource): string | undefined {
  const from = source.endpoint;
  if (from.transport === 'registry') return registryName(source);
  // (An image named by `@N` or a digest has no tag: it stays unnamed.)
  if (from.name !== undefined && source.tag !== undefined) return from.name;
  return source.tag;
}

/** Whether a source storage can name tags (cosign's referrer tags are looked up with it). */
export function canResolveTags(storage: ReadOnlyStorage): boolean {
  return isTagResolver(storage);
}
