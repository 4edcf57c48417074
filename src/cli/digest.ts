import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { unlistedPlatformOption } from './platform-option.js';

interface DigestArgs extends RegistryFlags {
  reference: string;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const digestCommand: CliCommand<DigestArgs> = {
  command: 'digest <reference>',
  describe: 'Print the digest of the manifest (or index) a reference names',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY[:TAG], oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:NAME:TAG]' })
    .option('platform', { type: 'string', describe: 'For an index, the digest of this os/arch[/variant]\'s manifest' })
    .example('$0 digest localhost:5000/app:1', 'the digest the tag names now (one HEAD)')
    .example('$0 digest oci:build:app --platform linux/arm64', 'one platform\'s manifest of an index in a layout')),
  run: async (argv, out: Output) => {
    const { platformFlag, withSource, manifestFor } = await import('./read-source.js');
    const platform = await platformFlag(argv.platform, argv.unlistedPlatform);
    const { parseEndpoint } = await import('./endpoints.js');
    const endpoint = await parseEndpoint(argv.reference);
    let descriptor;
    if (endpoint.transport === 'registry' && !platform) {
      // A HEAD is enough, and a GET after its 404 (crane digest does the same).
      const { withRepository } = await import('./repository-ref.js');
      const { referenceTarget } = await import('../oci/reference.js');
      descriptor = await withRepository(endpoint.reference, argv, (repository) => repository.resolveToRead(referenceTarget(endpoint.reference)));
    } else {
      // Without --platform, the manifest is read (it is there, it is those bytes) but not parsed: any kind has a digest.
      const { storedRootBytes } = await import('./read-source.js');
      descriptor = (!platform ? (await storedRootBytes(argv.reference, argv))?.descriptor : undefined)
        ?? await withSource(argv.reference, argv, async (source) => (await manifestFor(source, platform)).descriptor);
    }
    out.data(descriptor.digest, { reference: argv.reference, digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType });
  },
};
