import type { OciLayout } from '../content/layout.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isRegistryLocated, type ReadOnlyStorage } from '../content/storage.js';
import type { Repository } from '../registry/repository.js';
import type { ReferrerCopyOptions } from './copy-referrers.js';

export type ReferrerEnds = Pick<ReferrerCopyOptions, 'listReferrers' | 'publishReferrers' | 'publisherStoresManifests'>;

/**
 * How a copy finds the source's OCI 1.1 referrers and makes them findable at the destination. A
 * registry source is asked through its registry (the referrers API, else the tag schema); a
 * layout lists its own (LazyBlobs.referrers). A registry destination gets them in its referrers
 * (the API, else its `sha256-<hex>` index, updated once per subject); a layout, entries in its
 * index.json, as a build keeps an SBOM: so an image signed, described and attested in one
 * registry goes through a layout (an air-gapped transfer) to another with all of it.
 */
export async function referrerEnds(source: { storage: ReadOnlyStorage; name: string }, destination: { repository?: Repository; layout?: OciLayout }): Promise<ReferrerEnds> {
  const ends: ReferrerEnds = {};
  const { listReferrers, pushReferrers } = await import('../registry/referrers.js');
  const client = (source.storage as Partial<Repository>).client;
  if (isRegistryLocated(source.storage) && client) {
    const name = source.storage.repositoryName;
    ends.listReferrers = async (subject) => (await listReferrers(client, name, subject.digest)).manifests;
  }
  const target = destination.repository;
  if (target) {
    const { MAX_MANIFEST_BYTES, readSmall } = await import('../content/verify.js');
    ends.publisherStoresManifests = true;
    ends.publishReferrers = async (subject, referrers) => {
      const manifests = await Promise.all(referrers.map(async ({ descriptor, alreadyStored }) => ({
        descriptor, alreadyStored,
        bytes: await readSmall(await source.storage.fetch(descriptor), MAX_MANIFEST_BYTES, `${source.name}: referrer ${descriptor.digest}`),
      })));
      await pushReferrers(target.client, target.name, subject.digest, manifests);
    };
  } else if (destination.layout) {
    const layout = destination.layout;
    const { recordLayoutReferrers } = await import('../content/layout-referrers.js');
    ends.publishReferrers = (_subject, referrers) => recordLayoutReferrers(layout, referrers.map((r) => r.descriptor));
  }
  return ends;
}

/**
 * A copied manifest with a subject (an artifact copied by digest) is listed among its subject's
 * referrers: the spec leaves the tag schema's index to whoever pushes it, as oras cp and crane
 * copy keep it. A registry with the referrers API answers the PUT itself.
 */
export async function indexAsReferrer(target: Repository, root: Descriptor, bytes: Buffer): Promise<void> {
  const { pushReferrer, subjectOf } = await import('../registry/referrers.js');
  const subject = subjectOf(bytes);
  // Pushed just now to a registry with the referrers API, which said so: it lists it already.
  if (subject && target.subjectAnswered(root.digest) !== subject) await pushReferrer(target.client, target.name, { descriptor: root, bytes, subject }, { alreadyStored: true });
}
