import type { Argv } from 'yargs';
import { toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { ArtifactBlob } from '../supply-chain/attach.js';
import type { LayoutTarget } from './repository-ref.js';

interface AttachArgs extends RegistryFlags {
  reference: string;
  files?: string[];
  artifactType?: string;
  annotation?: string[];
  annotationFile?: string;
  created?: string;
  exportManifest?: string;
}

export const attachCommand: CliCommand<AttachArgs> = {
  command: 'attach <reference> [files..]',
  describe: 'Attach files to an image as an OCI 1.1 artifact that refers to it (as oras attach)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'The image: [docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME] (a layout)' })
    .positional('files', { type: 'string', array: true, describe: 'FILE or FILE:MEDIATYPE (default media type application/vnd.oci.image.layer.v1.tar)' })
    .option('artifact-type', { type: 'string', describe: 'The artifact\'s type, e.g. application/vnd.example.report+json (required)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE manifest annotation (repeatable)' })
    .option('annotation-file', { type: 'string', describe: 'Annotations from a JSON file, as oras reads it: {"$manifest": {…}, "$config": {…}, "FILE": {…}}' })
    .option('created', { type: 'string', describe: 'The artifact\'s org.opencontainers.image.created (RFC 3339 or unix seconds); default SOURCE_DATE_EPOCH, else none, so the same files give the same artifact' })
    .option('export-manifest', { type: 'string', describe: 'Also write the artifact\'s manifest, byte for byte as pushed, to FILE (as oras attach --export-manifest)' })
    .example('$0 attach localhost:5000/app:1 --artifact-type application/vnd.example.notes notes.txt', 'notes.txt now refers to app:1')
    .example('$0 attach oci:out:app --artifact-type application/vnd.example.notes notes.txt', 'the same in a layout; copy and push take it along')),
  run: async (argv, out: Output) => {
    const { artifactFiles, artifactAnnotations, isMediaType, placeholderLayer, readAnnotationFile } = await import('./artifact-files.js');
    if (!isMediaType(argv.artifactType)) throw usageError('attach needs --artifact-type TYPE/SUBTYPE (a media type)');
    if (argv.exportManifest !== undefined) await (await import('./output-file.js')).checkWritableFile(argv.exportManifest, 'export-manifest');
    const { exportManifest } = await import('./artifact-push.js');
    const files = toArray(argv.files);
    const annotationFile = await readAnnotationFile(argv.annotationFile, argv.annotation, files);
    const annotations = await artifactAnnotations(argv.annotation, argv.created, annotationFile);
    const configAnnotations = annotationFile?.config ?? {};
    const { layoutTarget } = await import('./repository-ref.js');
    const inLayout = await layoutTarget(argv.reference, 'attach');
    // As oras attach: with no file, manifest annotations alone are an artifact, its one layer the empty blob (image-spec's guidance).
    if (files.length === 0 && toArray(argv.annotation).length === 0 && Object.keys(annotationFile?.manifest ?? {}).length === 0) {
      throw usageError('attach: name at least one file, or an annotation (-a KEY=VALUE, or "$manifest" in --annotation-file)');
    }
    const blobs = files.length > 0 ? await artifactFiles(files, 'attach', annotationFile, argv.created) : await placeholderLayer();
    if (inLayout) return attachInLayout(inLayout, argv.artifactType, blobs, annotations, configAnnotations, argv.exportManifest, out);
    const { parseReference, referenceTarget } = await import('../oci/reference.js');
    const { stripTransport } = await import('./registry-options.js');
    const source = parseReference(stripTransport(argv.reference));
    const { attachArtifact } = await import('../supply-chain/attach.js');
    const { clientFromFlags, checkConcurrency } = await import('./registry-options.js');
    const { Repository } = await import('../registry/repository.js');
    const client = await clientFromFlags(source.registry, argv);
    let result;
    let subject;
    try {
      const repo = new Repository(client, source.repository);
      subject = await repo.resolveToRead(referenceTarget(source));
      result = await attachArtifact(repo, subject, argv.artifactType, blobs, annotations, configAnnotations, checkConcurrency(argv.concurrency));
      await client.close();
    } catch (err) {
      await client.destroy();
      throw err;
    }
    await exportManifest(argv.exportManifest, result.bytes);
    const name = `${source.registry}/${source.repository}`;
    out.info(`attached ${argv.artifactType} ${name}@${result.manifest.digest} to ${name}@${subject.digest} (${result.via === 'api' ? 'referrers API' : 'referrers tag schema'})`);
    out.result(result.manifest.digest, { digest: result.manifest.digest, subject: subject.digest, artifactType: argv.artifactType, via: result.via });
  },
};

/** attach into a layout: the subject is the image NAME (or the only image) there. */
async function attachInLayout(
  target: LayoutTarget, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string>, configAnnotations: Record<string, string>,
  exportTo: string | undefined, out: Output,
): Promise<void> {
  const { withLayout } = await import('./repository-ref.js');
  const { attachToLayout } = await import('../supply-chain/attach.js');
  await withLayout(target, async (layout, subject) => {
    const { manifest, bytes } = await attachToLayout(layout, subject, artifactType, blobs, annotations, configAnnotations);
    await (await import('./artifact-push.js')).exportManifest(exportTo, bytes);
    out.info(`attached ${artifactType} ${manifest.digest} to ${target.text} (${subject.digest}) in the layout ${layout.root}`);
    out.result(manifest.digest, { digest: manifest.digest, subject: subject.digest, artifactType, via: 'layout' });
  });
}
