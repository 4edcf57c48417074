import type { Argv } from 'yargs';
import { resolve } from 'node:path';
import { toArray, usageError, type CliCommand } from './command.js';
import { layoutOptionDefault } from '../defaults.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { formatBytes, type Output } from './output.js';
import { checkPlatform, unlistedPlatformOption } from './platform-option.js';
import { refuseEmptyOutput, writesToStdout } from './output-file.js';

interface ExportArgs {
  images?: string[];
  layout: string;
  output?: string;
  repository?: string;
  platform: string;
  unlistedPlatform?: boolean;
  ociLayout?: boolean;
}

export const exportCommand: CliCommand<ExportArgs> = {
  command: 'export [images..]',
  describe: 'Write a docker load / podman load archive of images in an OCI layout',
  builder: (y: Argv) => unlistedPlatformOption(y)
    .positional('images', {
      type: 'string',
      array: true,
      describe: 'IMAGE[=REPO:TAG]: a tag (or digest) in the layout, or oci:DIR:NAME (the layout named too, as skopeo names it), optionally renamed; default: every tagged image',
    })
    .option('layout', { type: 'string', default: layoutOptionDefault(), describe: 'OCI image layout to read (env OCIPUSH_LAYOUT)' })
    .option('output', { alias: 'o', type: 'string', describe: 'Archive file to write, or - for stdout (the default when stdout is not a terminal)' })
    .option('repository', { type: 'string', describe: 'Repository for images named with a bare word: latest → NAME:latest (without it, a bare name N is exported as N:latest, as docker names it)' })
    .option('platform', { type: 'string', default: 'linux/amd64', describe: 'Image to take from a multi-platform index (os/arch[/variant])' })
    .option('oci-layout', { type: 'boolean', default: false, describe: 'Also write oci-layout and index.json as docker save ≥ 25 does, so OCI tools read the archive (loaders then name images from index.json)' })
    .example('$0 export -o hello.tar', 'every tagged image of ./oci-layout, named as tagged')
    .example('$0 export hello:scratch hello:alpine -o hello.tar', 'two images, one archive; then: docker load -i hello.tar')
    .example('$0 export latest=registry.example/app:1.2 | podman load', 'rename on the way, stream into podman')
    .example('$0 export oci:out:app=app:1.2 -o app.tar', 'the image app of the layout ./out, as skopeo names it'),
  run: async (argv, out: Output) => {
    refuseEmptyOutput(argv.output, 'a file');
    argv.platform = checkPlatform(argv.platform, argv.unlistedPlatform)!;
    const images = await layoutFromImages(argv);
    const { namedTransport } = await import('../transports/parse.js');
    for (const image of images) {
      const [source, ...rename] = image.split('=');
      const named = namedTransport(source!);
      // Not a name of the layout (the line would say the layout has no such tag): copy converts archives.
      if (named) throw usageError(`${source} is ${named.what}, not an image of the layout: export writes a layout's images; copy takes any two: ocipush copy ${source} ${archiveFor(argv.output, rename.join('='))}`);
    }
    const toStdout = argv.output === undefined || argv.output === '-';
    const onStdout = await writesToStdout(argv.output, out.json, 'the archive', 'an archive');
    const { exportDockerArchive } = await import('../archive/export.js');
    const { onInterrupt } = await import('./output.js');
    await onInterrupt(out, 'export', toStdout ? 'the archive on stdout is incomplete' : `${argv.output} was not written`);
    let result: Awaited<ReturnType<typeof exportDockerArchive>>;
    try {
      result = await exportDockerArchive({
        layout: argv.layout,
        images,
        repository: argv.repository,
        platform: argv.platform,
        ociLayout: argv.ociLayout,
        output: toStdout ? process.stdout : argv.output!,
        onNotice: (message) => out.info(message),
        onBlob: (blob, i, total) => out.live(`exporting blob ${i + 1}/${total} ${blob.digest.slice(0, 19)} (${formatBytes(blob.size)})`),
      });
    } catch (err) {
      throw await withRegistryHint(err, images, argv.output);
    }
    out.clearLive();
    for (const image of result.images) {
      if (image.repoTags.length === 0) {
        // Chosen by its digest, a tagged image has no name in the archive either: the layout's is a bare tag.
        const byDigest = image.sources.find((source) => source.startsWith('sha256:'));
        const why = byDigest ? `chosen by its digest; ${byDigest}=REPO:TAG names it` : 'untagged in the layout';
        out.warn(`image ${image.manifest} has no name in the archive (${why}): docker load will give it none`);
      }
    }
    const lines = result.images.map((image) => `${image.repoTags.length ? image.repoTags.join(', ') : '<untagged>'} ${image.manifest} (${image.layers.length} layer${image.layers.length === 1 ? '' : 's'})`);
    const where = result.output && !onStdout ? `${result.output} (${formatBytes(result.size ?? 0)})` : 'stdout';
    const text = [...lines, `wrote ${result.images.length} image${result.images.length === 1 ? '' : 's'} to ${where}`].join('\n');
    if (onStdout) {
      for (const line of text.split('\n')) out.info(line);
    } else {
      out.result(text, { ...result, layout: resolve(argv.layout) });
    }
  },
};

