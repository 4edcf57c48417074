import { usageError } from './command.js';
import { OcipushError } from '../errors.js';
import type { Output } from './output.js';
import type { ArtifactArgs } from './artifact.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { refuseEmptyOutput } from './output-file.js';

/** Where `artifact get` reads: a registry repository or a layout, seen alike. */
interface ArtifactPlace {
  storage: ReadOnlyStorage;
  /** The reference as messages name it. */
  name: string;
  /** What the reference names: the artifact, or with --artifact-type the image it refers to. */
  resolve(): Promise<Descriptor>;
  referrers(subject: Descriptor, artifactType: string): Promise<Descriptor[]>;
}

/** `artifact get`: an artifact's files back under their titles (or its one file to stdout), each verified and renamed into place when whole, as oras pull (`--oci-layout` too). */
export async function artifactGet(argv: ArtifactArgs, out: Output): Promise<void> {
  refuseEmptyOutput(argv.output, 'a directory');
  const toStdout = argv.output === undefined || argv.output === '-';
  if (toStdout && out.json) throw usageError('--json needs -o DIR: stdout carries the file');
  const { installSignalCleanup } = await import('../content/cleanup.js');
  installSignalCleanup();
  const { layoutTarget, registryReference, withLayout, withRepository } = await import('./repository-ref.js');
  const inLayout = await layoutTarget(argv.reference, 'artifact get');
  let got: Got;
  if (inLayout) {
    const { listLayoutReferrers } = await import('../content/layout-referrers.js');
    got = await withLayout(inLayout, (layout, root) => getFrom({
      storage: layout, name: inLayout.text,
      resolve: async () => root,
      referrers: (subject, type) => listLayoutReferrers(layout, subject, type),
    }, argv, toStdout));
  } else {
    const ref = await registryReference(argv.reference);
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    const { listReferrers } = await import('../registry/referrers.js');
    got = await withRepository(ref, argv, (repository, client) => getFrom({
      storage: repository, name: formatReference(ref),
      resolve: () => repository.resolveToRead(referenceTarget(ref)),
      referrers: async (subject, type) => (await listReferrers(client, ref.repository, subject.digest, { artifactType: type })).manifests,
    }, argv, toStdout));
  }
  for (const file of got.written) out.info(`wrote ${file.path} (${file.size} bytes, ${file.digest})`);
  out.info(`got artifact ${got.artifact.digest} (${got.artifactType})${toStdout ? ' to stdout' : ''}`);
  if (toStdout) return;
  out.result(got.written.map((f) => f.path).join('\n'), { reference: argv.reference, digest: got.artifact.digest, artifactType: got.artifactType, files: got.written });
}

interface Got {
  artifact: Descriptor;
  artifactType: string;
  written: { name: string; path: string; digest: string; size: number; mediaType: string }[];
}

