import { basename, posix } from 'node:path';
import { parseKeyValues, toArray, usageError } from './command.js';
import type { ArtifactBlob } from '../supply-chain/attach.js';

/** FILE or FILE:MEDIATYPE, as oras reads a file reference. */
export function splitFileSpec(spec: string): { path: string; mediaType?: string } {
  const m = /^(.*):([\w.+-]+\/[\w.+-]+)$/.exec(spec);
  return m ? { path: m[1]!, mediaType: m[2]! } : { path: spec };
}

/**
 * The files of an artifact (`attach`, `artifact push`): FILE or FILE:MEDIATYPE, each hashed once
 * and uploaded from disk later (a directory packed as oras packs it), with the annotations an --annotation-file gives it (a title there
 * names it instead of its file's name, as oras reads it). Two files of one name would be one file
 * to `artifact get` and oras pull: refused, as oras refuses them.
 */
export async function artifactFiles(specs: readonly string[], what: string, annotationFile?: AnnotationFile, created?: string): Promise<ArtifactBlob[]> {
  if (specs.length === 0) throw usageError(`${what}: name at least one file`);
  const { fileBlob, TITLE_ANNOTATION } = await import('../supply-chain/attach.js');
  const [{ stat }, { directoryBlob }] = await Promise.all([import('node:fs/promises'), import('./artifact-directory.js')]);
  const blobs: ArtifactBlob[] = [];
  for (const spec of specs) {
    const { path, mediaType } = splitFileSpec(spec);
    const blob = await stat(path).then((s) => s.isDirectory(), () => false)
      ? await directoryBlob(path, titleOf(path), mediaType, await clampTime(created))
      : await fileBlob(path, mediaType, titleOf(path));
    const given = annotationFile?.files.get(path);
    if (given) blob.descriptor.annotations = { ...blob.descriptor.annotations, ...given };
    const title = blob.descriptor.annotations![TITLE_ANNOTATION]!;
    if (titlePath(title) === undefined) throw usageError(`${annotationFile ? `--annotation-file ${annotationFile.path}` : what}: the title ${JSON.stringify(title)} of ${path} is no path inside a directory (artifact get writes each file under its title, in the directory it is given)`);
    const clash = titleClash([...blobs.map((b) => b.descriptor.annotations![TITLE_ANNOTATION]!), title]);
    if (clash) throw usageError(`${what}: ${clash}`);
    blobs.push(blob);
  }
  return blobs;
}

/** The newest mtime a directory's tar keeps: the artifact's created time when one is given (--created, SOURCE_DATE_EPOCH), so the same tree makes the same blob. */
async function clampTime(created: string | undefined): Promise<number | undefined> {
  const { resolveBuildTime } = await import('../assemble/config.js');
  const time = resolveBuildTime(created, process.env.SOURCE_DATE_EPOCH);
  return time.explicit ? time.seconds : undefined;
}

/** The one layer of an artifact of annotations alone: the empty blob, as image-spec asks (and oras writes). */
export async function placeholderLayer(): Promise<ArtifactBlob[]> {
  const [{ EMPTY_DESCRIPTOR, EMPTY_JSON }, { bufferSource }] = await Promise.all([import('../oci/descriptor.js'), import('../content/blob-source.js')]);
  return [{ descriptor: { ...EMPTY_DESCRIPTOR }, source: bufferSource(EMPTY_JSON) }];
}

/**
 * A file's title as oras push writes it: the path as given, cleaned (`./a//b` is `a/b`), so the
 * same command makes the same artifact. A path oras refuses (absolute: --disable-path-validation)
 * or whose title its pull refuses to write (`../x`: --allow-path-traversal) is titled by its file
 * name instead, as ocipush always titled files, rather than refused or made unreadable.
 */
export function titleOf(path: string): string {
  const clean = posix.normalize(path);
  return titlePath(clean) ?? basename(path);
}

