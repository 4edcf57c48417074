import type { Argv } from 'yargs';
import { IMAGE_FORMS, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { unlistedPlatformOption } from './platform-option.js';

interface ValidateArgs extends RegistryFlags {
  image: string;
  fast?: boolean;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const validateCommand: CliCommand<ValidateArgs> = {
  command: 'validate <image>',
  describe: 'Check that an image (every platform of an index) is whole: every blob there and matching its digest, every layer decompressing to its diff_id',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('image', { type: 'string', describe: `${IMAGE_FORMS}; oci:DIR alone: every image of the layout` })
    .option('fast', { type: 'boolean', describe: 'Only check that every blob is there, at its size (HEAD or stat): read no layer' })
    .option('platform', { type: 'string', describe: 'For an index, only the image for this os/arch[/variant] (default: every one)' })
    .example('$0 validate oci:build:app', 'exit 0 when every blob of the layout\'s image is whole')
    .example('$0 validate oci:build', 'every image of the layout, each shared blob read once')
    .example('$0 validate registry.example.com/app:1.4 --fast', 'every blob of every platform still there')),
  run: async (argv, out: Output) => {
    const { platformFlag, withSource } = await import('./read-source.js');
    const platform = await platformFlag(argv.platform, argv.unlistedPlatform);
    const { formatBytes } = await import('./output.js');
    const { validateImage } = await import('../image/validate.js');
    const options = (name: string) => ({
      name, fast: Boolean(argv.fast), ...(platform ? { platform } : {}),
      onBlob: (done: number, total: number, bytes: number) => out.live(`validating ${name}: ${done}/${total} blobs, ${formatBytes(bytes)} read`),
    });
    // A layout's recorded blobs are checked in their registry, not fetched into it; oci:DIR alone is every image.
    const report = await withSource(argv.image, argv, (source) => validateImage(source.storage, source.root, options(source.name)), { keep: false, everyImage: true });
    out.clearLive();
    const images = report.manifests.filter((m) => m.kind === 'image');
    const counted = `${images.length} image${images.length === 1 ? '' : 's'}, ${report.blobs} blob${report.blobs === 1 ? '' : 's'}${report.fast ? ' present (not read: --fast)' : `, ${formatBytes(report.bytesRead)} read`}`;
    const json = { reference: argv.image, valid: report.problems.length === 0, ...report };
    if (report.problems.length > 0) {
      for (const problem of report.problems) out.error(problem.message);
      // The report of an invalid image is a result too: indented as a valid one's (error documents are one line).
      if (out.json) out.result('', json);
      out.error(`${argv.image} is not valid: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} (${counted})`);
      return 1;
    }
    out.info(`${argv.image} (${report.digest}) is valid: ${counted}`);
    out.result(report.digest, json);
    return 0;
  },
};