async function getFrom(place: ArtifactPlace, argv: ArtifactArgs, toStdout: boolean): Promise<Got> {
  const { storage, name } = place;
  let artifact = await place.resolve();
  if (argv.artifactType !== undefined) {
    // A referrers tag index can still name an artifact deleted by a tool that does not update it
    // (skopeo, crane): only those that are there compete for newest.
    const listed = await place.referrers(artifact, argv.artifactType);
    const there = await Promise.all(listed.map((d) => storage.exists(d)));
    artifact = await newestOf(listed.filter((_, i) => there[i]), argv.artifactType, `${name} (${artifact.digest})`);
  }
  const { readManifest } = await import('../image/load.js');
  const { parsed } = await readManifest(storage, artifact, { name });
  if (!('layers' in parsed)) throw usageError(`${name}: ${artifact.digest} is an index; name one artifact`);
  const [{ titlePath, titleClash }, { MediaType }] = await Promise.all([import('./artifact-files.js'), import('../oci/media-types.js')]);
  // The empty blob an artifact of annotations alone carries as its one layer (image-spec's
  // guidance; attach -a, oras attach -a) holds no file: oras pull writes nothing for it.
  const placeholder = (layer: Descriptor) => layer.mediaType === MediaType.OciEmpty && layer.annotations?.['org.opencontainers.image.title'] === undefined;
  const files = parsed.layers.filter((layer) => !placeholder(layer)).map((layer) => ({ layer, name: fileName(layer, titlePath) }));
  const clash = titleClash(files.map((f) => f.name));
  if (clash) throw new OcipushError('EINVALID', `${name}: ${clash.replace('two files are named', 'two files of the artifact are titled')}; nothing written`);
  const artifactType = parsed.artifactType ?? parsed.config.mediaType;
  const { pipeline } = await import('node:stream/promises');
  const [{ openFileSink, stdoutSink }, { fromWriteError }] = await Promise.all([import('../archive/sink.js'), import('../errors.js')]);
  const { UNPACK_ANNOTATION, TAR_DIGEST_ANNOTATION, clearKilledUnpacks, unpackDirectory } = await import('./artifact-unpack.js');
  const isDirectory = (layer: Descriptor) => layer.annotations?.[UNPACK_ANNOTATION] === 'true';
  if (toStdout) {
    const directory = files.find((f) => isDirectory(f.layer));
    if (directory) throw usageError(`${name}: ${JSON.stringify(directory.name)} is a directory (oras push packed it); name a directory to unpack it in with -o DIR`);
    if (files.length === 0) throw new OcipushError('ENOTFOUND', `${name}: the artifact ${artifact.digest} holds no file, only its manifest's annotations (ocipush manifest prints them)`);
    if (files.length !== 1) throw usageError(`${name}: the artifact holds ${files.length} files; name a directory with -o DIR`);
    if (process.stdout.isTTY) throw usageError('refusing to write a file to a terminal: name a directory with -o DIR, or pipe the output');
    await pipeline(await storage.fetch(files[0]!.layer), stdoutSink().stream, { end: false });
    return { artifact, artifactType, written: [] };
  }
  const { join, resolve, dirname } = await import('node:path');
  const { makeDirectory } = await import('../content/atomic.js');
  // A directory a killed run had moved aside is back under its name before anything is judged by what is there (--keep-old-files).
  for (const { layer, name: file } of files) if (isDirectory(layer)) await clearKilledUnpacks(join(argv.output!, file));
  for (const { layer, name: file } of files) await refuseThroughLinks(argv.output!, file, name, isDirectory(layer), argv.keepOldFiles === true);
  await makeDirectory(argv.output!);
  const written: Got['written'] = [];
  for (const { layer, name: file } of files) {
    const path = join(argv.output!, file);
    await makeDirectory(dirname(path));
    if (isDirectory(layer)) {
      await unpackDirectory(await storage.fetch(layer), file, argv.output!, layer.annotations?.[TAR_DIGEST_ANNOTATION], `${name}: layer ${layer.digest}`);
      written.push({ name: file, path: resolve(path), digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
      continue;
    }
    const sink = await openFileSink(path);
    try {
      await pipeline(await storage.fetch(layer), sink.stream);
      await sink.commit();
    } catch (err) {
      await sink.abort();
      throw fromWriteError(err, path);
    }
    written.push({ name: file, path: resolve(path), digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
  }
  return { artifact, artifactType, written };
}

/**
 * The referrer made last, by the instant its `org.opencontainers.image.created` annotation names
 * (oras attach writes it); several that it cannot tell apart are listed for the user to name one by digest.
 */
async function newestOf(manifests: readonly Descriptor[], type: string, subject: string): Promise<Descriptor> {
  const { Annotation, compareCreated } = await import('../oci/descriptor.js');
  const created = (d: Descriptor) => d.annotations?.[Annotation.Created];
  const sorted = [...manifests].sort((a, b) => compareCreated(created(b), created(a)));
  if (sorted.length === 0) throw new OcipushError('ENOTFOUND', `no artifact of type ${type} refers to ${subject}`);
  if (sorted.length > 1 && compareCreated(created(sorted[0]!), created(sorted[1]!)) === 0) {
    throw new OcipushError('EUSAGE', `${sorted.length} artifacts of type ${type} refer to ${subject}, none newer than the others: name one by digest (${sorted.map((d) => d.digest).join(', ')})`);
  }
  return sorted[0]!;
}

/** A layer's path under -o: its title, as attach and oras write it (`dir/file.txt` in a subdirectory, as oras pull writes it); one that leaves the directory is refused, an untitled layer is named by its digest. */
function fileName(layer: Descriptor, titlePath: (title: string) => string | undefined): string {
  const title = layer.annotations?.['org.opencontainers.image.title'];
  if (title === undefined) return layer.digest.replace(':', '-');
  const path = titlePath(title);
  if (path === undefined) {
    // The artifact's content, not the command line, is wrong: exit 1, as oras refuses a path traversal.
    throw new OcipushError('EINVALID', `layer ${layer.digest}: its title ${JSON.stringify(title)} is no path inside the output directory; nothing written`);
  }
  return path;
}

/**
 * Refuses, before anything is written, a title whose path under `dir` is a symlink, or goes
 * through one (a write would land wherever it points, which oras pull refuses when that leaves
 * the output directory; here wherever it points), or through a file; or, for a file (`unpacks`
 * false: no directory oras packed, which replaces what has its name), is a directory; or, with
 * `keepOld` (--keep-old-files, oras pull's), is anything at all.
 */
async function refuseThroughLinks(dir: string, title: string, what: string, unpacks: boolean, keepOld: boolean): Promise<void> {
  const [{ lstat }, { join }, { fromSystemError }] = await Promise.all([import('node:fs/promises'), import('node:path'), import('../errors.js')]);
  const parts = title.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    const stat = await lstat(join(dir, sub)).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined; throw fromSystemError(err, join(dir, sub)); });
    if (stat === undefined) return;
    if (stat.isSymbolicLink()) throw new OcipushError('EINVALID', `${what}: refusing to write ${JSON.stringify(title)} through the symlink ${JSON.stringify(join(dir, sub))}; nothing written`);
    if (i < parts.length && !stat.isDirectory()) throw new OcipushError('EINVALID', `${what}: cannot write ${JSON.stringify(title)}: ${JSON.stringify(join(dir, sub))} is no directory; nothing written`);
    if (i === parts.length && keepOld) throw new OcipushError('EINVALID', `${what}: ${JSON.stringify(join(dir, sub))} is there already and --keep-old-files keeps it; nothing written`);
    if (i === parts.length && !unpacks && stat.isDirectory()) throw new OcipushError('EINVALID', `${what}: cannot write the file ${JSON.stringify(title)}: ${JSON.stringify(join(dir, sub))} is a directory; nothing written`);
  }
}
