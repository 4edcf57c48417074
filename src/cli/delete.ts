import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { LayoutTarget } from './repository-ref.js';

interface DeleteArgs extends RegistryFlags {
  reference: string;
}

export const deleteCommand: CliCommand<DeleteArgs> = {
  command: 'delete <reference>',
  describe: 'Delete a manifest from a registry (a tag is resolved to its digest first), or a name from a layout',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY:TAG or @DIGEST, or oci:DIR:NAME (a name of the layout, as umoci rm)' })
    .example('$0 delete localhost:5000/app:old', 'deletes the manifest app:old names, and so every tag on it (untag takes one tag away)')
    .example('$0 delete oci:out:old && $0 gc --layout out', 'the name old leaves the layout; gc then removes what only it kept')),
  run: async (argv, out: Output) => {
    const { layoutTarget, registryReference, withRepository } = await import('./repository-ref.js');
    const inLayout = await layoutTarget(argv.reference, 'delete');
    if (inLayout) return deleteInLayout(inLayout, out);
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    const { deleteManifest } = await import('../registry/delete.js');
    const { removeFromTagIndex, subjectOf } = await import('../registry/referrers.js');
    const ref = await registryReference(argv.reference);
    const { digest, unlistedFrom } = await withRepository(ref, argv, async (repository, client) => {
      // The bytes, not a HEAD: a referrer's subject says which tag schema index lists it. A Docker
      // schema 1 manifest (an old image being cleaned up) is deleted by the digest the registry
      // (and skopeo delete) name it by.
      const { descriptor, bytes } = await repository.fetchManifest(referenceTarget(ref), { keepSchema1: true });
      await deleteManifest(client, repository.repositoryName, descriptor.digest);
      const subject = subjectOf(bytes);
      const unlisted = subject !== undefined && await removeFromTagIndex(client, repository.repositoryName, subject, descriptor.digest).catch(async (err: unknown) => {
        // The manifest is gone already: the line says so, and what is left, not only the index's trouble.
        const { OcipushError } = await import('../errors.js');
        if (!(err instanceof OcipushError) || err.code === 'EABORTED') throw err;
        throw new OcipushError(err.code, `deleted ${ref.registry}/${ref.repository}@${descriptor.digest}, but its entry in the referrers index of ${subject} stays: ${err.message}`, err.details);
      });
      return { digest: descriptor.digest, unlistedFrom: unlisted ? subject : undefined };
    });
    const where = `${ref.registry}/${ref.repository}@${digest}`;
    const was = ref.tag && !ref.digest ? ` (was ${formatReference(ref)})` : '';
    out.info(`deleted ${where}${was}${unlistedFrom ? `, and its entry in the referrers index of ${unlistedFrom}` : ''}`);
    out.result(digest, { reference: formatReference(ref), deleted: where, digest });
  },
};

/**
 * In a layout, as umoci rm: the name leaves index.json (by digest, every name of that image),
 * with the referrers only it kept (an SBOM of the image); its blobs stay until `gc`.
 */
async function deleteInLayout(target: LayoutTarget, out: Output): Promise<void> {
  const { usageError } = await import('./command.js');
  if (target.name === undefined) throw usageError(`${target.text}: name the image to delete (oci:DIR:NAME)`);
  const { withLayout } = await import('./repository-ref.js');
  const { Annotation } = await import('../oci/descriptor.js');
  const root = await withLayout(target, async (layout, root) => {
    const byDigest = target.name === root.digest;
    await layout.updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((d) => (byDigest ? d.digest !== root.digest : d.annotations?.[Annotation.RefName] !== target.name));
      // Found, but not as an entry of its own: removing nothing must not say "deleted".
      if (index.manifests.length === before) {
        throw usageError(byDigest
          ? `${target.text}: a manifest under an index the layout lists, not an entry of index.json; it leaves with the index (delete the index's name)`
          : `${target.text}: a name cosign save's entries imply, not one index.json lists; it leaves with the image they mark`);
      }
    });
    return root;
  });
  out.info(`deleted ${target.text} (${root.digest}) from the layout; \`ocipush gc --layout ${target.path}\` removes the blobs nothing else uses`);
  out.result(root.digest, { reference: target.text, deleted: `oci:${target.path}@${root.digest}`, digest: root.digest });
}
