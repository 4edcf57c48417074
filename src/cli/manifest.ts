import type { Argv } from 'yargs';
import { IMAGE_FORMS, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { unlistedPlatformOption } from './platform-option.js';

interface ManifestArgs extends RegistryFlags {
  reference: string;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const manifestCommand: CliCommand<ManifestArgs> = {
  command: 'manifest <reference>',
  describe: 'Print a manifest exactly as stored (the bytes its digest is of)',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('reference', { type: 'string', describe: IMAGE_FORMS })
    .option('platform', { type: 'string', describe: 'For an index, print this os/arch[/variant]\'s manifest' })
    .example('$0 manifest localhost:5000/app:1 | jq .', 'the manifest (or index) as the registry stores it')
    .example('$0 manifest localhost:5000/app:1 --platform linux/arm64', 'one platform\'s manifest of an index')),
  run: async (argv, _out: Output) => {
    const { platformFlag, withSource, manifestFor, registryManifestBytes, storedRootBytes } = await import('./read-source.js');
    const platform = await platformFlag(argv.platform, argv.unlistedPlatform);
    const bytes = (!platform ? (await registryManifestBytes(argv.reference, argv)) ?? (await storedRootBytes(argv.reference, argv))?.bytes : undefined)
      ?? (await withSource(argv.reference, argv, (source) => manifestFor(source, platform))).bytes;
    // The raw bytes, with or without --json: they are JSON already, and any change would change the digest.
    process.stdout.write(bytes);
  },
};
