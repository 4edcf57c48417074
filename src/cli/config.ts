import type { Argv } from 'yargs';
import { IMAGE_FORMS, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { unlistedPlatformOption } from './platform-option.js';

interface ConfigArgs extends RegistryFlags {
  reference: string;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const configCommand: CliCommand<ConfigArgs> = {
  command: 'config <reference>',
  describe: 'Print an image\'s config exactly as stored',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('reference', { type: 'string', describe: IMAGE_FORMS })
    .option('platform', { type: 'string', describe: 'For an index, this os/arch[/variant] (default: this machine\'s, as docker picks it)' })
    .example('$0 config localhost:5000/app:1 | jq .config.Env', 'the environment the image runs with')
    .example('$0 config oci:build:app --platform linux/arm64', 'one platform\'s config, from a layout')),
  run: async (argv, _out: Output) => {
    const [{ platformFlag, withSource, manifestFor, configBytes }, { hostPlatformOf }] = await Promise.all([import('./read-source.js'), import('../oci/platform-check.js')]);
    const { isIndex, parseManifest } = await import('../oci/manifest.js');
    const wanted = await platformFlag(argv.platform, argv.unlistedPlatform);
    const bytes = await withSource(argv.reference, argv, async (source) => {
      const root = parseManifest(source.rootBytes, `${source.name}: manifest`, source.root.mediaType);
      const platform = wanted ?? (isIndex(root) ? hostPlatformOf() : undefined);
      const { descriptor, bytes: manifestBytes } = await manifestFor(source, platform);
      const manifest = parseManifest(manifestBytes, `${source.name}: manifest`, descriptor.mediaType);
      if (isIndex(manifest)) throw usageError(`${source.name}: an index inside an index; name the manifest by digest`);
      return configBytes(source.storage, manifest.config, source.name);
    });
    process.stdout.write(bytes);
  },
};
