import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import { defaultLayoutDir } from '../defaults.js';
import type { Output } from './output.js';
import { checkConcurrency, registryFlags, type RegistryFlags } from './registry-options.js';

interface PullArgs extends RegistryFlags {
  reference: string;
  layout: string;
  tag?: string;
  platform?: string;
}

export const pullCommand: CliCommand<PullArgs> = {
  command: 'pull <reference>',
  describe: 'Pull an image from a registry into an OCI layout, verifying every blob',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'Source: REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
    .option('layout', { type: 'string', default: defaultLayoutDir(), describe: 'OCI image layout to write into, created when missing (env OCIPUSH_LAYOUT)' })
    .option('tag', { alias: 't', type: 'string', describe: 'Name of the image in the layout (default: the reference\'s tag)' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, pull only this os/arch[/variant]' })
    .example('$0 pull localhost:5000/hello:0.1 --layout ./pulled', 'copy an image and all its blobs into ./pulled')),
  run: async (argv, out: Output) => {
    const { parseReference, referenceTarget, formatReference } = await import('../oci/reference.js');
    const source = parseReference(argv.reference.replace(/^docker:\/\//, ''));
    if (argv.tag !== undefined && !/^[\w][\w.:@-]{0,200}$/.test(argv.tag)) throw usageError(`--tag "${argv.tag}": not a valid name`);
    const concurrency = checkConcurrency(argv.concurrency);
    const { parsePlatform } = await import('../oci/descriptor.js');
    const platform = argv.platform === undefined ? undefined : parsePlatform(argv.platform);

    const { TransferProgress } = await import('./progress.js');
    const { clientFromFlags } = await import('./registry-options.js');
    const { Repository } = await import('../registry/repository.js');
    const { copyGraph } = await import('../transfer/copy-graph.js');
    const { OciLayout } = await import('../content/layout.js');
    const { installSignalCleanup } = await import('../content/cleanup.js');
    installSignalCleanup();
    const progress = new TransferProgress(out, { active: 'pulling', transferred: 'downloaded' });
    const client = await clientFromFlags(source.registry, argv, {
      onRetry: (n) => progress.notice(`${n.op}: ${n.reason}, retrying in ${(n.delayMs / 1000).toFixed(1)} s (${n.attempt}/${client.retryPolicy.retries})`),
    });
    const name = argv.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
    let root;
    let result;
    let layout: import('../content/layout.js').OciLayout | undefined;
    try {
      const repository = new Repository(client, source.repository);
      const fetched = await repository.fetchManifest(referenceTarget(source));
      root = fetched.descriptor;
      if (platform) {
        const { parseManifest, isIndex } = await import('../oci/manifest.js');
        const { choosePlatform, noManifestFor } = await import('../image/platform.js');
        const shown = formatReference(source);
        const parsed = parseManifest(fetched.bytes, shown, root.mediaType);
        if (isIndex(parsed)) root = choosePlatform(parsed.manifests, { name: shown, wanted: platform, noMatch: noManifestFor(shown) });
      }
      layout = await OciLayout.open(argv.layout, { create: true });
      result = await copyGraph(repository, layout, root, { concurrency, onEvent: progress.handle, rootReference: name });
      if (name === undefined) {
        // Pulled by digest with no name: listed in index.json without a ref.name.
        await layout.updateIndex((index) => {
          if (!index.manifests.some((d) => d.digest === root!.digest)) index.manifests.push({ mediaType: root!.mediaType, digest: root!.digest, size: root!.size });
        });
      }
      progress.finish();
      await layout.close();
      await client.close();
    } catch (err) {
      progress.finish();
      await client.destroy();
      // A pull that made the layout and failed leaves no empty layout behind.
      await layout?.discardIfCreated();
      throw err;
    }
    const blobs = result.nodes.filter((n) => n.descriptor.digest !== root.digest);
    const downloaded = blobs.filter((b) => b.outcome === 'uploaded').length;
    out.info(`pulled ${formatReference(source)} into ${argv.layout}${name ? ` as ${name}` : ''} (${blobs.length} blobs: ${downloaded} downloaded, ${blobs.length - downloaded} already there)`);
    out.result(root.digest, {
      reference: formatReference(source),
      digest: root.digest,
      size: root.size,
      mediaType: root.mediaType,
      layout: argv.layout,
      ...(name ? { tag: name } : {}),
      blobs: blobs.map((b) => ({ digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType, kind: b.kind, outcome: b.outcome === 'uploaded' ? 'downloaded' : b.outcome })),
    });
  },
};
