import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { checkConcurrency, registryFlags, sideRegistryFlags, type RegistryFlags } from './registry-options.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isTagResolver } from '../content/storage.js';

interface CopyArgs extends RegistryFlags {
  source: string;
  destination: string;
  platform?: string;
  allPlatforms?: boolean;
  digestFile?: string;
  referrers?: boolean;
}

export const copyCommand: CliCommand<CopyArgs> = {
  command: ['copy <source> <destination>', 'cp'],
  describe: 'Copy an image between registries, OCI layouts and archives, streaming and verifying every blob',
  builder: (y: Argv) => sideRegistryFlags(sideRegistryFlags(registryFlags(y
    .positional('source', { type: 'string', describe: 'REGISTRY/REPO[:TAG|@DIGEST] (or docker://…), oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:NAME:TAG]' })
    .positional('destination', { type: 'string', describe: 'Same forms as the source' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, copy only this os/arch[/variant] (the result is its manifest)' })
    .option('all-platforms', { type: 'boolean', describe: 'Copy every platform of an index (the default)' })
    .option('referrers', { type: 'boolean', default: true, describe: 'Also copy signatures, attestations and SBOMs (cosign tags, OCI referrers); --no-referrers to leave them' })
    .option('digest-file', { type: 'string', describe: 'Write the copied manifest digest to this file' })
    .conflicts('platform', 'all-platforms')
    .example('$0 copy staging.example.com/app:1.4 prod.example.com/app:1.4', 'promote between registries')
    .example('$0 copy docker-archive:app.tar localhost:5000/app:1', 'push a docker save tarball')), 'src'), 'dest'),
  run: async (argv, out: Output) => {
    const { parseEndpoint, openSource, openDestination } = await import('./endpoints.js');
    const source = await parseEndpoint(argv.source);
    const destination = await parseEndpoint(argv.destination);
    const concurrency = checkConcurrency(argv.concurrency);
    const { parsePlatform } = await import('../oci/descriptor.js');
    const platform = argv.platform === undefined ? undefined : parsePlatform(argv.platform);
    const { SideClients } = await import('./side-clients.js');
    const { TransferProgress } = await import('./progress.js');
    const progress = new TransferProgress(out, { active: 'copying', transferred: 'copied' });
    const clients = new SideClients(argv as unknown as Record<string, unknown>, (n, client) =>
      progress.notice(`${n.op}: ${n.reason}, retrying in ${(n.delayMs / 1000).toFixed(1)} s (${n.attempt}/${client.retryPolicy.retries})`));
    if (destination.transport === 'registry') clients.envRegistry = destination.reference.registry;
    await clients.readPasswords(source.transport === 'registry', destination.transport === 'registry');
    const { installSignalCleanup } = await import('../content/cleanup.js');
    installSignalCleanup();

    let dst: Awaited<ReturnType<typeof openDestination>> | undefined;
    try {
      const src = await openSource(source, { connect: (r) => clients.connect('src', r) });
      let root: Descriptor = src.root;
      const { hostPlatform } = await import('./read-source.js');
      const { platformOf } = await import('../image/platform.js');
      if (platform) root = platformOf({ descriptor: root, bytes: src.rootBytes }, platform, src.name);
      else if (destination.transport === 'docker-archive' && !argv.allPlatforms) {
        // A docker archive holds one platform's image: this machine's, as skopeo picks it.
        root = platformOf({ descriptor: root, bytes: src.rootBytes }, hostPlatform(), src.name);
      }
      if (destination.transport === 'registry' && destination.reference.digest && destination.reference.digest !== root.digest) {
        throw usageError(`${argv.destination}: the image to copy has digest ${root.digest}, not ${destination.reference.digest}`);
      }
      if (source.transport === 'registry' && destination.transport === 'registry' && clients.sameEndpoint(source.reference, destination.reference)) {
        const dstTag = destination.reference.digest ? destination.reference.tag : (destination.reference.tag ?? src.tag ?? 'latest');
        const current = dstTag === undefined ? root : isTagResolver(src.storage) ? await src.storage.resolve(dstTag).catch(() => undefined) : undefined;
        if (current?.digest === root.digest) {
          out.info(`${src.name} and ${argv.destination} are the same image (${root.digest}): nothing to copy`);
          out.result(root.digest, { source: src.name, destination: argv.destination, digest: root.digest, size: root.size, mediaType: root.mediaType, blobs: [], referrers: [] });
          await clients.close();
          return;
        }
      }
      dst = await openDestination(destination, src, { connect: (r) => clients.connect('dest', r) });
      const sameRegistry = src.located && dst.repository && src.located.registry === dst.repository.registry;
      const { copyGraph } = await import('../transfer/copy-graph.js');
      const options = {
        // An archive is written one entry at a time: more would only hold connections open.
        concurrency: dst.writer ? 1 : concurrency,
        onEvent: progress.handle,
        ...(sameRegistry ? { mountFrom: () => [src.located!.repositoryName] } : {}),
      };
      const result = await copyGraph(src.storage, dst.storage, root, { ...options, ...(dst.reference ? { rootReference: dst.reference } : {}) });
      let referrers: import('../transfer/copy-referrers.js').CopiedReferrer[] = [];
      if (argv.referrers !== false && !dst.writer) {
        const { copyReferrers } = await import('../transfer/copy-referrers.js');
        const subjects = [root, ...childManifests(result.nodes.map((n) => n.descriptor), root)];
        referrers = await copyReferrers(src.storage, dst.storage, subjects, {
          ...options,
          ...(await ociReferrers(src, dst)),
          // OCI 1.1 referrers: copyReferrers asks a source that implements ReferrerLister (or a
          // `listReferrers` given here). Hook for src/registry/referrers.ts (listReferrers of the
          // API or tag schema): pass `listReferrers: (d) => listReferrers(client, repo, d.digest)
          // .then((l) => l.manifests)` and push them with its pushReferrer so a registry without
          // the API gets its `sha256-<hex>` index updated.
        });
      }
      await dst.finish(root);
      progress.finish();
      await clients.close();

      if (argv.digestFile) {
        const { writeFileAtomic } = await import('../content/atomic.js');
        await writeFileAtomic(argv.digestFile, root.digest);
      }
      const blobs = result.nodes.filter((n) => n.descriptor.digest !== root.digest);
      const count = (o: string) => blobs.filter((b) => b.outcome === o).length;
      const extra = referrers.length > 0 ? `; ${referrers.length} referrer${referrers.length === 1 ? '' : 's'} (${referrers.map((r) => r.tag ?? r.result.root.digest).join(', ')})` : '';
      out.info(`copied ${src.name} to ${dst.name} (${blobs.length} blobs: ${count('uploaded')} copied, ${count('mounted')} mounted, ${count('exists')} already there${extra})`);
      out.result(root.digest, {
        source: src.name,
        destination: dst.name,
        digest: root.digest,
        size: root.size,
        mediaType: root.mediaType,
        blobs: blobs.map((b) => ({ digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType, kind: b.kind, outcome: b.outcome })),
        referrers: referrers.map((r) => ({ subject: r.subject, digest: r.result.root.digest, mediaType: r.result.root.mediaType, ...(r.tag ? { tag: r.tag } : {}) })),
      });
    } catch (err) {
      progress.finish();
      await dst?.abort().catch(() => {});
      await clients.destroy();
      throw err;
    }
  },
};

/** The manifests an index copied whole names (cosign signs each platform's manifest too). */
function childManifests(nodes: Descriptor[], root: Descriptor): Descriptor[] {
  return nodes.filter((d) => d.digest !== root.digest && (d.mediaType.includes('manifest') || d.mediaType.includes('index')));
}

/**
 * Registry to registry, the OCI 1.1 referrers of the image too: listed in the source by its
 * referrers API or tag schema, and after each is copied, made findable in the destination the same
 * way (registry/referrers.ts).
 */
async function ociReferrers(
  src: import('./endpoints.js').OpenedSource, dst: import('./endpoints.js').OpenedDestination,
): Promise<Pick<import('../transfer/copy-referrers.js').ReferrerCopyOptions, 'listReferrers' | 'publishReferrer'>> {
  const source = src.storage as Partial<import('../registry/repository.js').Repository>;
  const target = dst.repository;
  if (!src.located || !source.client || !target) return {};
  const { listReferrers, pushReferrer } = await import('../registry/referrers.js');
  const { MAX_MANIFEST_BYTES, readSmall } = await import('../content/verify.js');
  const client = source.client;
  const name = src.located.repositoryName;
  return {
    listReferrers: async (subject) => (await listReferrers(client, name, subject.digest)).manifests,
    publishReferrer: async (referrer, subject) => {
      const bytes = await readSmall(await src.storage.fetch(referrer), MAX_MANIFEST_BYTES, `${src.name}: referrer ${referrer.digest}`);
      await pushReferrer(target.client, target.name, { descriptor: referrer, bytes, subject: subject.digest });
    },
  };
}

