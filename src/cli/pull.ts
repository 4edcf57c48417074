import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import { layoutOptionDefault } from '../defaults.js';
import type { Output } from './output.js';
import { checkConcurrency, registryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatformList, unlistedPlatformOption } from './platform-option.js';

interface PullArgs extends RegistryFlags {
  reference: string;
  destination?: string;
  layout: string;
  tag?: string;
  platform?: string;
  unlistedPlatform?: boolean;
}

export const pullCommand: CliCommand<PullArgs> = {
  command: 'pull <reference> [destination]',
  describe: 'Pull an image from a registry into an OCI layout, verifying every blob',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('reference', { type: 'string', describe: 'Source: [docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
    .positional('destination', { type: 'string', describe: 'oci:DIR[:NAME], as skopeo names a layout: the same as --layout DIR --tag NAME' })
    .option('layout', { type: 'string', default: layoutOptionDefault(), describe: 'OCI image layout to write into, created when missing (env OCIPUSH_LAYOUT)' })
    .option('tag', { alias: 't', type: 'string', describe: 'Name of the image in the layout (default: the reference\'s tag)' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, pull only this os/arch[/variant]; several, comma-separated: an index of only those' })
    .example('$0 pull localhost:5000/hello:0.1 --layout ./pulled', 'copy an image and all its blobs into ./pulled')
    .example('$0 pull docker://localhost:5000/hello:0.1 oci:./pulled:hello', 'the same, named hello in the layout')),
  run: async (argv, out: Output) => {
    const { parseReference, formatReference } = await import('../oci/reference.js');
    const { stripTransport, layoutArgument, looksLikeRegistryReference } = await import('./registry-options.js');
    const { refuseForCopy } = await import('./copy-hint.js');
    const into = argv.destination ?? `oci:${argv.layout}${argv.tag !== undefined ? `:${argv.tag}` : ''}`;
    // A layout first and the registry second is pull's arguments swapped, said below; not a copy.
    if (!(argv.reference.startsWith('oci:') && await looksLikeRegistryReference(into))) {
      refuseForCopy('pull', argv.reference, 'registry', { from: argv.reference, to: into });
      refuseForCopy('pull', into, 'layout', { from: argv.reference, to: into });
    }
    if (argv.destination !== undefined) {
      // The two swapped (the layout first, as push takes them), or a directory for a new layout.
      const swapped = await looksLikeRegistryReference(argv.destination) && !(await looksLikeRegistryReference(argv.reference));
      const target = await layoutArgument(argv.destination, 'destination', swapped
        ? `the registry comes first, as skopeo copy takes them: ocipush pull ${argv.destination} ${argv.reference.startsWith('oci:') ? '' : 'oci:'}${argv.reference}`
        : `a new layout is named oci:${argv.destination}`);
      if (target.name !== undefined && argv.tag !== undefined) throw usageError(`--tag ${argv.tag} and ${argv.destination}: name the image once`);
      argv.layout = target.dir;
      if (target.name !== undefined) argv.tag = target.name;
    }
    const source = parseReference(stripTransport(argv.reference));
    // The image-layout spec's grammar, as build --tag, copy and skopeo take it (app/web:1 yes, a..b no).
    if (argv.tag !== undefined && !(await import('../oci/reference.js')).isLayoutRefName(argv.tag)) {
      throw usageError(`--tag "${argv.tag}": not a valid name (letters and digits, joined by - . _ : @ + or /)`);
    }
    const concurrency = checkConcurrency(argv.concurrency);
    const platforms = argv.platform === undefined ? [] : checkPlatformList(argv.platform, argv.unlistedPlatform);

    const { TransferProgress } = await import('./progress.js');
    const { clientFromFlags } = await import('./registry-options.js');
    const { pullWith } = await import('../lib/pull.js');
    const { onInterrupt } = await import('./output.js');
    await onInterrupt(out, `pull of ${formatReference(source)}`, `${argv.layout} is left as it was`);
    const progress = new TransferProgress(out, { active: 'pulling', transferred: 'downloaded' });
    const client = await clientFromFlags(source.registry, argv, {
      onRetry: (n) => progress.notice(`${n.op}: ${n.reason}, retrying in ${(n.delayMs / 1000).toFixed(1)} s (${n.attempt}/${client.retryPolicy.retries})`),
    });
    let result;
    try {
      result = await pullWith(client, source, {
        layout: argv.layout,
        ...(argv.tag !== undefined ? { tag: argv.tag } : {}),
        ...(platforms.length === 1 ? { platform: platforms[0]! } : platforms.length > 1 ? { platforms } : {}),
        concurrency,
        onEvent: progress.handle,
        onRoot: (root, name) => progress.tagging(root.digest, name),
      });
      progress.finish();
      await client.close();
    } catch (err) {
      progress.finish();
      await client.destroy();
      throw err;
    }
    const { blobs, tag: name } = result;
    const downloaded = blobs.filter((b) => b.outcome === 'downloaded').length;
    const foreign = blobs.filter((b) => b.outcome === 'skipped').length;
    out.info(`pulled ${formatReference(source)} into ${argv.layout}${name ? ` as ${name}` : ''} (${blobs.length} blobs: ${downloaded} downloaded, ${blobs.length - downloaded - foreign} already there${(await import('./progress.js')).foreignNote(foreign)})`);
    const note = (await import('./copy-hint.js')).dockerInLayoutNote(result.mediaType, `oci:${argv.layout}${name ? `:${name}` : `@${result.digest}`}`);
    if (note) out.info(note);
    out.result(result.digest, {
      reference: formatReference(source),
      digest: result.digest,
      size: result.size,
      mediaType: result.mediaType,
      layout: result.layout,
      ...(name ? { tag: name } : {}),
      blobs: blobs.map((b) => ({ digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType, kind: b.kind, outcome: b.outcome })),
    });
  },
};
