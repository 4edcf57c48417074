import type { Argv } from 'yargs';
import { parseCommandLine, parseKeyValues, toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, sideRegistryFlags, type RegistryFlags } from './registry-options.js';
import type { Endpoint, OpenedSource } from './endpoints.js';
import type { ImageChanges, MutatedImage } from '../assemble/mutate.js';
import type { CopiedImage, CopyContext } from './copy.js';

interface MutateArgs extends RegistryFlags {
  source: string;
  destination?: string;
  label?: string[];
  annotation?: string[];
  env?: string[];
  entrypoint?: string;
  cmd?: string;
  workdir?: string;
  user?: string;
  expose?: string[];
  digestFile?: string;
}

export const mutateCommand: CliCommand<MutateArgs> = {
  command: 'mutate <source> [destination]',
  describe: 'Change the labels, environment, entrypoint … of an image (every platform of an index) and its annotations, without moving a layer',
  builder: (y: Argv) => sideRegistryFlags(sideRegistryFlags(registryFlags(y
    .positional('source', { type: 'string', describe: 'REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:NAME:TAG]' })
    .positional('destination', { type: 'string', describe: 'Where the changed image goes, in the same forms (default: the source\'s own tag, replaced; by digest for a digest)' })
    .option('label', { alias: 'l', type: 'string', array: true, describe: 'KEY=VALUE image label, added or replaced (repeatable)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation of the manifest, or of the index (repeatable)' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'KEY=VALUE in the environment, replaced where it is set (repeatable)' })
    .option('entrypoint', { type: 'string', describe: 'Entrypoint: a JSON array, or words split at spaces (resets an inherited cmd, as docker does)' })
    .option('cmd', { type: 'string', describe: 'Cmd: a JSON array, or words split at spaces' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory of the container' })
    .option('user', { type: 'string', describe: 'User (and group) the container runs as: UID[:GID] or a name' })
    .option('expose', { type: 'string', array: true, describe: 'PORT[/tcp|udp|sctp] added to the exposed ports (repeatable)' })
    .option('digest-file', { type: 'string', describe: 'Write the new manifest (or index) digest to this file' })
    .example('$0 mutate registry.example.com/app:1.4 --label org.opencontainers.image.revision=$GIT_SHA', 'label every platform of app:1.4 in place')
    .example('$0 mutate oci:build:app registry.example.com/app:1.4 --env MODE=production', 'change the environment on the way to a registry')), 'src'), 'dest'),
  run: async (argv, out: Output) => {
    const changes = changesFromFlags(argv);
    const { hasChanges } = await import('../assemble/mutate.js');
    if (!hasChanges(changes)) throw usageError('mutate: nothing to change; give --label, --annotation, --env, --entrypoint, --cmd, --workdir, --user or --expose');
    const { parseEndpoint } = await import('./endpoints.js');
    const source = await parseEndpoint(argv.source);
    const destination = argv.destination === undefined ? undefined : await parseEndpoint(argv.destination);
    if (!destination && source.transport !== 'registry' && source.transport !== 'oci') {
      throw usageError(`${source.text}: an archive is not rewritten in place; name a destination`);
    }
    const { withCopyContext } = await import('./copy.js');
    // The changed image has a new digest: the signatures and SBOMs of the old one are not its own.
    await withCopyContext(argv, out, source, destination ?? source, { referrers: false }, async (context) => {
      const { openSource } = await import('./endpoints.js');
      const src = await openSource(source, { connect: (r) => context.clients.connect('src', r) });
      const { mutateImage } = await import('../assemble/mutate.js');
      let mutated: MutatedImage;
      try {
        mutated = await mutateImage(src.storage, src.root, src.rootBytes, changes, src.name);
      } catch (err) {
        await src.close();
        throw err;
      }
      const { withBlobs } = await import('../content/with-blobs.js');
      const changed: OpenedSource = { ...src, storage: withBlobs(src.storage, [...mutated.blobs, { descriptor: mutated.root, bytes: mutated.rootBytes }]), root: mutated.root, rootBytes: mutated.rootBytes };
      const written = await writeMutated(changed, source, destination, mutated, context);
      if (argv.digestFile) {
        const { writeFileAtomic } = await import('../content/atomic.js');
        await writeFileAtomic(argv.digestFile, mutated.root.digest);
      }
      await report(out, src, mutated, written);
    });
  },
};

async function report(out: Output, src: OpenedSource, mutated: MutatedImage, written: CopiedImage): Promise<void> {
  const where = written.report.destination;
  const { formatPlatform } = await import('../oci/descriptor.js');
  // An index's images, one line each; a single image's change is the last line.
  for (const image of mutated.images.filter((i) => i.to !== mutated.root.digest)) out.info(`${formatPlatform(image.platform)} ${image.from} -> ${image.to}`);
  const dropped = mutated.dropped.length;
  if (dropped > 0) out.info(`left out ${dropped} attestation manifest${dropped === 1 ? '' : 's'} of the old images (${mutated.dropped.map((d) => d.digest).join(', ')})`);
  out.info(mutated.root.digest === src.root.digest
    ? `${src.name} already is what these changes make (${src.root.digest}); ${where === src.name ? 'nothing written' : `copied to ${where}`}`
    : `mutated ${src.name} (${src.root.digest}) into ${where} (${mutated.root.digest})`);
  out.result(mutated.root.digest, {
    source: src.name, destination: where, digest: mutated.root.digest, size: mutated.root.size, mediaType: mutated.root.mediaType,
    previous: src.root.digest,
    images: mutated.images.map((i) => ({ platform: formatPlatform(i.platform), previous: i.from, digest: i.to })),
    dropped: mutated.dropped.map((d) => ({ digest: d.digest, mediaType: d.mediaType })),
    blobs: written.report.blobs,
  });
}

function changesFromFlags(argv: MutateArgs): ImageChanges {
  return {
    run: {
      labels: parseKeyValues(argv.label, 'label'),
      env: toArray(argv.env),
      expose: toArray(argv.expose),
      ...(argv.entrypoint !== undefined ? { entrypoint: parseCommandLine(argv.entrypoint, 'entrypoint') } : {}),
      ...(argv.cmd !== undefined ? { cmd: parseCommandLine(argv.cmd, 'cmd') } : {}),
      ...(argv.workdir !== undefined ? { workdir: argv.workdir } : {}),
      ...(argv.user !== undefined ? { user: argv.user } : {}),
    },
    annotations: parseKeyValues(argv.annotation, 'annotation'),
  };
}

/**
 * The changed image copied to `destination` like any image, except that into the source's own
 * repository or layout only what the change made is written (new configs, manifests, the root
 * under its name): nothing else is asked for, so no layer is looked at and a lazily built layout
 * stays lazy. With no destination given, the changed image takes the source's place: its tag, its
 * name in the layout, or, for a registry image named by digest, the new digest.
 */
async function writeMutated(
  changed: OpenedSource, source: Endpoint, destination: Endpoint | undefined, mutated: MutatedImage, context: CopyContext,
): Promise<CopiedImage> {
  const target = destination ?? await inPlace(source, changed, mutated);
  const { copyImage } = await import('./copy.js');
  const digests = new Set<string>([mutated.root.digest, ...mutated.blobs.map((b) => b.descriptor.digest)]);
  return copyImage(source, target, context, changed, { digests, inPlace: await sameStorage(source, target, context) });
}

async function inPlace(source: Endpoint, changed: OpenedSource, mutated: MutatedImage): Promise<Endpoint> {
  if (source.transport === 'registry') {
    const { digest: _old, ...reference } = source.reference;
    return { ...source, reference: reference.tag ? reference : { ...reference, digest: mutated.root.digest } };
  }
  if (source.transport !== 'oci') return source; // an archive: refused before it was opened
  const { Annotation } = await import('../oci/descriptor.js');
  const name = source.name !== undefined && !source.name.startsWith('sha256:') ? source.name : changed.root.annotations?.[Annotation.RefName];
  if (name === undefined) throw usageError(`${source.text}: the image has no name in the layout for the changed one to take; name a destination (oci:DIR:NAME)`);
  return { ...source, name };
}

/** Whether both ends are the same registry repository (with the same credentials) or the same layout. */
async function sameStorage(a: Endpoint, b: Endpoint, context: CopyContext): Promise<boolean> {
  if (a.transport === 'registry' && b.transport === 'registry') return context.clients.sameEndpoint(a.reference, b.reference);
  if (a.transport === 'oci' && b.transport === 'oci') {
    const { resolve } = await import('node:path');
    return resolve(a.path) === resolve(b.path);
  }
  return false;
}
