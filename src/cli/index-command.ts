import type { Argv } from 'yargs';
import { parseKeyValues, toArray, usageError, type CliCommand } from './command.js';
import { defaultLayoutDir } from '../defaults.js';
import type { Output } from './output.js';
import { reportWrittenImage } from './build-report.js';

interface IndexArgs {
  action: string;
  images?: string[];
  layout: string;
  tag?: string;
  annotation?: string[];
}

export const indexCommand: CliCommand<IndexArgs> = {
  command: 'index <action> [images..]',
  describe: 'Combine single-platform images of a layout into one multi-platform image index',
  builder: (y: Argv) => y
    .positional('action', { type: 'string', choices: ['create'], describe: 'create: write an index naming the images' })
    .positional('images', { type: 'string', array: true, describe: 'Images of the layout (tags or digests), one per platform' })
    .option('layout', { type: 'string', default: defaultLayoutDir(), describe: 'OCI image layout holding the images (env OCIPUSH_LAYOUT)' })
    .option('tag', { alias: 't', type: 'string', describe: 'Name of the index in the layout (required)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE index annotation (repeatable)' })
    .example('$0 index create --tag app:1 app:1-amd64 app:1-arm64', 'one tag for two platforms; then: ocipush push registry/app:1'),
  run: async (argv, out: Output) => {
    if (!argv.tag) throw usageError('index create needs --tag NAME: the name the index gets in the layout');
    const images = toArray(argv.images);
    if (images.length === 0) throw usageError('index create: name the images to combine (tags or digests of the layout)');
    const annotations = parseKeyValues(argv.annotation, 'annotation');
    const { createImageIndex } = await import('../assemble/create-index.js');
    const result = await createImageIndex({ layout: argv.layout, images, tag: argv.tag, annotations });
    const { formatPlatform } = await import('../oci/descriptor.js');
    for (const m of result.manifests) out.info(`${formatPlatform(m.platform!)} ${m.digest}`);
    reportWrittenImage(out, result, {
      manifests: result.manifests.map((m) => ({ digest: m.digest, size: m.size, mediaType: m.mediaType, platform: formatPlatform(m.platform!) })),
    });
  },
};
