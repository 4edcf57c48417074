import type { Argv } from 'yargs';
import { signFlags, toArray, usageError, type CliCommand } from './command.js';
import { layoutOptionDefault } from '../defaults.js';
import type { Output } from './output.js';
import { checkConcurrency, parseSize, registryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatform, unlistedPlatformOption } from './platform-option.js';
import type { MadeSignature, Signing } from './key-options.js';
import type { Reference } from '../oci/reference.js';

interface PushArgs extends RegistryFlags {
  reference: string;
  destination?: string;
  layout: string;
  tag?: string;
  alsoTag?: string[];
  chunkSize?: string;
  digestFile?: string;
  mountFrom?: string[];
  platform?: string;
  unlistedPlatform?: boolean;
  sign?: boolean;
  key?: string;
  signContainerIdentity?: string;
}


export const pushCommand: CliCommand<PushArgs> = {
  command: 'push <reference> [destination]',
  describe: 'Push an image from an OCI layout to a registry',
  builder: (y: Argv) => registryFlags(signFlags(unlistedPlatformOption(y))
    .positional('reference', { type: 'string', describe: 'Destination: [docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST] (the tag defaults to latest)' })
    .positional('destination', { type: 'string', describe: 'With two arguments, as skopeo copy takes them: the first is the source, oci:DIR[:NAME] (the same as --layout DIR --tag NAME), the second the destination' })
    .option('layout', { type: 'string', default: layoutOptionDefault(), describe: 'OCI image layout to read (env OCIPUSH_LAYOUT)' })
    .option('tag', { alias: 't', type: 'string', describe: 'Image of the layout to push (its tag or digest); default: the destination tag, the only image, or latest' })
    .option('also-tag', { type: 'string', array: true, describe: 'Another tag for the same manifest in the destination repository (repeatable)' })
    .option('chunk-size', { type: 'string', describe: 'Upload every blob in chunks of SIZE (e.g. 4MiB); default: one PUT up to 64 MiB, one streamed PATCH above' })
    .option('mount-from', { type: 'string', array: true, describe: 'Repository of the same registry to mount blobs from instead of uploading them (repeatable)' })
    .option('digest-file', { type: 'string', describe: 'Write the pushed manifest digest to this file' })
    .option('platform', { type: 'string', describe: 'When the image is a multi-platform index, push only this os/arch[/variant] (its manifest)' })
    .example('$0 push localhost:5000/hello:0.1', 'push the image of ./oci-layout')
    .example('$0 push oci:./build:app docker://localhost:5000/app:1', 'source and destination as skopeo copy names them')
    .example('$0 push ghcr.io/me/app:1.2 --also-tag latest -u me --password-stdin < token', 'two tags, credentials on stdin')),
  run: async (argv, out: Output) => {
    const { parseReference, formatReference, isValidTag } = await import('../oci/reference.js');
    const { stripTransport, layoutArgument, looksLikeRegistryReference } = await import('./registry-options.js');
    let destinationText = argv.reference;
    const { refuseForCopy, refuseLoneSource } = await import('./copy-hint.js');
    if (argv.destination === undefined) refuseLoneSource(argv.reference, argv.tag);
    const from = argv.destination !== undefined ? argv.reference : `oci:${argv.layout}${argv.tag !== undefined ? `:${argv.tag}` : ''}`;
    const to = argv.destination ?? argv.reference;
    // The registry first and a layout second is push's arguments swapped, said below; not a copy.
    if (!(to.startsWith('oci:') && await looksLikeRegistryReference(from))) {
      refuseForCopy('push', from, 'layout', { from, to });
      refuseForCopy('push', to, 'registry', { from, to });
    }
    if (argv.destination !== undefined) {
      // The two swapped; a registry image to copy; a name of the layout, as docker push takes it; a path.
      const remote = await looksLikeRegistryReference(argv.reference);
      const hint = remote && !(await looksLikeRegistryReference(argv.destination))
        ? `the layout comes first, as skopeo copy takes them: ocipush push ${argv.destination.startsWith('oci:') ? '' : 'oci:'}${argv.destination} ${argv.reference}`
        : remote ? `an image in a registry is copied with: ocipush copy ${argv.reference} ${argv.destination}`
          : /^\.{0,2}\/|^\.\.?$/.test(argv.reference) ? undefined
            : `an image of the layout is named with --tag: ocipush push ${argv.destination} --tag ${argv.reference}`;
      const source = await layoutArgument(argv.reference, 'source', hint);
      if (source.name !== undefined && argv.tag !== undefined) throw usageError(`--tag ${argv.tag} and ${argv.reference}: name the image once`);
      argv.layout = source.dir;
      if (source.name !== undefined) argv.tag = source.name;
      destinationText = argv.destination;
    }
    const destination = parseReference(stripTransport(destinationText));
    const alsoTags = toArray(argv.alsoTag);
    for (const t of alsoTags) if (!isValidTag(t)) throw usageError(`--also-tag "${t}": not a valid tag`);
    const chunkSize = argv.chunkSize === undefined ? undefined : parseSize(argv.chunkSize, 'chunk-size');
    if (chunkSize !== undefined && chunkSize < 1024) throw usageError(`--chunk-size ${argv.chunkSize}: at least 1KiB`);
    const concurrency = checkConcurrency(argv.concurrency);
    // Checked before any work: a push must not succeed only to fail writing its digest.
    if (argv.digestFile !== undefined) await (await import('./output-file.js')).checkWritableFile(argv.digestFile, 'digest-file');
    const mountFrom = toArray(argv.mountFrom).map((m) => mountRepository(m, destination.registry, parseReference));
    let signing;
    if (argv.sign || argv.key !== undefined || argv.signContainerIdentity !== undefined) {
      const { signingFromFlags } = await import('./key-options.js');
      signing = await signingFromFlags(argv, { transport: 'registry', text: destinationText });
    }

    const { onInterrupt } = await import('./output.js');
    await onInterrupt(out, `push to ${formatReference(destination)}`, `${argv.layout} is left as it was`);
    const pushed = await pushLayoutImage({
      to: stripTransport(destinationText), destination, layout: argv.layout,
      ...(argv.tag !== undefined ? { tag: argv.tag } : {}),
      ...(argv.platform !== undefined ? { platform: checkPlatform(argv.platform, argv.unlistedPlatform)! } : {}),
      alsoTags, mountFrom, ...(chunkSize !== undefined ? { chunkSize } : {}), concurrency,
      ...(signing ? { signing } : {}),
    }, argv, out);
    if (argv.digestFile) {
      const { writeFileAtomic } = await import('../content/atomic.js');
      await writeFileAtomic(argv.digestFile, pushed.digest);
    }
    out.result(pushed.digest, pushed);
  },
};

