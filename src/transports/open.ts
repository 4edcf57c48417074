import { resolve as resolvePath } from 'node:path';
import type { Descriptor } from '../oci/descriptor.js';
import { formatReference, referenceTarget, type Reference } from '../oci/reference.js';
import { OciLayout } from '../content/layout.js';
import { withBlobs } from '../content/with-blobs.js';
import { sha256 } from '../oci/digest.js';
import { encodeJson } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { OperationOptions, ReadOnlyStorage } from '../content/storage.js';
import { defaultConnect, LazyBlobs, type ConnectRegistry } from '../transfer/lazy-blobs.js';
import { parseTransport, type ImageLocation } from './parse.js';

export interface OpenOptions extends OperationOptions {
  /** How to reach registries (the source's, and those a layout's lazy base layers live in). */
  connect?: ConnectRegistry;
  /** false: a layout's recorded blobs are read from their registry but not kept in it (a check writes nothing). */
  keep?: boolean;
  /** `oci:DIR` without a name is every image of the layout: its index.json seen as an index over them. */
  everyImage?: boolean;
  /** `connect`'s clients are the caller's to close (a copy's, shared with its destination): the layout's view never closes them. */
  callerClosesClients?: boolean;
}

/** A storage opened at what a reference names: read the image with image/load.ts over `storage` from `root`. */
export interface OpenedImage {
  location: ImageLocation;
  storage: ReadOnlyStorage;
  /** The descriptor the reference resolves to (a manifest or an index). */
  root: Descriptor;
  /** The reference as it reads in messages. */
  name: string;
  /** For `oci:`: the layout itself (its referrers, its names). */
  layout?: OciLayout;
  close(): Promise<void>;
}

/**
 * Opens what a user typed — `registry/repo[:tag|@digest]` (also `docker://…`), `oci:DIR[:name]`
 * or a layout directory, `oci-archive:FILE[:name]`, `docker-archive:FILE[:name:tag|@N]` — as a
 * storage and the descriptor it names, ready for the one loader. A layout is seen with its
 * lazily referenced base layers (read through from their registries when needed).
 */
export async function openImage(text: string, options: OpenOptions = {}): Promise<OpenedImage> {
  return openLocation(parseTransport(text), options);
}

export async function openLocation(location: ImageLocation, options: OpenOptions = {}): Promise<OpenedImage> {
  const connect = options.connect ?? defaultConnect;
  switch (location.transport) {
    case 'registry':
      return openRegistry(location.reference, connect, options, options.callerClosesClients === true);
    case 'oci': {
      const layout = await OciLayout.open(location.path);
      const storage = new LazyBlobs(layout, { connect, ...(options.keep === false ? { keep: false } : {}), ...(options.callerClosesClients ? { callerClosesClients: true } : {}) });
      const name = `oci:${location.path}${location.name ? `:${location.name}` : ''}`;
      if (location.name === undefined && options.everyImage) {
        // index.json as read, re-encoded: an index no registry holds, made for one walk over every image.
        const bytes = encodeJson(await layout.readIndex());
        const root: Descriptor = { mediaType: MediaType.OciIndex, digest: sha256(bytes), size: bytes.length };
        return { location, storage: withBlobs(storage, [{ descriptor: root, bytes }]), root, name, layout, close: () => storage.close() };
      }
      return { location, storage, root: await layout.resolve(location.name), name, layout, close: () => storage.close() };
    }
    case 'oci-archive': {
      const { OciArchiveReader } = await import('../archive/oci-archive-reader.js');
      const archive = await OciArchiveReader.open(archivePath(location.path));
      return { location, storage: archive, root: await archive.resolve(location.name), name: location.text, close: () => archive.close() };
    }
    case 'docker-archive': {
      const { DockerArchiveReader } = await import('../archive/docker-archive-reader.js');
      const archive = await DockerArchiveReader.open(archivePath(location.path));
      return { location, storage: archive, root: await archive.resolve(location.name), name: location.text, close: () => archive.close() };
    }
  }
}

/** An archive's file; `-` stays itself, stdin to TarIndex. */
function archivePath(path: string): string {
  return path === '-' ? path : resolvePath(path);
}

async function openRegistry(reference: Reference, connect: ConnectRegistry, options: OperationOptions, callerClosesClient: boolean): Promise<OpenedImage> {
  const { Repository } = await import('../registry/repository.js');
  const client = await connect(reference.registry);
  try {
    const repository = new Repository(client, reference.repository);
    // One GET by tag gives the digest and the bytes (kept by the repository for the loader's read).
    const { descriptor } = await repository.fetchManifest(referenceTarget(reference), options.signal ? { signal: options.signal } : {});
    return {
      location: { transport: 'registry', reference, text: formatReference(reference) },
      storage: repository,
      root: descriptor,
      name: formatReference(reference),
      close: callerClosesClient ? async () => {} : () => client.close().catch(() => {}),
    };
  } catch (err) {
    // A caller's client is shared (copy --all-tags opens every tag through it): one tag that
    // cannot be read must not cut the copies of the others still under way.
    if (!callerClosesClient) await client.close().catch(() => {});
    throw err;
  }
}