/**
 * The path, relative to the directory it is written in, of a title `artifact get` writes (as
 * oras pull does: `a/../b` is `b`); undefined for one that is absolute, leaves the directory or
 * is the directory itself, which oras pull refuses (it writes an absolute title only when the
 * output directory happens to hold it: refused here whatever -o is).
 */
export function titlePath(title: string): string | undefined {
  if (title === '' || title.includes('\\') || title.includes('\0') || title.startsWith('/')) return undefined;
  const clean = posix.normalize(title).replace(/\/+$/, '');
  return clean === '.' || clean === '..' || clean.startsWith('../') ? undefined : clean;
}

/** Why files of these titles cannot all be written in one directory: two of one path, or one a directory of another's path. */
export function titleClash(titles: readonly string[]): string | undefined {
  const paths = titles.map((t) => titlePath(t) ?? t);
  for (const [i, path] of paths.entries()) {
    const j = paths.findIndex((other, k) => k !== i && (other === path || other.startsWith(`${path}/`)));
    if (j === -1) continue;
    return paths[j] === path ? `two files are named ${JSON.stringify(titles[i])}` : `${JSON.stringify(titles[i])} is a file and a directory of ${JSON.stringify(titles[j])}`;
  }
  return undefined;
}

/** oras's --annotation-file: `{"$manifest": {…}, "$config": {…}, "FILE": {…}}`, FILE as the command line names it. */
export interface AnnotationFile {
  path: string;
  manifest: Record<string, string>;
  config: Record<string, string>;
  files: Map<string, Record<string, string>>;
}

/**
 * Reads --annotation-file as oras does (its keys `$manifest`, `$config`, and each FILE as given,
 * without its :MEDIATYPE), refused with -a as oras refuses both. A key that names none of the files
 * is refused too: oras passes over it, and the annotations meant for a file would be lost unsaid.
 */
export async function readAnnotationFile(path: string | undefined, annotation: unknown, specs: readonly string[]): Promise<AnnotationFile | undefined> {
  if (path === undefined) return undefined;
  if (toArray(annotation).length > 0) throw usageError('--annotation and --annotation-file cannot both be given (as in oras): put the manifest\'s annotations under "$manifest" in the file');
  const [{ readFile }, { fromSystemError }] = await Promise.all([import('node:fs/promises'), import('../errors.js')]);
  const text = await readFile(path, 'utf8').catch((err) => { throw fromSystemError(err, path, '--annotation-file: cannot read'); });
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (err) { throw usageError(`--annotation-file ${path}: not JSON (${(err as Error).message})`); }
  const isMap = (v: unknown): v is Record<string, string> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
  const shape = '{"$manifest": {"KEY": "VALUE"}, "$config": {…}, "FILE": {…}}';
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usageError(`--annotation-file ${path}: expected a JSON object, ${shape}`);
  const files = new Map<string, Record<string, string>>();
  const named = new Set(specs.map((s) => splitFileSpec(s).path));
  const out: AnnotationFile = { path, manifest: {}, config: {}, files };
  for (const [key, value] of Object.entries(parsed)) {
    if (!isMap(value)) throw usageError(`--annotation-file ${path}: ${JSON.stringify(key)} must map annotation names to strings, ${shape}`);
    if (key === '$manifest') out.manifest = value;
    else if (key === '$config') out.config = value;
    else if (named.has(key)) files.set(key, value);
    else throw usageError(`--annotation-file ${path}: ${JSON.stringify(key)} is none of the files named (${[...named].join(', ') || 'none'}), nor $manifest or $config`);
  }
  return out;
}

/**
 * The artifact's annotations: `-a KEY=VALUE` (or --annotation-file's `$manifest`), and `org.opencontainers.image.created` from
 * --created or SOURCE_DATE_EPOCH (what tells the newest of several artifacts of one type apart
 * for `artifact get --artifact-type`, as oras writes it); none without either, so the same files
 * give the same artifact.
 */
export async function artifactAnnotations(annotation: unknown, created: string | undefined, annotationFile?: AnnotationFile): Promise<Record<string, string>> {
  const annotations = { ...annotationFile?.manifest, ...parseKeyValues(annotation, 'annotation') };
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
