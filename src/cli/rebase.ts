import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { changedImageArgs, type ChangeMade, type ChangedImageArgs } from './changed-image.js';
import type { OpenedSource } from './endpoints.js';
import type { CopyContext } from './copy.js';
import type { BaseRole, OpenedBase } from '../assemble/rebase.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';

interface RebaseArgs extends ChangedImageArgs {
  oldBase?: string;
  newBase?: string;
}

export const rebaseCommand: CliCommand<RebaseArgs> = {
  command: 'rebase <source> [destination]',
  describe: 'Put an image (every platform of an index) onto a new base without rebuilding it: the old base\'s layers swapped for the new one\'s',
  builder: (y: Argv) => changedImageArgs(y, (y) => y
    .option('old-base', { type: 'string', describe: 'The base it was built on: REGISTRY/REPO[:TAG|@DIGEST] or oci:DIR[:NAME] (default: its org.opencontainers.image.base.digest annotation, in the base.name repository)' })
    .option('new-base', { type: 'string', describe: 'The base to put under it (default: its org.opencontainers.image.base.name annotation, resolved now)' })
    .example('$0 rebase registry.example.com/app:1.4', 'onto what the base tag it was built on names now (a patched base)')
    .example('$0 rebase oci:build:app --old-base debian:12.5 --new-base debian:12.6', 'name both bases')),
  run: async (argv, out: Output) => {
    const { runChange } = await import('./changed-image.js');
    await runChange(argv, out, { verb: 'rebased', make: (src, context) => rebase(src, context, argv) });
  },
};

/** The source rebased in memory; the bases it opened stay open until the change is written. */
async function rebase(src: OpenedSource, context: CopyContext, argv: RebaseArgs): Promise<ChangeMade> {
  const bases = new BaseCache(context);
  try {
    const { rebaseImage } = await import('../assemble/rebase.js');
    const rebased = await rebaseImage(src.storage, src.root, src.rootBytes, src.name, {
      ...(argv.oldBase !== undefined ? { oldBase: argv.oldBase } : {}),
      ...(argv.newBase !== undefined ? { newBase: argv.newBase } : {}),
      openBase: (reference, platform, role) => bases.open(reference, platform, role),
    });
    const { describePlatform, platformFields } = await import('../oci/descriptor.js');
    return {
      changed: rebased,
      borrowed: { blobs: rebased.borrowed, mountFrom: (d, registry) => bases.holders(d, registry) },
      lines: [
        ...rebased.current.map((c) => `${describePlatform(c.platform)} is already on ${c.base}`),
        ...rebased.bases.map((b) => `${describePlatform(b.platform)}: base ${b.oldBase} -> ${b.newBase}${b.newBaseName ? ` (${b.newBaseName})` : ''}`),
      ],
      json: { bases: rebased.bases.map((b) => ({ ...platformFields(b.platform), previous: b.oldBase, digest: b.newBase, ...(b.newBaseName ? { name: b.newBaseName } : {}) })) },
      close: () => bases.close(),
    };
  } catch (err) {
    await bases.close();
    throw err;
  }
}

/**
 * The bases a rebase opens, each once for all the platforms of an index, through the command's
 * registry clients (the source side's flags); which repository of a registry holds a new base's
 * layer, for the copy to mount it from.
 */
class BaseCache {
  private readonly sources = new Map<string, Promise<OpenedSource>>();
  private readonly opened: OpenedBase[] = [];
  private readonly located = new Map<OpenedBase, { registry: string; repositoryName: string }>();

  constructor(private readonly context: CopyContext) {}

  async open(reference: string, platform: Platform, role: BaseRole): Promise<OpenedBase> {
    let pending = this.sources.get(reference);
    if (!pending) {
      pending = (async () => {
        const { parseEndpoint, openSource } = await import('./endpoints.js');
        const endpoint = await parseEndpoint(reference);
        if (endpoint.transport !== 'registry' && endpoint.transport !== 'oci') {
          const { usageError } = await import('./command.js');
          throw usageError(`base image ${reference}: a base comes from a registry or a layout (oci:DIR[:NAME]), not a ${endpoint.transport}`);
        }
        return openSource(endpoint, { connect: (r) => this.context.clients.connect('src', r) });
      })();
      this.sources.set(reference, pending);
    }
    const source = await pending;
    const { loadImage } = await import('../image/load.js');
    const { OcipushError } = await import('../errors.js');
    const { describePlatform } = await import('../oci/descriptor.js');
    const image = await loadImage(source.storage, source.root, {
      name: `base image ${reference}`, platform, requireLayers: true,
      // The platform is the image's, not a choice: rebase has no --platform to point to.
      noMatch: (wanted, available) => new OcipushError('ENOTFOUND', `base image ${reference} has no image for ${describePlatform(wanted)} (it has: ${available}), the platform of the image to rebase`),
    });
    // As build takes a base (BuildKit's FROM): an index's image of a lower variant stands for the
    // platform (an arm/v7 image built on arm/v6); the old base is named by that image's own digest.
    const { servesPlatform } = await import('../image/platform.js');
    if (!servesPlatform(platform, image.platform, role === 'old' || image.index !== undefined)) {
      throw new OcipushError('EUSAGE', `base image ${reference} is for ${describePlatform(image.platform)}, not ${describePlatform(platform)} (the image's platform)`, { digest: image.descriptor.digest });
    }
    const { formatReference } = await import('../oci/reference.js');
    const base: OpenedBase = {
      image, storage: source.storage,
      ...(source.endpoint.transport === 'registry' ? { name: formatReference(source.endpoint.reference) } : {}),
    };
    this.opened.push(base);
    if (source.located) this.located.set(base, source.located);
    return base;
  }

  holders(desc: Descriptor, registry: string): string[] {
    const repositories = new Set<string>();
    for (const base of this.opened) {
      const where = this.located.get(base);
      if (where?.registry === registry && base.image.manifest.layers.some((l) => l.digest === desc.digest)) repositories.add(where.repositoryName);
    }
    return [...repositories];
  }

  async close(): Promise<void> {
    for (const pending of this.sources.values()) await (await pending.catch(() => undefined))?.close();
  }
}
