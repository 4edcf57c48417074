import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { OciLayout } from '../content/layout.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import { listReferrers } from '../registry/referrers.js';
import { Repository } from '../registry/repository.js';
import type { RegistryClient } from '../registry/http.js';
import { defaultConnect, type ConnectRegistry } from '../transfer/lazy-blobs.js';
import { findBaseSbom, type BaseSbom, type BaseSbomSource } from '../supply-chain/sbom/base-sbom.js';
import type { SbomFormat } from '../supply-chain/sbom/index.js';
import type { BaseImage } from './base.js';

interface LookupOptions { prefer: SbomFormat; connect?: ConnectRegistry; warn: (message: string) => void; signal?: AbortSignal }

/** Lookups started while the layers were being written, by base, with the warnings they held back. */
const early = new WeakMap<BaseImage, { prefer: SbomFormat; found: Promise<BaseSbom | undefined>; warnings: string[] }>();

/**
 * Starts looking up the SBOM of a base that lives in a registry while the build writes its layers:
 * its round trips (a connection, the referrers, cosign's tags, the SBOM's manifest and blob) then
 * cost nothing at the end. Its warnings wait until lookUpBaseSbom takes the answer, and are never
 * shown when the build does not (every base layer local, a failed build).
 */
export function lookUpBaseSbomEarly(base: BaseImage, options: Omit<LookupOptions, 'warn'>): void {
  if (base.source.kind !== 'registry' || early.has(base)) return;
  const warnings: string[] = [];
  const found = lookUpBaseSbom(base, { ...options, warn: (m) => warnings.push(m) });
  found.catch(() => {});
  early.set(base, { prefer: options.prefer, found, warnings });
}

/**
 * The SBOM a base image already has, looked up where the base lives (its registry repository or
 * its layout), for a build's SBOM to reuse instead of reading the base's layers. Never fails the
 * build: what cannot be found or read is a warning, and the SBOM then names the base by digest only.
 */
export async function lookUpBaseSbom(base: BaseImage, options: LookupOptions): Promise<BaseSbom | undefined> {
  const started = early.get(base);
  if (started && started.prefer === options.prefer) {
    early.delete(base);
    try {
      return await started.found;
    } finally {
      for (const message of started.warnings) options.warn(message);
    }
  }
  const name = base.name ?? base.reference;
  let client: RegistryClient | undefined;
  let source: BaseSbomSource;
  try {
    if (base.source.kind === 'registry') {
      const { registry, repository } = base.source;
      client = await (options.connect ?? defaultConnect)(registry);
      const repo = new Repository(client, repository);
      const c = client;
      source = {
        where: `${registry}/${repository}`,
        storage: repo,
        referrers: async (subject) => (await listReferrers(c, repository, subject.digest)).manifests,
        resolveTag: async (tag) => notFoundIsNone(() => repo.resolve(tag, options.signal ? { signal: options.signal } : {})),
      };
    } else {
      const layout = await OciLayout.open(base.source.root);
      source = {
        where: `layout ${layout.root}`,
        storage: layout,
        referrers: async (subject) => (await layoutReferrers(layout, subject)).map((r) => r.descriptor),
        resolveTag: async (tag) => notFoundIsNone(() => layout.resolve(tag)),
      };
    }
  } catch (err) {
    if (options.signal?.aborted) throw err;
    options.warn(`base image ${name}: could not look for its SBOM: ${(err as Error).message}`);
    await client?.destroy();
    return undefined;
  }
  try {
    return await findBaseSbom(source, { manifest: base.descriptor, layers: base.manifest.layers.length, ...(base.index ? { index: base.index } : {}) }, {
      // A layout path is no image name (and would make the SBOM depend on where the layout is): the digest then.
      prefer: options.prefer, warn: options.warn, name, imageName: base.name ?? base.manifestDigest, ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    await client?.close();
  }
}

async function notFoundIsNone(resolve: () => Promise<Descriptor>): Promise<Descriptor | undefined> {
  try {
    return await resolve();
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return undefined;
    throw err;
  }
}
