import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface DeleteArgs extends RegistryFlags {
  reference: string;
}

export const deleteCommand: CliCommand<DeleteArgs> = {
  command: 'delete <reference>',
  describe: 'Delete a manifest from a registry (a tag is resolved to its digest first)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY:TAG or @DIGEST' })
    .example('$0 delete localhost:5000/app:old', 'deletes the manifest app:old names, and so every tag on it')),
  run: async (argv, out: Output) => {
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    const { deleteManifest } = await import('../registry/delete.js');
    const ref = await registryReference(argv.reference);
    const digest = await withRepository(ref, argv, async (repository, client) => {
      const desc = await repository.resolve(referenceTarget(ref));
      await deleteManifest(client, repository.repositoryName, desc.digest);
      return desc.digest;
    });
    const where = `${ref.registry}/${ref.repository}@${digest}`;
    out.info(`deleted ${where}${ref.tag && !ref.digest ? ` (was ${formatReference(ref)})` : ''}`);
    out.result(digest, { reference: formatReference(ref), deleted: where, digest });
  },
};
