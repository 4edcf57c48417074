import { clientFromFlags, type RegistryFlags } from './registry-options.js';
import type { OpenedSource, SourceOptions } from './endpoints.js';
import type { RegistryClient } from '../registry/http.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';

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

export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** `--platform`, checked against the spec's values before any request (`--unlisted-platform` takes any). */
export async function platformFlag(value: string | undefined, unlisted?: boolean): Promise<Platform | undefined> {
  if (value === undefined) return undefined;
  const [{ parsePlatform }, { checkPlatform }] = await Promise.all([import('../oci/descriptor.js'), import('./platform-option.js')]);
  return parsePlatform(checkPlatform(value, unlisted)!);
}
