import type { Argv } from 'yargs';
import { IMAGE_FORMS, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import type { Descriptor } from '../oci/descriptor.js';

interface ValidateArgs extends RegistryFlags {
  image: string;
  fast?: boolean;
  platform?: string;
}

export const validateCommand: CliCommand<ValidateArgs> = {
  command: 'validate <image>',
  describe: 'Check that an image (every platform of an index) is whole: every blob there and matching its digest, every layer decompressing to its diff_id',
  builder: (y: Argv) => registryFlags(y
    .positional('image', { type: 'string', describe: `${IMAGE_FORMS}; oci:DIR alone: every image of the layout` })
    .option('fast', { type: 'boolean', describe: 'Only check that every blob is there, at its size (HEAD or stat): read no layer' })
    .option('platform', { type: 'string', describe: 'For an index, only the image for this os/arch[/variant] (default: every one)' })
    .example('$0 validate oci:build:app', 'exit 0 when every blob of the layout\'s image is whole')
    .example('$0 validate oci:build', 'every image of the layout, each shared blob read once')
    .example('$0 validate registry.example.com/app:1.4 --fast', 'every blob of every platform still there')),
  run: async (argv, out: Output) => {
    const { platformFlag, withSource } = await import('./read-source.js');
    const platform = await platformFlag(argv.platform);
    const { formatBytes } = await import('./output.js');
    const { validateImage } = await import('../image/validate.js');
    const options = (name: string) => ({
      name, fast: Boolean(argv.fast), ...(platform ? { platform } : {}),
      onBlob: (done: number, total: number, bytes: number) => out.live(`validating ${name}: ${done}/${total} blobs, ${formatBytes(bytes)} read`),
    });
    const { parseEndpoint } = await import('./endpoints.js');
    const endpoint = await parseEndpoint(argv.image);
    const report = endpoint.transport === 'oci'
      ? await withLayout(endpoint.path, endpoint.name, argv, (storage, root) => validateImage(storage, root, options(argv.image)))
      : await withSource(argv.image, argv, (source) => validateImage(source.storage, source.root, options(source.name)));
    out.clearLive();
    const images = report.manifests.filter((m) => m.kind === 'image');
    const counted = `${images.length} image${images.length === 1 ? '' : 's'}, ${report.blobs} blob${report.blobs === 1 ? '' : 's'}${report.fast ? ' present (not read: --fast)' : `, ${formatBytes(report.bytesRead)} read`}`;
    const json = { reference: argv.image, valid: report.problems.length === 0, ...report };
    if (report.problems.length > 0) {
      for (const problem of report.problems) out.error(problem.message);
      if (out.json) out.writeJson(json);
      out.error(`${argv.image} is not valid: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} (${counted})`);
      return 1;
    }
    out.info(`${argv.image} (${report.digest}) is valid: ${counted}`);
    out.result(report.digest, json);
    return 0;
  },
};

/**
 * A layout's image, or with no name the whole layout as one root: its index.json (as read,
 * re-encoded) shown as an index over every image it names, so one walk checks them all and reads
 * a blob they share once. A blob the layout only records (a base layer a lazy build left in its
 * registry) is checked there, not fetched into the layout: a check leaves the layout as it was.
 */
async function withLayout<T>(path: string, name: string | undefined, flags: RegistryFlags, work: (storage: ReadOnlyStorage, root: Descriptor) => Promise<T>): Promise<T> {
  const [{ OciLayout }, { LazyBlobs }, { withBlobs }, { clientFromFlags }, { encodeJson }, { sha256 }, { MediaType }] = await Promise.all([
    import('../content/layout.js'), import('../transfer/lazy-blobs.js'), import('../content/with-blobs.js'), import('./registry-options.js'),
    import('../oci/manifest.js'), import('../oci/digest.js'), import('../oci/media-types.js'),
  ]);
  const layout = await OciLayout.open(path);
  const storage = new LazyBlobs(layout, { connect: (registry) => clientFromFlags(registry, flags), keep: false });
  try {
    if (name !== undefined) return await work(storage, await layout.resolve(name));
    const bytes = encodeJson(await layout.readIndex());
    const root: Descriptor = { mediaType: MediaType.OciIndex, digest: sha256(bytes), size: bytes.length };
    return await work(withBlobs(storage, [{ descriptor: root, bytes }]), root);
  } finally {
    await storage.close();
  }
}