/**
 * `oci:DIR[:NAME][=REPO:TAG]` images (skopeo's way to name a layout's image) name the layout too:
 * they must name one, the same as --layout when that is given, and the images go on as NAME[=…].
 */
async function layoutFromImages(argv: ExportArgs): Promise<string[]> {
  const { parseLayoutTarget } = await import('../transports/layout-reference.js');
  let dir: string | undefined;
  const images: string[] = [];
  for (const image of toArray(argv.images)) {
    if (!image.startsWith('oci:')) {
      images.push(image);
      continue;
    }
    const eq = image.indexOf('=');
    const target = parseLayoutTarget(eq < 0 ? image : image.slice(0, eq))!;
    if (dir !== undefined && resolve(dir) !== resolve(target.dir)) throw usageError(`${image}: export reads one layout, and ${dir} is named already`);
    dir = target.dir;
    if (target.name === undefined) {
      if (eq >= 0) throw usageError(`${image}: name the image to rename, oci:${target.dir}:NAME=REPO:TAG`);
      continue;
    }
    images.push(eq < 0 ? target.name : `${target.name}${image.slice(eq)}`);
  }
  if (dir === undefined) return images;
  if (argv.layout !== defaultLayoutDir() && resolve(argv.layout) !== resolve(dir)) throw usageError(`--layout ${argv.layout} and oci:${dir}: name the layout once`);
  argv.layout = dir;
  return images;
}

/** The docker-archive destination a copy would write, as export was asked to (`-o FILE`, a rename). */
function archiveFor(output: string | undefined, rename: string): string {
  const file = output === undefined || output === '-' ? 'FILE' : output;
  return `docker-archive:${file}${rename ? `:${rename}` : ''}`;
}

/**
 * `export registry.example.com/app:1 -o app.tar`, meant as crane pull or skopeo copy to a
 * docker archive: the layout has no such name, and the line says how a registry image is written.
 */
async function withRegistryHint(err: unknown, images: string[], output: string | undefined): Promise<unknown> {
  const [{ isOcipushError, OcipushError }, { looksLikeRegistryReference }] = await Promise.all([import('../errors.js'), import('./registry-options.js')]);
  if (!isOcipushError(err) || err.code !== 'ENOTFOUND') return err;
  for (const image of images) {
    const [source, ...rename] = image.split('=');
    if (!err.message.includes(`no image tagged "${source}"`) || !(await looksLikeRegistryReference(source!))) continue;
    return new OcipushError(err.code, `${err.message}; ${source} reads as an image in a registry: ocipush copy ${source} ${archiveFor(output, rename.join('='))} writes it`, err.details);
  }
  return err;
}
