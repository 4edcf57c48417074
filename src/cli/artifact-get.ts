import { usageError } from './command.js';
import type { Output } from './output.js';
import type { ArtifactArgs } from './artifact.js';
import type { Descriptor } from '../oci/descriptor.js';

/** `artifact get`: an artifact's files back under their titles (or its one file to stdout), each verified and renamed into place when whole, as oras pull. */
export async function artifactGet(argv: ArtifactArgs, out: Output): Promise<void> {
  const { registryReference, withRepository } = await import('./repository-ref.js');
  const ref = await registryReference(argv.reference);
  const toStdout = argv.output === undefined || argv.output === '-';
  if (toStdout && out.json) throw usageError('--json needs -o DIR: stdout carries the file');
  const { installSignalCleanup } = await import('../content/cleanup.js');
  installSignalCleanup();
  const got = await withRepository(ref, argv, async (repository, client) => {
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    let artifact = await repository.resolve(referenceTarget(ref));
    if (argv.artifactType !== undefined) {
      const { listReferrers } = await import('../registry/referrers.js');
      const { manifests } = await listReferrers(client, ref.repository, artifact.digest, { artifactType: argv.artifactType });
      artifact = await newestOf(manifests, argv.artifactType, `${formatReference(ref)} (${artifact.digest})`);
    }
    const { readManifest } = await import('../image/load.js');
    const { parsed } = await readManifest(repository, artifact, { name: formatReference(ref) });
    if (!('layers' in parsed)) throw usageError(`${formatReference(ref)}: ${artifact.digest} is an index; name one artifact`);
    const files = parsed.layers.map((layer) => ({ layer, name: fileName(layer) }));
    const twice = files.find((f, i) => files.findIndex((g) => g.name === f.name) !== i);
    if (twice) throw usageError(`${formatReference(ref)}: two files of the artifact are titled ${JSON.stringify(twice.name)}; nothing written`);
    const { pipeline } = await import('node:stream/promises');
    const { openFileSink, stdoutSink, writeError } = await import('../archive/sink.js');
    if (toStdout) {
      if (files.length !== 1) throw usageError(`${formatReference(ref)}: the artifact holds ${files.length} files; name a directory with -o DIR`);
      if (process.stdout.isTTY) throw usageError('refusing to write a file to a terminal: name a directory with -o DIR, or pipe the output');
      await pipeline(await repository.fetch(files[0]!.layer), stdoutSink().stream, { end: false });
      return { artifact, artifactType: parsed.artifactType ?? parsed.config.mediaType, written: [] };
    }
    const { mkdir } = await import('node:fs/promises');
    const { join, resolve } = await import('node:path');
    await mkdir(argv.output!, { recursive: true });
    const written = [];
    for (const { layer, name } of files) {
      const path = join(argv.output!, name);
      const sink = await openFileSink(path);
      try {
        await pipeline(await repository.fetch(layer), sink.stream);
        await sink.commit();
      } catch (err) {
        await sink.abort();
        throw writeError(err, path);
      }
      written.push({ name, path: resolve(path), digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
    }
    return { artifact, artifactType: parsed.artifactType ?? parsed.config.mediaType, written };
  });
  for (const file of got.written) out.info(`wrote ${file.path} (${file.size} bytes, ${file.digest})`);
  out.info(`got artifact ${got.artifact.digest} (${got.artifactType})${toStdout ? ' to stdout' : ''}`);
  if (toStdout) return;
  out.result(got.written.map((f) => f.path).join('\n'), { reference: argv.reference, digest: got.artifact.digest, artifactType: got.artifactType, files: got.written });
}

/**
 * The referrer made last, by its `org.opencontainers.image.created` annotation (oras attach writes
 * it); several that it cannot tell apart are listed for the user to name one by digest.
 */
async function newestOf(manifests: readonly Descriptor[], type: string, subject: string): Promise<Descriptor> {
  const { OcipushError } = await import('../errors.js');
  const { Annotation } = await import('../oci/descriptor.js');
  const created = (d: Descriptor) => d.annotations?.[Annotation.Created] ?? '';
  const sorted = [...manifests].sort((a, b) => (created(a) > created(b) ? -1 : created(a) < created(b) ? 1 : 0));
  if (sorted.length === 0) throw new OcipushError('ENOTFOUND', `no artifact of type ${type} refers to ${subject}`);
  if (sorted.length > 1 && created(sorted[0]!) === created(sorted[1]!)) {
    throw new OcipushError('EUSAGE', `${sorted.length} artifacts of type ${type} refer to ${subject}, none newer than the others: name one by digest (${sorted.map((d) => d.digest).join(', ')})`);
  }
  return sorted[0]!;
}

/** A layer's file name: its title, as attach and oras write it; a title that is a path is refused, an untitled layer is named by its digest. */
function fileName(layer: Descriptor): string {
  const title = layer.annotations?.['org.opencontainers.image.title'];
  if (title === undefined) return layer.digest.replace(':', '-');
  if (title === '' || title === '.' || title === '..' || title.includes('/') || title.includes('\\') || title.includes('\0')) {
    throw usageError(`layer ${layer.digest}: its title ${JSON.stringify(title)} is not a file name; nothing written`);
  }
  return title;
}
