import type { Argv } from 'yargs';
import { IMAGE_FORMS, type CliCommand } from './command.js';
import { count, type Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { unlistedPlatformOption } from './platform-option.js';
import { refuseEmptyOutput, writesToStdout } from './output-file.js';

interface RootfsArgs extends RegistryFlags {
  image: string;
  output?: string;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const rootfsCommand: CliCommand<RootfsArgs> = {
  command: 'rootfs <image>',
  describe: 'Write the filesystem an image\'s layers make (whiteouts applied) as one tar, as crane export does',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('image', { type: 'string', describe: IMAGE_FORMS })
    .option('output', { alias: 'o', type: 'string', describe: 'Tar file to write, or - for stdout (the default when stdout is not a terminal)' })
    .option('platform', { type: 'string', describe: 'For an index, this os/arch[/variant] (default: this machine\'s, as docker picks it)' })
    .example('$0 rootfs registry.example.com/app:1.4 | tar -x usr/local/bin/app', 'take one file out of an image, no Docker')
    .example('$0 rootfs oci:build:app -o rootfs.tar', 'the filesystem of a layout\'s image')),
  run: async (argv, out: Output) => {
    refuseEmptyOutput(argv.output, 'a file');
    const toStdout = argv.output === undefined || argv.output === '-';
    const onStdout = await writesToStdout(argv.output, out.json, 'the tar', 'a tar');
    const [{ platformFlag, withSource }, { hostPlatformOf }] = await Promise.all([import('./read-source.js'), import('../oci/platform-check.js')]);
    const wanted = await platformFlag(argv.platform, argv.unlistedPlatform);
    const { onInterrupt } = await import('./output.js');
    await onInterrupt(out, 'rootfs', toStdout ? 'the tar on stdout is incomplete' : `${argv.output} was not written`);
    const written = await withSource(argv.image, argv, async (source) => {
      const [{ loadImage }, { isIndex, parseManifest }] = await Promise.all([import('../image/load.js'), import('../oci/manifest.js')]);
      // One image must be for --platform; of an index, the one chosen for it may be of a lower variant its CPU runs (arm/v6 for arm/v7), as pull takes it.
      const single = wanted !== undefined && !isIndex(parseManifest(source.rootBytes, `${source.name}: manifest`, source.root.mediaType));
      const { noManifestFor } = await import('../image/platform.js');
      const image = await loadImage(source.storage, source.root, { name: source.name, platform: wanted ?? hostPlatformOf(), ...(single ? { requirePlatform: true } : {}), ...(wanted ? { noMatch: noManifestFor(source.name) } : {}) });
      const [{ openFileSink, stdoutSink }, { writeFilesystem }, { fromWriteError }] = await Promise.all([import('../archive/sink.js'), import('../archive/filesystem.js'), import('../errors.js')]);
      const sink = toStdout ? stdoutSink(process.stdout) : await openFileSink(argv.output!);
      try {
        const summary = await writeFilesystem(image, sink.stream, source.name);
        await sink.commit();
        return { name: source.name, image, summary, path: sink.path };
      } catch (err) {
        await sink.abort();
        throw sink.path ? fromWriteError(err, sink.path) : err;
      }
      // A lazy layout's base layers are streamed from their registry, not stored in it: a reading verb writes nothing there.
    }, { keep: false });
    const { formatPlatform } = await import('../oci/descriptor.js');
    const { summary, image } = written;
    const dangling = summary.danglingLinks > 0 ? `; ${summary.danglingLinks} hard link${summary.danglingLinks === 1 ? '' : 's'} to a file no layer kept, left out` : '';
    out.info(`wrote the filesystem of ${written.name} (${formatPlatform(image.platform)}, ${image.descriptor.digest}) to ${written.path ?? 'stdout'}: ${summary.entries === 1 ? '1 entry' : `${summary.entries} entries`} from ${count(image.layers.length, 'layer')}, ${summary.hidden} hidden by the layers above${dangling}`);
    // With the tar on stdout, nothing else may go there: the digest is in the line above.
    if (onStdout) return;
    out.result(image.descriptor.digest, {
      reference: written.name, digest: image.descriptor.digest, platform: formatPlatform(image.platform),
      ...(written.path ? { output: written.path } : {}),
      layers: image.layers.length, ...summary,
    });
  },
};
