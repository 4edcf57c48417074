import type { Argv } from 'yargs';
import { IMAGE_FORMS, signFlags, usageError } from './command.js';
import { registryFlags, sideRegistryFlags, type RegistryFlags } from './registry-options.js';
import type { Output } from './output.js';
import type { Endpoint, OpenedSource } from './endpoints.js';
import type { CopiedImage, CopyContext } from './copy.js';
import type { RewrittenImages } from '../assemble/rewrite-images.js';
import type { BorrowedBlobs } from '../content/with-blobs.js';
import type { Descriptor } from '../oci/descriptor.js';
import { namesDigest } from '../oci/digest.js';
import type { MadeSignature, Signing } from './key-options.js';

/** The arguments `mutate`, `rebase` and `flatten` share: a source, where the result goes, the registry flags of both sides. */
export function changedImageArgs(y: Argv, options: (y: Argv) => Argv): Argv {
  return sideRegistryFlags(sideRegistryFlags(registryFlags(signFlags(options(y
    .positional('source', { type: 'string', describe: IMAGE_FORMS })
    .positional('destination', { type: 'string', describe: 'Where the result goes, in the same forms (default: the source\'s own tag, replaced; by digest for a digest)' }))
    .option('digest-file', { type: 'string', describe: 'Write the new manifest (or index) digest to this file' })
    .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Say what would change and the digest it would have; write nothing' }))), 'src'), 'dest');
}

/** The arguments `mutate`, `rebase` and `flatten` share (`changedImageArgs` declares them). */
export interface ChangedImageArgs extends RegistryFlags {
  source: string;
  destination?: string;
  digestFile?: string;
  dryRun?: boolean;
  sign?: boolean;
  key?: string;
  signContainerIdentity?: string;
}

/** Blobs a change borrows from another storage (a new base's layers, a flattened layer), and where a registry holds them. */
export interface Borrowed {
  blobs: BorrowedBlobs[];
  mountFrom?: (desc: Descriptor, registry: string) => string[];
}

/** What a change made of the opened source, and what the verb says about it. */
export interface ChangeMade {
  changed: RewrittenImages;
  borrowed?: Borrowed;
  /** Lines said before the report's own, and fields added to its JSON. */
  lines?: string[];
  json?: Record<string, unknown>;
  /** Releases what `make` opened (a rebase's bases), once the change is written or given up. */
  close?: () => Promise<void>;
}

/** One verb that changes an image: `mutated`, `rebased`, `flattened`. */
export interface ImageChange {
  verb: string;
  make(src: OpenedSource, context: CopyContext): Promise<ChangeMade>;
}

/**
 * The one run of `mutate`, `rebase` and `flatten`: the arguments checked (and the key for
 * `--sign` opened) before anything is read, the source opened, the change made, then, unless
 * `--dry-run`, written in place or to the destination, its digest written to `--digest-file`,
 * signed, and reported. The signatures and SBOMs of the old image do not follow: the changed one
 * has a new digest.
 */
export async function runChange(argv: ChangedImageArgs, out: Output, change: ImageChange): Promise<void> {
  const { parseEndpoint, openSource } = await import('./endpoints.js');
  const source = await parseEndpoint(argv.source);
  const destination = argv.destination === undefined ? undefined : await parseEndpoint(argv.destination, { as: 'destination' });
  const signing = await checkArguments(source, destination, argv);
  if (argv.digestFile !== undefined) await (await import('./output-file.js')).checkWritableFile(argv.digestFile, 'digest-file');
  const target = destination ?? source;
  const { withCopyContext } = await import('./copy.js');
  await withCopyContext(argv, out, source, target, { referrers: false }, async (context) => {
    // A dry run writes nothing: a lazy layout's base layers flatten reads are streamed from their registry, not kept.
    const src = await openSource(source, { connect: (r) => context.clients.connect('src', r), ...(argv.dryRun ? { keep: false } : {}) });
    let made: ChangeMade;
    try {
      made = await change.make(src, context);
    } catch (err) {
      await src.close();
      throw err;
    }
    try {
      if (argv.dryRun) {
        await src.close();
        await reportChanged(out, src, made, notWritten(target), change.verb, { target, signatures: undefined });
        return;
      }
      const written = await writeChanged(src, source, destination, made.changed, context, made.borrowed);
      if (argv.digestFile) {
        const { writeFileAtomic } = await import('../content/atomic.js');
        await writeFileAtomic(argv.digestFile, made.changed.root.digest);
      }
      const signatures = await signChanged(signing, target, made.changed.root.digest, context);
      await reportChanged(out, src, made, writtenBy(written), change.verb, { target, signatures, ...(signing ? { signing } : {}) });
    } finally {
      await made.close?.();
    }
  });
}

/**
 * What `mutate`, `rebase` and `flatten` check before anything is read: an archive cannot be changed where it
 * is (it needs a destination), and `--sign` needs a key that opens and a registry or layout to sign in.
 */
async function checkArguments(
  source: Endpoint, destination: Endpoint | undefined, argv: { sign?: boolean; key?: string; signContainerIdentity?: string },
): Promise<Signing | undefined> {
  if (!destination && source.transport !== 'registry' && source.transport !== 'oci') {
    throw usageError(`${source.text}: an archive is not rewritten in place; name a destination`);
  }
  const { signingFromFlags } = await import('./key-options.js');
  return signingFromFlags(argv, destination ?? source);
}

/** With `--sign`: signs the changed image where it was written. */
async function signChanged(
  signing: Signing | undefined, target: Endpoint, digest: Descriptor['digest'], context: CopyContext,
): Promise<MadeSignature[] | undefined> {
  if (!signing) return undefined;
  const { signDestination } = await import('./key-options.js');
  return signDestination(context.clients, target, digest, signing);
}

/**
 * Writes an image changed in memory (`mutate`, `rebase`, `flatten`): the source seen with the new
 * configs and manifests (and any blobs borrowed from elsewhere: a new base's layers, a flattened
 * layer made again as it is read) is copied to `destination` like any image, except that into the source's own repository or layout only what
 * the change added is written or asked for: no other layer is looked at, and a lazily built layout
 * stays lazy. With no destination the changed image takes the source's place: its tag, its name
 * in the layout, or, for a registry image named by digest, the new digest.
 */
async function writeChanged(
  src: OpenedSource, source: Endpoint, destination: Endpoint | undefined, changed: RewrittenImages, context: CopyContext,
  borrowed: Borrowed = { blobs: [] },
): Promise<CopiedImage> {
  const { withBlobs } = await import('../content/with-blobs.js');
  const made = [...changed.blobs, { descriptor: changed.root, bytes: changed.rootBytes }];
  const view: OpenedSource = { ...src, storage: withBlobs(src.storage, made, borrowed.blobs), root: changed.root, rootBytes: changed.rootBytes };
  const target = destination ?? await inPlaceTarget(source, view, changed.root.digest);
  const digests = new Set<string>([...made.map((b) => b.descriptor.digest), ...borrowed.blobs.flatMap((b) => b.descriptors.map((d) => d.digest))]);
  const { copyImage } = await import('./copy.js');
  return copyImage(source, target, context, view, {
    digests, inPlace: await sameStorage(source, target, context), ...(borrowed.mountFrom ? { mountFrom: borrowed.mountFrom } : {}),
  });
}

async function inPlaceTarget(source: Endpoint, view: OpenedSource, digest: Descriptor['digest']): Promise<Endpoint> {
  if (source.transport === 'registry') {
    const { digest: _old, ...reference } = source.reference;
    return { ...source, reference: reference.tag ? reference : { ...reference, digest } };
  }
  if (source.transport !== 'oci') return source; // an archive: refused before it was opened (checkArguments)
  const { Annotation } = await import('../oci/descriptor.js');
  const name = source.name !== undefined && !namesDigest(source.name) ? source.name : view.root.annotations?.[Annotation.RefName];
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

/** Where a changed image went and what became of its blobs; with `--dry-run`, where it would go. */
interface WrittenChange {
  destination: string;
  blobs: CopiedImage['report']['blobs'];
  dryRun?: boolean;
}

/** What the report says of a copy that wrote the changed image. */
function writtenBy(copied: CopiedImage): WrittenChange {
  return { destination: copied.report.destination, blobs: copied.report.blobs };
}

/** What the report says with `--dry-run`: where the changed image would go, nothing written. */
function notWritten(target: Endpoint): WrittenChange {
  return { destination: target.text, blobs: [], dryRun: true };
}

/** Where a changed image was signed (`--sign`), for the report. */
interface ChangedSignatures {
  target: Endpoint;
  signatures: MadeSignature[] | undefined;
  signing?: Signing;
}

/**
 * The lines and the JSON of a changed image: the verb's own lines, each image of an index that
 * changed, the attestation manifests left out, the line `<verb> SRC (old) into DST (new)`, then
 * the signatures made.
 */
async function reportChanged(
  out: Output, src: OpenedSource, made: ChangeMade, written: WrittenChange, verb: string, signed: ChangedSignatures,
): Promise<void> {
  const { changed } = made;
  const where = written.destination;
  const { describePlatform, platformFields } = await import('../oci/descriptor.js');
  for (const line of made.lines ?? []) out.info(line);
  // An index's images, one line each; a single image's change is the last line.
  for (const image of changed.images.filter((i) => i.to !== changed.root.digest)) out.info(`${describePlatform(image.platform)} ${image.from} -> ${image.to}`);
  const dropped = changed.dropped.length;
  if (dropped > 0) out.info(`left out ${dropped} attestation manifest${dropped === 1 ? '' : 's'} of the old images (${changed.dropped.map((d) => d.digest).join(', ')})`);
  const unchanged = changed.root.digest === src.root.digest;
  if (written.dryRun) {
    out.info(unchanged ? `${src.name} already is what this makes (${src.root.digest}); nothing to write` : `would have ${verb} ${src.name} (${src.root.digest}) into ${where} (${changed.root.digest}); nothing written (--dry-run)`);
  } else {
    out.info(unchanged
      ? `${src.name} already is what this makes (${src.root.digest}); ${where === src.name ? 'nothing written' : `copied to ${where}`}`
      : `${verb} ${src.name} (${src.root.digest}) into ${where} (${changed.root.digest})`);
  }
  if (signed.signatures && signed.signing) {
    const { reportDestinationSignatures } = await import('./key-options.js');
    reportDestinationSignatures(out, signed.target, signed.signing, signed.signatures);
  }
  out.result(changed.root.digest, {
    source: src.name, destination: where, digest: changed.root.digest, size: changed.root.size, mediaType: changed.root.mediaType,
    previous: src.root.digest,
    images: changed.images.map((i) => ({ ...platformFields(i.platform), previous: i.from, digest: i.to })),
    ...made.json,
    dropped: changed.dropped.map((d) => ({ digest: d.digest, mediaType: d.mediaType })),
    blobs: written.blobs,
    ...(signed.signatures ? { signatures: signed.signatures } : {}),
    ...(written.dryRun ? { dryRun: true } : {}),
  });
}
