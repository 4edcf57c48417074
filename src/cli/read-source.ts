import { clientFromFlags, type RegistryFlags } from './registry-options.js';
import type { OpenedSource, SourceOptions } from './endpoints.js';
import type { RegistryClient } from '../registry/http.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import type { ReadOnlyStorage } from '../content/storage.js';

/** Opens any source (registry, oci:, oci-archive:, docker-archive:), runs `work`, and closes it. */
export async function withSource<T>(
  text: string, flags: RegistryFlags, work: (source: OpenedSource) => Promise<T>, how: Pick<SourceOptions, 'keep' | 'everyImage'> = {},
): Promise<T> {
  const { parseEndpoint, openSource } = await import('./endpoints.js');
  const endpoint = await parseEndpoint(text);
  const clients: RegistryClient[] = [];
  try {
    const source = await openSource(endpoint, {
      ...how,
      connect: async (registry) => {
        const client = await clientFromFlags(registry, flags);
        clients.push(client);
        return client;
      },
    });
    const result = await work(source);
    for (const c of clients) await c.close();
    return result;
  } catch (err) {
    for (const c of clients) await c.destroy();
    throw err;
  }
}

/**
 * The root, or the manifest of an index for `platform`, with its exact bytes. A single image of
 * another platform is refused, as pull --platform and oras manifest fetch --platform refuse it:
 * `digest --platform linux/arm64` must never answer an amd64 image's digest.
 */
export async function manifestFor(source: OpenedSource, platform: Platform | undefined): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
  if (!platform) return { descriptor: source.root, bytes: source.rootBytes };
  const [{ platformManifest, readManifest }, { noManifestFor }] = await Promise.all([import('../image/load.js'), import('../image/platform.js')]);
  const chosen = await platformManifest(source.storage, { descriptor: source.root, bytes: source.rootBytes }, { name: source.name, platform, noMatch: noManifestFor(source.name), requirePlatform: true });
  if (chosen.digest === source.root.digest) return { descriptor: source.root, bytes: source.rootBytes };
  const { bytes } = await readManifest(source.storage, chosen, { name: source.name });
  return { descriptor: chosen, bytes };
}

/**
 * The manifest a layout or archive reference names, its exact bytes (bounded, verified against
 * the digest by the storage) and not parsed: manifest and digest print any manifest there, as
 * crane and oras do, one of a kind ocipush does not read too (an artifact manifest oras 1.0
 * release candidates wrote, `application/vnd.oci.artifact.manifest.v1+json`, with no
 * schemaVersion, which gc keeps). undefined for a registry, whose bytes are read as served.
 */
export async function storedRootBytes(text: string, flags: RegistryFlags): Promise<{ descriptor: Descriptor; bytes: Buffer } | undefined> {
  const { parseEndpoint } = await import('./endpoints.js');
  const endpoint = await parseEndpoint(text);
  if (endpoint.transport === 'registry') return undefined;
  const [{ openLocation }, { MAX_MANIFEST_BYTES, readSmall }, { missingEntryError }, { OcipushError }] = await Promise.all([
    import('../transports/open.js'), import('../content/verify.js'), import('../oci/descriptor.js'), import('../errors.js'),
  ]);
  // A lazy layout's base layers live in registries; a manifest is never one of them.
  const opened = await openLocation(endpoint, { connect: (registry) => clientFromFlags(registry, flags) });
  try {
    const root = opened.root;
    const where = `${opened.name}: manifest ${root.digest}`;
    if (root.size > MAX_MANIFEST_BYTES) throw new OcipushError('EINVALID', `${where}: ${root.size} bytes is too large`);
    const body = await opened.storage.fetch(root).catch((err: unknown) => { throw missingEntryError(err, root, (platform) => `${opened.name} names it for ${platform}`); });
    return { descriptor: root, bytes: await readSmall(body, MAX_MANIFEST_BYTES, where) };
  } finally {
    await opened.close();
  }
}

/**
 * A registry manifest's bytes as served, one GET, a Docker schema 1 manifest's too (nothing in
 * them is read, as crane manifest and skopeo inspect --raw print them); undefined for a source
 * that is no registry.
 */
export async function registryManifestBytes(text: string, flags: RegistryFlags): Promise<Buffer | undefined> {
  const { parseEndpoint } = await import('./endpoints.js');
  const endpoint = await parseEndpoint(text);
  if (endpoint.transport !== 'registry') return undefined;
  const [{ withRepository }, { referenceTarget }] = await Promise.all([import('./repository-ref.js'), import('../oci/reference.js')]);
  const fetched = await withRepository(endpoint.reference, flags, (repository) => repository.fetchManifest(referenceTarget(endpoint.reference), { keepSchema1: true }));
  return fetched.bytes;
}

/**
 * An image's config bytes as stored (bounded). A blob that cannot be read is said as the image's
 * config: a registry's own words name only its host and the blob ('localhost:5000: fetch blob
 * sha256:…: 404'), not which repository, nor that it is the config.
 */
export async function configBytes(storage: ReadOnlyStorage, config: Descriptor, name: string): Promise<Buffer> {
  const [{ MAX_CONFIG_BYTES, readSmall }, { isOcipushError, OcipushError }] = await Promise.all([import('../content/verify.js'), import('../errors.js')]);
  const where = `${name}: config ${config.digest}`;
  try {
    return await readSmall(await storage.fetch(config), MAX_CONFIG_BYTES, where);
  } catch (err) {
    if (isOcipushError(err) && !err.message.startsWith(where)) throw new OcipushError(err.code, `${where}: ${err.message}`, { ...err.details, cause: err });
    throw err;
  }
}

/** `--platform`, checked against the spec's values before any request (`--unlisted-platform` takes any). */
export async function platformFlag(value: string | undefined, unlisted?: boolean): Promise<Platform | undefined> {
  if (value === undefined) return undefined;
  const [{ parsePlatform }, { checkPlatform }] = await Promise.all([import('../oci/descriptor.js'), import('./platform-option.js')]);
  return parsePlatform(checkPlatform(value, unlisted)!);
}
