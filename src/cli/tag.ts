import type { Argv } from 'yargs';
import { toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface TagArgs extends RegistryFlags {
  reference: string;
  tags: string[];
}


export const tagCommand: CliCommand<TagArgs> = {
  command: 'tag <reference> <tags..>',
  describe: 'Give an image in a registry more tags, in the same repository (no blob moves)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY:TAG or @DIGEST of the image' })
    .positional('tags', { type: 'string', array: true, describe: 'New tags' })
    .example('$0 tag localhost:5000/app:1.4.2 1.4 1 latest', 'three more tags for 1.4.2')),
  run: async (argv, out: Output) => {
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const { referenceTarget, formatReference, isValidTag } = await import('../oci/reference.js');
    const ref = await registryReference(argv.reference);
    const tags = toArray(argv.tags);
    for (const t of tags) if (!isValidTag(t)) throw usageError(`"${t}": not a valid tag`);
    const root = await withRepository(ref, argv, async (repository) => {
      const fetched = await repository.fetchManifest(referenceTarget(ref));
      // The same bytes PUT again under each tag: a GET, then one PUT per tag.
      for (const t of tags) await repository.tag(fetched.descriptor, t);
      return fetched.descriptor;
    });
    const where = `${ref.registry}/${ref.repository}`;
    out.info(`tagged ${formatReference(ref)} (${root.digest}) as ${tags.map((t) => `${where}:${t}`).join(', ')}`);
    out.result(root.digest, { reference: formatReference(ref), digest: root.digest, tags });
  },
};
