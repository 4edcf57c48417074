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
    // A digest finds one platform's image under an index too (layout.resolve), as a registry serves any manifest by digest.
    return await work(layout, await layout.resolve(target.name));
  } finally {
    await layout.close();
  }
}
