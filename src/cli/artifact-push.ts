import { toArray, usageError } from './command.js';
import type { Output } from './output.js';
import type { ArtifactArgs } from './artifact.js';
import type { ArtifactBlob } from '../supply-chain/attach.js';
import type { Descriptor } from '../oci/descriptor.js';
import { namesDigest } from '../oci/digest.js';

/** What oras push calls an artifact nobody gave a type. */
export const UNKNOWN_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1';

/**
 * `artifact push REF FILE…`, as `oras push`: the files as the layers of an OCI 1.1 artifact
 * manifest (the empty config, each layer titled with its file's name), under REF's tag (default
 * latest) or by digest. Every file is read and hashed before anything is sent: a missing or
 * unreadable one is one line and the registry is left as it was.
 */
export async function artifactPush(argv: ArtifactArgs, out: Output): Promise<void> {
  if (argv.output !== undefined) throw usageError('--output is for artifact get');
  if (argv.exportManifest !== undefined) await (await import('./output-file.js')).checkWritableFile(argv.exportManifest, 'export-manifest');
  const { artifactFiles, artifactAnnotations, isMediaType, placeholderLayer, readAnnotationFile } = await import('./artifact-files.js');
  const artifactType = argv.artifactType ?? UNKNOWN_ARTIFACT_TYPE;
  if (!isMediaType(artifactType)) throw usageError(`--artifact-type ${JSON.stringify(artifactType)}: expected TYPE/SUBTYPE (a media type)`);
  const { layoutTarget, registryReference, withRepository } = await import('./repository-ref.js');
  const inLayout = await layoutTarget(argv.reference, 'artifact push');
  const annotationFile = await readAnnotationFile(argv.annotationFile, argv.annotation, toArray(argv.files));
  const annotations = await artifactAnnotations(argv.annotation, argv.created, annotationFile);
  const specs = toArray(argv.files);
  // As oras push: no file is an artifact of its type and annotations alone, its one layer the empty blob.
  if (specs.length === 0 && argv.artifactType === undefined && Object.keys(annotations).length === 0) {
    throw usageError('artifact push: name at least one file, or what an artifact without files says: --artifact-type, -a KEY=VALUE');
  }
  const blobs = specs.length > 0 ? await artifactFiles(specs, 'artifact push', annotationFile, argv.created) : await placeholderLayer();
  const configAnnotations = annotationFile?.config ?? {};
  const { pushArtifact, artifactManifest, TITLE_ANNOTATION } = await import('../supply-chain/attach.js');
  const files = specs.length === 0 ? [] : blobs.map(({ descriptor: d }) => ({ name: d.annotations![TITLE_ANNOTATION]!, digest: d.digest, size: d.size, mediaType: d.mediaType }));
  if (inLayout) {
    if (namesDigest(inLayout.name ?? '')) throw usageError(`${argv.reference}: name the artifact in the layout with a tag, not a digest`);
    const { manifest, bytes } = await pushToLayout(inLayout, artifactType, blobs, annotations, configAnnotations);
    await exportManifest(argv.exportManifest, bytes);
    const reference = `oci:${inLayout.path}:${inLayout.name ?? 'latest'}`;
    out.info(`stored artifact ${manifest.digest} as ${reference} (${artifactType}, ${files.length} file${files.length === 1 ? '' : 's'})`);
    out.result(manifest.digest, { reference, digest: manifest.digest, artifactType, files });
    return;
  }
  const ref = await registryReference(argv.reference);
  const expected = artifactManifest(artifactType, blobs, annotations, undefined, configAnnotations).descriptor;
  if (ref.digest !== undefined && ref.digest !== expected.digest) {
    throw usageError(`${argv.reference}: these files make the artifact ${expected.digest}, not ${ref.digest}`);
  }
  const tag = ref.digest !== undefined ? ref.tag : (ref.tag ?? 'latest');
  const { checkConcurrency } = await import('./registry-options.js');
  const concurrency = checkConcurrency(argv.concurrency);
  const pushed = await withRepository(ref, argv, (repository) => pushArtifact(repository, artifactType, blobs, annotations, tag, configAnnotations, concurrency));
  await exportManifest(argv.exportManifest, pushed.bytes);
  const reference = `${ref.registry}/${ref.repository}${tag !== undefined ? `:${tag}` : ''}@${pushed.manifest.digest}`;
  out.info(`pushed artifact ${reference} (${artifactType}, ${files.length} file${files.length === 1 ? '' : 's'})`);
  out.result(pushed.manifest.digest, { reference, digest: pushed.manifest.digest, artifactType, files });
}

/**
 * `artifact push oci:DIR[:NAME]`, as `oras push --oci-layout`: the layout made when missing, the
 * artifact stored and named NAME (default latest), replacing what had that name.
 */
async function pushToLayout(
  target: { path: string; name?: string }, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string>, configAnnotations: Record<string, string>,
): Promise<{ manifest: Descriptor; bytes: Buffer }> {
  const { OciLayout } = await import('../content/layout.js');
  const { pushArtifactToLayout } = await import('../supply-chain/attach.js');
  const { installSignalCleanup } = await import('../content/cleanup.js');
  installSignalCleanup();
  const layout = await OciLayout.open(target.path, { create: true });
  try {
    return await pushArtifactToLayout(layout, artifactType, blobs, annotations, target.name ?? 'latest', configAnnotations);
  } catch (err) {
    await layout.discardIfCreated();
    throw err;
  } finally {
    await layout.close();
  }
}

/** --export-manifest FILE (artifact push, attach), as oras writes it: the manifest's bytes as pushed, whose digest is the artifact's. */
export async function exportManifest(path: string | undefined, bytes: Buffer): Promise<void> {
  if (path === undefined) return;
  const [{ writeFileAtomic }, { fromWriteError }] = await Promise.all([import('../content/atomic.js'), import('../errors.js')]);
  await writeFileAtomic(path, bytes).catch((err: unknown) => { throw fromWriteError(err, path); });
}
