import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { changedImageArgs, type ChangedImageArgs } from './changed-image.js';

export const flattenCommand: CliCommand<ChangedImageArgs> = {
  command: 'flatten <source> [destination]',
  describe: 'Make the layers of an image (every platform of an index) into one: the filesystem they make, whiteouts applied, as crane flatten',
  builder: (y: Argv) => changedImageArgs(y, (y) => y
    .example('$0 flatten registry.example.com/app:1.4 registry.example.com/app:1.4-flat', 'one layer, straight from registry to registry')
    .example('$0 flatten oci:build:app', 'in place, in the layout')),
  run: async (argv, out: Output) => {
    const { runChange } = await import('./changed-image.js');
    const { formatBytes } = await import('./output.js');
    const { formatPlatform, platformFields } = await import('../oci/descriptor.js');
    await runChange(argv, out, {
      verb: 'flattened',
      make: async (src) => {
        const { flattenImages } = await import('../assemble/flatten.js');
        const flat = await flattenImages(src.storage, src.root, src.rootBytes, src.name, {
          onImage: (platform, layers) => out.info(`flattening ${formatPlatform(platform)}: ${layers} layers`),
        });
        return {
          changed: flat,
          borrowed: { blobs: [flat.layers] },
          lines: flat.flattened.map((f) => `${formatPlatform(f.platform)}: ${f.layers} layers -> 1, ${f.layer.digest} (${formatBytes(f.layer.size)}, ${f.summary.entries} entries; ${f.summary.hidden} hidden by upper layers, left out)`),
          json: {
            flattened: flat.flattened.map((f) => ({
              ...platformFields(f.platform), layers: f.layers, layer: f.layer, diffId: f.diffId,
              entries: f.summary.entries, hidden: f.summary.hidden, whiteouts: f.summary.whiteouts,
            })),
          },
        };
      },
    });
  },
};
