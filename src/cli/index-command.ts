import type { Argv } from 'yargs';
import { parseKeyValues, signFlags, toArray, usageError, type CliCommand } from './command.js';
import { layoutOptionDefault } from '../defaults.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import type { Output } from './output.js';
import { reportWrittenImage } from './build-report.js';
import { registryFlags, sideRegistryFlags, type RegistryFlags } from './registry-options.js';
import type { OpenedSource } from './endpoints.js';
import { looksLikeRegistryHost } from '../oci/reference.js';
import type { MadeSignature, Signing } from './key-options.js';

interface IndexArgs extends RegistryFlags {
  action: string;
  images?: string[];
  layout?: string;
  tag?: string;
  annotation?: string[];
  sign?: boolean;
  key?: string;
  signContainerIdentity?: string;
}

export const indexCommand: CliCommand<IndexArgs> = {
  command: 'index <action> [images..]',
  describe: 'Combine single-platform images into one multi-platform image index: in a layout, or in a registry (as buildx imagetools create)',
  builder: (y: Argv) => sideRegistryFlags(sideRegistryFlags(registryFlags(signFlags(y)
    .positional('action', { type: 'string', choices: ['create'], describe: 'create: write an index naming the images' })
    .positional('images', { type: 'string', array: true, describe: 'Images of the layout (tags or digests), one per platform; with a --tag naming a registry or oci:DIR:NAME, images anywhere (REGISTRY/REPO:TAG, oci:DIR:NAME, archives)' })
    .option('layout', { type: 'string', describe: `OCI image layout holding the images (env OCIPUSH_LAYOUT, default ${layoutOptionDefault()})` })
    .option('tag', { alias: 't', type: 'string', describe: 'Name of the index in the layout, or where it goes: REGISTRY/REPO:TAG (or docker://…) or oci:DIR:NAME (required)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE index annotation (repeatable)' })
    .example('$0 index create --tag app:1 app:1-amd64 app:1-arm64', 'one tag for two platforms of a layout; then: ocipush push registry/app:1')
    .example('$0 index create --tag registry.example.com/app:1 registry.example.com/app:1-amd64 registry.example.com/app:1-arm64', 'combine images CI runners pushed apart; no layer moves')), 'src'), 'dest'),
  run: async (argv, out: Output) => {
    if (!argv.tag) throw usageError('index create needs --tag NAME: the name the index gets in the layout (or REGISTRY/REPO:TAG)');
    const images = toArray(argv.images);
    if (images.length === 0) throw usageError('index create: name the images to combine (tags or digests of the layout, or references)');
    const annotations = parseKeyValues(argv.annotation, 'annotation');
    const elsewhere = namesAReference(argv.tag, argv.layout);
    const named = images.find((image) => /^(?:oci|oci-archive|docker-archive):|^docker:\/\//.test(image));
    // Read as a name in the layout, it would be "no image tagged" or "build an image first": say what the form is.
    if (!elsewhere && named) throw usageError(`index create: ${named} is a reference, not a name in the layout: with such images, --tag says where the index goes (oci:DIR:NAME or REGISTRY/REPO:TAG)`);
    const { parseEndpoint } = await import('./endpoints.js');
    const layoutDir = argv.layout ?? defaultLayoutDir();
    const destination = elsewhere ? await parseEndpoint(argv.tag, { as: 'destination' }) : { transport: 'oci' as const, path: layoutDir, name: argv.tag, text: `oci:${layoutDir}:${argv.tag}` };
    const { signingFromFlags } = await import('./key-options.js');
    const signing = await signingFromFlags(argv, destination);
    if (elsewhere) {
      await createElsewhere(argv, argv.tag, images, annotations, out, signing);
      return;
    }
    const { createImageIndex } = await import('../assemble/create-index.js');
    const result = await createImageIndex({ layout: layoutDir, images, tag: argv.tag, annotations }).catch(async (err: unknown) => {
      throw await withRegistryHint(err, images);
    });
    const { entryLine, entryReport } = await import('./index-entries.js');
    for (const m of result.manifests) out.info(entryLine(m));
    let signatures: MadeSignature[] | undefined;
    if (signing) {
      const { reportLayoutSignatures, signLayoutImage } = await import('./key-options.js');
      signatures = await signLayoutImage({ path: layoutDir, name: result.digest, text: destination.text }, signing);
      reportLayoutSignatures(out, destination.text, signing.identity, signatures);
    }
    reportWrittenImage(out, result, {
      manifests: result.manifests.map(entryReport),
      ...(signatures ? { signatures } : {}),
    });
  },
};

/**
 * The layout form failed on images that look like registry references: they were taken as names
 * in the layout (a layout was named, or OCIPUSH_LAYOUT is set), and the error says how to mean
 * the registry.
 */
async function withRegistryHint(err: unknown, images: string[]): Promise<unknown> {
  const { OcipushError, isOcipushError } = await import('../errors.js');
  if (!isOcipushError(err) || (err.code !== 'ENOTFOUND' && err.code !== 'ELAYOUT') || !images.some(namesARegistry)) return err;
  return new OcipushError(err.code, `${err.message}; to combine images in a registry, write --tag docker://REGISTRY/REPO:TAG`, err.details);
}

/**
 * Whether `--tag` names where the index goes (a registry, a transport) rather than its name in
 * `--layout`: a transport prefix always; a registry host (`host.tld/…`, `host:port/…`,
 * `localhost/…`) unless a layout was named, where it stays the name it always was.
 */
function namesAReference(tag: string, layout: string | undefined): boolean {
  if (tag.startsWith('docker://') || tag.startsWith('oci:')) return true;
  if (layout !== undefined || process.env.OCIPUSH_LAYOUT) return false;
  return namesARegistry(tag);
}

/** `host.tld/…`, `host:port/…`, `localhost/…`: a reference that names its registry. */
function namesARegistry(text: string): boolean {
  const slash = text.indexOf('/');
  return slash >= 0 && looksLikeRegistryHost(text.slice(0, slash));
}

/**
 * The index made in memory over images opened where they are, then copied like any image to
 * `--tag`: into the images' own repository only the index is written (nothing else is even asked
 * for), into another repository of the same registry the layers are mounted, into
 * another registry or a layout they stream across, verified.
 */
async function createElsewhere(
  argv: IndexArgs, tag: string, images: string[], annotations: Record<string, string> | undefined, out: Output, signing: Signing | undefined,
): Promise<void> {
  const { parseEndpoint, openSource } = await import('./endpoints.js');
  const destination = await parseEndpoint(tag, { as: 'destination' });
  if (destination.transport !== 'registry' && destination.transport !== 'oci') throw usageError(`--tag ${tag}: an index goes to a registry or a layout (oci:DIR:NAME)`);
  const sources = await Promise.all(images.map((image) => parseEndpoint(image)));
  const { withCopyContext, copyImage } = await import('./copy.js');
  await withCopyContext(argv, out, sources[0]!, destination, { referrers: false }, async (context) => {
    const opened: OpenedSource[] = [];
    const closeAll = async () => { for (const source of opened) await source.close().catch(() => {}); };
    try {
      for (const source of sources) opened.push(await openSource(source, { connect: (r) => context.clients.connect('src', r) }));
      const { composeIndex } = await import('../assemble/compose-index.js');
      const composed = await composeIndex(opened, annotations);
      // A lazily built layout's base layers live in their repository: into that registry they are mounted from there, as push mounts them.
      const { isMountLookup } = await import('../content/storage.js');
      const into = destination.transport === 'registry' ? destination.reference.registry : undefined;
      const recorded = await Promise.all(opened.map((source) => (into !== undefined && isMountLookup(source.storage) ? source.storage.mountLookup(into) : undefined)));
      const { withBlobs } = await import('../content/with-blobs.js');
      const view: OpenedSource = {
        endpoint: opened[0]!.endpoint, name: images.join(' + '), root: composed.root, rootBytes: composed.rootBytes,
        storage: withBlobs(opened[0]!.storage, [{ descriptor: composed.root, bytes: composed.rootBytes }], composed.borrowed),
        close: closeAll,
      };
      const copied = await copyImage(sources[0]!, destination, context, view, {
        // Into the repository every image is in, all but the index is there: nothing else is asked for.
        digests: new Set([composed.root.digest]), inPlace: sources.every((s) => s.transport === 'registry' && destination.transport === 'registry' && context.clients.sameEndpoint(s.reference, destination.reference)),
        mountFrom: (desc, registry) => opened.flatMap((source, i) => {
          if (!composed.borrowed[i]!.descriptors.some((d) => d.digest === desc.digest)) return [];
          const own = source.located?.registry === registry ? [source.located.repositoryName] : [];
          return registry === into ? [...own, ...(recorded[i]?.(desc) ?? [])] : own;
        }),
      });
      const { entryLine, entryReport } = await import('./index-entries.js');
      for (const m of composed.manifests) out.info(entryLine(m));
      const count = (outcome: string) => copied.report.blobs.filter((b) => b.outcome === outcome).length;
      out.info(`wrote the index ${copied.digest} to ${copied.report.destination} (${copied.report.blobs.length} blobs: ${count('uploaded')} copied, ${count('mounted')} mounted, ${count('exists')} already there)`);
      let signatures: MadeSignature[] | undefined;
      if (signing) {
        const { reportDestinationSignatures, signDestination } = await import('./key-options.js');
        signatures = await signDestination(context.clients, destination, copied.digest, signing);
        reportDestinationSignatures(out, destination, signing, signatures);
      }
      out.result(copied.digest, {
        digest: copied.digest, size: composed.root.size, mediaType: composed.root.mediaType, destination: copied.report.destination,
        manifests: composed.manifests.map(entryReport),
        blobs: copied.report.blobs, ...(signatures ? { signatures } : {}),
      });
    } catch (err) {
      await closeAll();
      throw err;
    }
  });
}