/** One push of an image from a layout, its flags checked. */
export interface PushRequest {
  /** The destination as given, without `docker://`. */
  to: string;
  destination: Reference;
  layout: string;
  tag?: string;
  platform?: string;
  alsoTags: string[];
  mountFrom: string[];
  chunkSize?: number;
  concurrency: number;
  /** `--sign`: the pushed digest is signed as it asks (in COSIGN_REPOSITORY when set), through the push's own client. */
  signing?: Signing;
}

/** What `push --json` prints of a push. */
export interface PushReport {
  reference: string;
  digest: string;
  size: number;
  mediaType: string;
  tags: string[];
  blobs: { digest: string; size: number; mediaType: string; kind: string; outcome: string }[];
  referrers?: { digest: string; artifactType: string | undefined; via: string; tag?: string }[];
  signatures?: MadeSignature[];
  /** The registry cache entries a `build --cache-repo` left pending, written by this push (when any). */
  cacheEntries?: number;
}

/**
 * The push itself, with its progress and its lines on stderr: what `push` does after parsing its
 * flags, and what `build --push` does after the build. The caller prints the result.
 */
export async function pushLayoutImage(request: PushRequest, flags: RegistryFlags, out: Output): Promise<PushReport> {
  const { destination, signing } = request;
  let signatures: MadeSignature[] = [];
  const { TransferProgress } = await import('./progress.js');
  const { clientFromFlags, registryConnector } = await import('./registry-options.js');
  const elsewhere = registryConnector(flags, [destination.registry]);
  const { pushWith } = await import('../lib/push.js');
  // The layout's signatures and attestations go to COSIGN_REPOSITORY when it is set, as cosign load
  // writes them: read before anything is pushed, a value that is no repository stops the push.
  const signatureRepository = signing ? signing.storedIn : await (await import('./cosign-repository.js')).cosignRepository();
  const progress = new TransferProgress(out, { active: 'pushing', transferred: 'uploaded' });
  let result;
  try {
    result = await pushWith({
      to: request.to,
      layout: request.layout,
      ...(request.tag !== undefined ? { tag: request.tag } : {}),
      ...(request.platform !== undefined ? { platform: request.platform } : {}),
      alsoTag: request.alsoTags,
      mountFrom: request.mountFrom,
      ...(request.chunkSize !== undefined ? { chunkSize: request.chunkSize } : {}),
      concurrency: request.concurrency,
      onEvent: progress.handle,
    }, {
      connect: async (registry, role) => {
        // Base layers and a COSIGN_REPOSITORY on another registry: no --username there, nor
        // OCIPUSH_USERNAME/PASSWORD (they are the destination's: sent to another host, they leak,
        // and fail its login); its own login from the Docker config, the same TLS choices and time limits.
        if (role === 'base') return elsewhere(registry);
        const client = await clientFromFlags(registry, flags, {
          onRetry: (n) => progress.notice(`${n.op}: ${n.reason}, retrying in ${(n.delayMs / 1000).toFixed(1)} s (${n.attempt}/${client.retryPolicy.retries})`),
        });
        return client;
      },
      onRoot: (root, tag) => progress.tagging(root.digest, tag),
      onDownload: (desc, from) => progress.notice(`fetching base layer ${desc.digest} from ${from}`),
      warn: (message) => out.warn(message),
      ...(signatureRepository ? { signatureRepository } : {}),
      ...(signing ? {
        afterPush: async (client, root) => {
          const { signWritten } = await import('./key-options.js');
          // COSIGN_REPOSITORY on another registry: its own login, as for a base's registry.
          signatures = await signWritten(client, destination, root.digest, { ...signing, concurrency: request.concurrency }, elsewhere);
        },
      } : {}),
    });
  } finally {
    progress.finish();
  }
  for (const r of result.referrers) {
    const to = r.storedIn ? ` to ${r.storedIn} (COSIGN_REPOSITORY)` : '';
    out.info(r.tag ? `${r.tag} (${r.descriptor.digest}) pushed${to}` : `referrer ${r.descriptor.digest} (${r.artifactType ?? 'artifact'}) pushed${to}`);
  }
  if (result.cacheEntries > 0) out.info(`wrote ${result.cacheEntries} layer cache entr${result.cacheEntries === 1 ? 'y' : 'ies'}`);

  const blobs = result.blobs;
  const count = (o: string) => blobs.filter((b) => b.outcome === o).length;
  const where = `${destination.registry}/${destination.repository}`;
  const { tags } = result;
  out.info(`pushed ${where}${tags.length > 0 ? `:${tags.join(', :')}` : `@${result.digest}`} (${blobs.length} blobs: ${count('uploaded')} uploaded, ${count('mounted')} mounted, ${count('exists')} already there${(await import('./progress.js')).foreignNote(count('skipped'))})`);
  if (signing) {
    const { reportSignatures } = await import('./key-options.js');
    reportSignatures(out, destination, signatures, signing.storedIn);
  }
  return {
    reference: result.reference,
    digest: result.digest,
    size: result.size,
    mediaType: result.mediaType,
    tags,
    blobs: blobs.map((b) => ({ digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType, kind: b.kind, outcome: b.outcome })),
    ...(result.referrers.length > 0 ? { referrers: result.referrers.map((r) => ({ digest: r.descriptor.digest, artifactType: r.artifactType, via: r.via, ...(r.tag ? { tag: r.tag } : {}) })) } : {}),
    ...(signing ? { signatures } : {}),
    ...(result.cacheEntries > 0 ? { cacheEntries: result.cacheEntries } : {}),
  };
}

/** `--mount-from team/base` or `--mount-from registry/team/base` (which must be the destination's registry). */
function mountRepository(text: string, registry: string, parse: (t: string) => { registry: string; repository: string }): string {
  const withRegistry = text.startsWith(`${registry}/`) ? text : `${registry}/${text}`;
  const ref = parse(withRegistry);
  if (ref.registry !== registry) throw usageError(`--mount-from ${text}: blobs can only be mounted from the same registry (${registry})`);
  return ref.repository;
}
