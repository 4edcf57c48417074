import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import type { RegistryFlags } from './registry-options.js';
import { changedImageArgs } from './changed-image.js';
import type { OpenedSource } from './endpoints.js';
import type { CopyContext } from './copy.js';
import type { ChangedSignatures, WrittenChange } from './changed-image.js';
import type { OpenedBase, RebasedImage } from '../assemble/rebase.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';

interface RebaseArgs extends RegistryFlags {
  source: string;
  destination?: string;
  oldBase?: string;
  newBase?: string;
  digestFile?: string;
  dryRun?: boolean;
  sign?: boolean;
  key?: string;
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
    const { parseEndpoint } = await import('./endpoints.js');
    const source = await parseEndpoint(argv.source);
    const destination = argv.destination === undefined ? undefined : await parseEndpoint(argv.destination);
    const { checkArguments, writeChanged, signChanged, writtenBy, notWritten } = await import('./changed-image.js');
    const signer = await checkArguments(source, destination, argv);
    const { withCopyContext } = await import('./copy.js');
    // The rebased image has a new digest: the signatures and SBOMs of the old one are not its own.
    await withCopyContext(argv, out, source, destination ?? source, { referrers: false }, async (context) => {
      const { openSource } = await import('./endpoints.js');
      const src = await openSource(source, { connect: (r) => context.clients.connect('src', r) });
      const bases = new BaseCache(context);
      try {
        const { rebaseImage } = await import('../assemble/rebase.js');
        let rebased: RebasedImage;
        try {
          rebased = await rebaseImage(src.storage, src.root, src.rootBytes, src.name, {
            ...(argv.oldBase !== undefined ? { oldBase: argv.oldBase } : {}),
            ...(argv.newBase !== undefined ? { newBase: argv.newBase } : {}),
            openBase: (reference, platform) => bases.open(reference, platform),
          });
        } catch (err) {
          await src.close();
          throw err;
        }
        const target = destination ?? source;
        if (argv.dryRun) {
          await src.close();
          await report(out, src, rebased, notWritten(source, destination), { target, signatures: undefined });
          return;
        }
        const written = await writeChanged(src, source, destination, rebased, context, { blobs: rebased.borrowed, mountFrom: (d, registry) => bases.holders(d, registry) });
        if (argv.digestFile) {
          const { writeFileAtomic } = await import('../content/atomic.js');
          await writeFileAtomic(argv.digestFile, rebased.root.digest);
        }
        await report(out, src, rebased, writtenBy(written), { target, signatures: await signChanged(signer, target, rebased.root.digest, context) });
      } finally {
        await bases.close();
      }
    });
  },
};

async function report(
  out: Output, src: OpenedSource, rebased: RebasedImage, written: WrittenChange, signed: ChangedSignatures,
): Promise<void> {
  const { formatPlatform } = await import('../oci/descriptor.js');
  const { reportChanged } = await import('./changed-image.js');
  for (const c of rebased.current) out.info(`${formatPlatform(c.platform)} is already on ${c.base}`);
  for (const b of rebased.bases) out.info(`${formatPlatform(b.platform)}: base ${b.oldBase} -> ${b.newBase}${b.newBaseName ? ` (${b.newBaseName})` : ''}`);
  await reportChanged(out, src, rebased, written, 'rebased', signed, {
    bases: rebased.bases.map((b) => ({ platform: formatPlatform(b.platform), previous: b.oldBase, digest: b.newBase, ...(b.newBaseName ? { name: b.newBaseName } : {}) })),
  });
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

  async open(reference: string, platform: Platform): Promise<OpenedBase> {
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
    const image = await loadImage(source.storage, source.root, { name: `base image ${reference}`, platform, requirePlatform: true, requireLayers: true });
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
