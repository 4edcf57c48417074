import { parseKeyValues, usageError } from './command.js';
import type { ArtifactBlob } from '../supply-chain/attach.js';

/**
 * The files of an artifact (`attach`, `artifact push`): FILE or FILE:MEDIATYPE, each hashed once
 * and uploaded from disk later. Two files of one name would be one file to `artifact get` and
 * oras pull: refused, as oras refuses them.
 */
export async function artifactFiles(specs: readonly string[], what: string): Promise<ArtifactBlob[]> {
  if (specs.length === 0) throw usageError(`${what}: name at least one file`);
  const { fileBlob, TITLE_ANNOTATION } = await import('../supply-chain/attach.js');
  const { stat } = await import('node:fs/promises');
  const blobs: ArtifactBlob[] = [];
  for (const spec of specs) {
    const m = /^(.*):([\w.+-]+\/[\w.+-]+)$/.exec(spec);
    const path = m ? m[1]! : spec;
    if (await stat(path).then((s) => s.isDirectory(), () => false)) throw usageError(`${path}: a directory; an artifact holds files (tar it first)`);
    const blob = await fileBlob(path, m ? m[2] : undefined);
    const title = blob.descriptor.annotations?.[TITLE_ANNOTATION];
    if (blobs.some((b) => b.descriptor.annotations?.[TITLE_ANNOTATION] === title)) throw usageError(`${what}: two files are named ${JSON.stringify(title)}`);
    blobs.push(blob);
  }
  return blobs;
}

/**
 * The artifact's annotations: `-a KEY=VALUE`, and `org.opencontainers.image.created` from
 * --created or SOURCE_DATE_EPOCH (what tells the newest of several artifacts of one type apart
 * for `artifact get --artifact-type`, as oras writes it); none without either, so the same files
 * give the same artifact.
 */
export async function artifactAnnotations(annotation: unknown, created: string | undefined): Promise<Record<string, string>> {
  const annotations = parseKeyValues(annotation, 'annotation');
  const { resolveBuildTime, formatTime } = await import('../assemble/config.js');
  const time = resolveBuildTime(created, process.env.SOURCE_DATE_EPOCH);
  const { Annotation } = await import('../oci/descriptor.js');
  if (time.explicit && annotations[Annotation.Created] === undefined) annotations[Annotation.Created] = formatTime(time.seconds);
  return annotations;
}

/** A media type as --artifact-type takes it: TYPE/SUBTYPE. */
export function isMediaType(text: string | undefined): text is string {
  return text !== undefined && /^[\w.+-]+\/[\w.+-]+$/.test(text);
}
