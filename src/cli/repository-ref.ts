import { usageError } from './command.js';
import { clientFromFlags, type RegistryFlags } from './registry-options.js';
import type { Reference } from '../oci/reference.js';
import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import type { OciLayout } from '../content/layout.js';
import type { Descriptor } from '../oci/descriptor.js';

/** A registry reference for the verbs that only speak to registries (`docker://` accepted). */
export async function registryReference(text: string, what = 'reference'): Promise<Reference> {
  if (/^(oci|oci-archive|docker-archive):/.test(text)) throw usageError(`${text}: this ${what} must be a registry (REGISTRY/REPOSITORY[:TAG|@DIGEST])`);
  const { parseReference } = await import('../oci/reference.js');
  return parseReference(text.startsWith('docker://') ? text.slice('docker://'.length) : text);
}

/** Runs `work` with a client for the reference's registry: closed after, torn down on failure. */
export async function withRepository<T>(ref: Reference, flags: RegistryFlags, work: (repository: Repository, client: RegistryClient) => Promise<T>): Promise<T> {
  const { Repository } = await import('../registry/repository.js');
  const client = await clientFromFlags(ref.registry, flags);
  try {
    const result = await work(new Repository(client, ref.repository), client);
    await client.close();
    return result;
  } catch (err) {
    await client.destroy();
    throw err;
  }
}

/** A layout and the name in it a verb works on. */
export interface LayoutTarget {
  path: string;
  /** A name (or digest) in index.json; none: the layout's only image. */
  name?: string;
  /** As given, for messages. */
  text: string;
}

/**
 * The layout a verb works in — `oci:DIR[:NAME]`, or a directory holding an `oci-layout`, as
 * oras's `--oci-layout` — or undefined for a registry reference. An archive is refused: it is
 * read in place, never written to.
 */
export async function layoutTarget(text: string, verb: string): Promise<LayoutTarget | undefined> {
  const { parseTransport } = await import('../transports/parse.js');
  const location = parseTransport(text);
  if (location.transport === 'oci') return { path: location.path, text: location.text, ...(location.name !== undefined ? { name: location.name } : {}) };
  if (location.transport !== 'registry') throw usageError(`${text}: ${verb} works on a registry or an OCI layout (oci:DIR[:NAME]), not an archive`);
  return undefined;
}

/** How messages name the image `digest` of a layout target: `oci:DIR[:NAME]@DIGEST`, the digest once when the target already names it. */
export function layoutImageName(target: Pick<LayoutTarget, 'text' | 'name'>, digest: string): string {
  return target.name === digest ? target.text : `${target.text}@${digest}`;
}

/** Runs `work` with the layout and what its name resolves to (without one, its only image); the layout is closed after. */
export async function withLayout<T>(target: LayoutTarget, work: (layout: OciLayout, root: Descriptor) => Promise<T>): Promise<T> {
  const { OciLayout } = await import('../content/layout.js');
  const layout = await OciLayout.open(target.path);
  try {
    return await work(layout, await resolveInLayout(layout, target.name));
  } finally {
    await layout.close();
  }
}

/**
 * A name of index.json, or the digest of a manifest under an index it names (one platform's
 * image): `attach oci:DIR@sha256:…` of the arm64 image of a multi-platform build, as a registry
 * serves that manifest by its digest. The layout keeps such a referrer: its subject is named.
 */
async function resolveInLayout(layout: OciLayout, name: string | undefined): Promise<Descriptor> {
  try {
    return await layout.resolve(name);
  } catch (err) {
    const [{ OcipushError }, { isDigest }] = await Promise.all([import('../errors.js'), import('../oci/digest.js')]);
    if (!(err instanceof OcipushError && err.code === 'ENOTFOUND' && name !== undefined && isDigest(name))) throw err;
    const [{ readManifest }, { isIndexMediaType }] = await Promise.all([import('../image/load.js'), import('../oci/media-types.js')]);
    let level = (await layout.readIndex()).manifests.filter((d) => isIndexMediaType(d.mediaType));
    // Indexes nest a few levels at most (BuildKit's, Docker's image store): a bound, never a loop.
    for (let depth = 0; depth < 4 && level.length > 0; depth++) {
      const next: Descriptor[] = [];
      for (const entry of level) {
        if (!(await layout.exists(entry))) continue;
        const { parsed } = await readManifest(layout, entry, { name: layout.root });
        if (!('manifests' in parsed)) continue;
        const found = parsed.manifests.find((d) => d.digest === name);
        if (found) return found;
        next.push(...parsed.manifests.filter((d) => isIndexMediaType(d.mediaType)));
      }
      level = next;
    }
    throw err;
  }
}
