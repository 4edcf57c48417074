import { OcipushError } from '../errors.js';
import {
  createIgnoreMatcher,
  dockerfileError,
  normalizeWorkdir,
  runUnsupportedError,
  type ResolvedDockerfile,
  type ResolvedInstruction,
  type ResolvedStage,
} from '../dockerfile/index.js';
import { containsWildcards } from '../dockerfile/go-match.js';
import { parseChmod } from '../dockerfile/chmod.js';
import { isGitRef, isHttpSource } from '../dockerfile/git-ref.js';
import { onBuildTrigger } from '../dockerfile/errors.js';
import { foldStage, imageOf, scratchImage, type DockerImage, type HistoryStep } from '../dockerfile/image-config.js';
import type { BaseImage } from '../assemble/base.js';
import type { ArchiveEntry } from './archive.js';
import type { ContextView } from './context.js';
import { CopyError, endsAsDirectory, TreeWriter, type CopySpec, type Owner } from './copy-instruction.js';
import { resolveWildcards } from './wildcards.js';
import { heredocSource } from './heredoc-source.js';
import type { ArchiveFiles } from './extract.js';
import { applyPlanned } from './image-tree.js';
import { plannedEntries, type PlannedEntry } from './layer-writer.js';
import { childPath, cleanAbsolute, FsTree, resolvePath, splitPath, type ArchiveRef, type FsView } from './tree.js';
import { isNumericSpec, parseUserSpec, resolveOwner } from './users.js';

/**
 * Runs the stages a target needs, in Dockerfile order, against filesystem trees: each COPY,
 * ADD and WORKDIR becomes the list of entries of its layer, every instruction its config and
 * history change. Nothing is read from file contents (but local archives' headers) and nothing
 * is written: a missing source, a bad --chown or a RUN fails here, before the first byte of
 * any layer.
 */

export type StageRoot = { kind: 'scratch' } | { kind: 'image'; base: BaseImage };

export interface PlannedLayer {
  createdBy: string;
  /** Where in the Dockerfile (for progress lines). */
  line: number;
  entries: PlannedEntry[];
  /** COPY --link (without --chmod): made on an empty filesystem, whatever the stage holds. */
  linked?: boolean;
  /** An ADD that unpacked an archive. */
  unpacked?: boolean;
}

export interface PlannedStage {
  stage: ResolvedStage;
  root: StageRoot;
  tree: FsTree;
  /** Config and history, the base image's included. */
  image: DockerImage;
  /** The layers this stage adds to its root image, its base stages' first. */
  layers: PlannedLayer[];
  /** Working directory and user at the end of the stage. */
  workingDir: string;
  user: string;
}

/** A local archive ADD may unpack: its entries, read beforehand. */
export interface IndexedArchive {
  archive: ArchiveRef;
  entries: ArchiveEntry[];
}

export interface PlanInputs {
  filename: string;
  resolved: ResolvedDockerfile;
  context: ContextView;
  /** The base image of each stage built FROM an image, with its tree when its layers were read. */
  bases: Map<number, { base: BaseImage; tree?: FsTree }>;
  /** Images named by COPY --from, with their trees. */
  fromImages: Map<string, { base: BaseImage; tree: FsTree }>;
  /** Local archives ADD unpacks, by absolute path. */
  archives: Map<string, IndexedArchive>;
  /** The clamp time (seconds) and its RFC 3339 form. */
  time: number;
  created: string;
  files: ArchiveFiles;
  warn: (message: string) => void;
}

export function planStages(inputs: PlanInputs): Map<number, PlannedStage> {
  const planned = new Map<number, PlannedStage>();
  for (const stage of inputs.resolved.stages) planned.set(stage.index, planStage(inputs, stage, planned));
  return planned;
}

function planStage(inputs: PlanInputs, stage: ResolvedStage, planned: Map<number, PlannedStage>): PlannedStage {
  const describe = `stage ${stage.name ?? stage.index}`;
  let root: StageRoot;
  let tree: FsTree;
  let start: DockerImage;
  let layers: PlannedLayer[] = [];
  let workingDir: string;
  let user: string;
  if (stage.base.kind === 'scratch') {
    root = { kind: 'scratch' };
    tree = new FsTree(describe);
    start = scratchImage();
    workingDir = '/';
    user = '';
  } else if (stage.base.kind === 'image') {
    const b = inputs.bases.get(stage.index)!;
    root = { kind: 'image', base: b.base };
    tree = b.tree ? b.tree.clone(describe) : new FsTree(describe, true);
    start = imageOf(b.base.config);
    workingDir = normalizeWorkdir('', b.base.config.config?.WorkingDir ?? '');
    user = b.base.config.config?.User ?? '';
  } else {
    const parent = planned.get(stage.base.index)!;
    root = parent.root;
    tree = parent.tree.clone(describe);
    start = parent.image;
    layers = [...parent.layers];
    workingDir = parent.workingDir;
    user = parent.user;
  }

  const { image, steps } = foldStage(start, stage, inputs.created);
  const byInstruction = new Map<ResolvedInstruction, HistoryStep>(steps.map((s) => [s.instruction, s]));
  for (const instruction of stage.instructions) {
    const fail = (err: unknown): never => {
      if (err instanceof CopyError) {
        throw dockerfileError(`${instruction.original}: ${err.message}`, instruction, inputs.filename);
      }
      if (err instanceof OcipushError && err.code === 'EDOCKERFILE' && !/^\S+:\d+:\d+: /.test(err.message)) {
        throw dockerfileError(`${instruction.original}: ${err.message}`, instruction, inputs.filename);
      }
      throw err;
    };
    const step = byInstruction.get(instruction);
    switch (instruction.keyword) {
      case 'RUN':
        throw runUnsupportedError(instruction, inputs.filename, onBuildTrigger(stage, instruction));
      case 'USER':
        user = instruction.user;
        break;
      case 'WORKDIR': {
        workingDir = instruction.absolutePath;
        if (workingDir === '/') break;
        const writer = new TreeWriter(tree, inputs.time);
        try {
          writer.mkdirAll(workingDir, ownerFor(user, tree, inputs, instruction));
        } catch (err) {
          fail(err);
        }
        layers.push({ createdBy: step!.createdBy, line: instruction.line, entries: plannedEntries(writer) });
        break;
      }
      case 'COPY':
      case 'ADD': {
        // --link (unless --chmod, as in BuildKit): the copy is made on an empty filesystem, and
        // its layer laid over the stage as it is; what the stage holds does not matter.
        const linked = instruction.link && instruction.chmod === undefined;
        const writer = new TreeWriter(linked ? new FsTree(describe) : tree, inputs.time);
        try {
          copyInstruction(inputs, instruction, writer, workingDir, planned, tree);
        } catch (err) {
          fail(err);
        }
        const entries = plannedEntries(writer);
        if (linked) applyPlanned(tree, entries);
        layers.push({ createdBy: step!.createdBy, line: instruction.line, entries, ...(linked && { linked }), ...(writer.unpacked && { unpacked: true }) });
        break;
      }
    }
  }
  return { stage, root, tree, image, layers, workingDir: workingDir || '/', user };
}

type FileInstruction = Extract<ResolvedInstruction, { keyword: 'COPY' | 'ADD' }>;

function copyInstruction(inputs: PlanInputs, instruction: FileInstruction, writer: TreeWriter, workingDir: string, planned: Map<number, PlannedStage>, stageTree: FsTree): void {
  const dest = destinationPath(instruction.dest, workingDir);
  const spec: CopySpec = {};
  if (instruction.chown !== undefined) spec.chown = ownerFor(instruction.chown, stageTree, inputs, instruction);
  if (instruction.chmod !== undefined) spec.chmod = parseChmod(instruction.chmod);
  if (instruction.exclude.length > 0) spec.exclude = createIgnoreMatcher(instruction.exclude, { source: '--exclude', comments: false });

  let source: FsView = inputs.context;
  if (instruction.keyword === 'COPY' && instruction.fromStage !== undefined) {
    source = planned.get(instruction.fromStage)!.tree;
  } else if (instruction.keyword === 'COPY' && instruction.fromImage !== undefined) {
    source = inputs.fromImages.get(instruction.fromImage)!.tree;
  }
  const unpack = instruction.keyword === 'ADD' && instruction.unpack !== false;
  const parents = instruction.keyword === 'COPY' && instruction.parents;

  let matched = 0;
  for (const src of instruction.sources) {
    if (isRemoteSource(src)) throw new CopyError(remoteSourceMessage(src));
    if (parents) {
      // Each copies its pivot directory's contents into the destination, with or without a
      // trailing /: nothing is copied over another, so these do not count for the warning below.
      copyWithParents(source, src, dest, spec, writer);
      continue;
    }
    const path = cleanAbsolute('/' + src);
    const matches = resolveWildcards(source, path);
    if (!containsWildcards(path) && resolvePath(source, path, true).status !== 'found') {
      throw new CopyError(notFoundMessage(inputs, source, path));
    }
    matched += matches.length;
    for (const match of matches) {
      const archive = unpack ? archiveAt(inputs, match) : undefined;
      if (archive) writer.unpack(archive.entries, archive.archive, `ADD ${src}`, dest, spec.chown);
      else writer.copy(source, match, dest, spec);
    }
  }
  // Heredocs after the paths, whatever the order written (BuildKit's dispatchCopy), never unpacked.
  for (const heredoc of instruction.heredocs) {
    const { view, path } = heredocSource(heredoc, inputs.time);
    writer.copy(view, path, dest, spec);
    matched++;
  }
  if (matched > 1 && !endsAsDirectory(instruction.dest)) {
    inputs.warn(`${inputs.filename}:${instruction.line}: ${instruction.keyword} of several sources to ${instruction.dest}, which does not end with /: as docker build (BuildKit) does, each is copied over the last; end it with / to copy into a directory`);
  }
}

/** COPY --parents: the source path below its `/./` pivot (or all of it) is recreated under the destination. */
function copyWithParents(source: FsView, src: string, dest: string, spec: CopySpec, writer: TreeWriter): void {
  const pivot = src.indexOf('/./');
  const base = pivot < 0 ? '/' : cleanAbsolute('/' + src.slice(0, pivot));
  const pattern = cleanAbsolute('/' + (pivot < 0 ? src : src.slice(pivot + 3))).slice(1);
  if (!containsWildcards(base) && !containsWildcards(pattern)) {
    const why = parentsPathProblem(source, base, pattern);
    if (why !== undefined) throw new CopyError(`${JSON.stringify(cleanAbsolute(`${base}/${pattern}`))}: not found in ${source.describe}${why}`);
  }
  const include = createIgnoreMatcher([pattern], { source: '--parents' });
  const matches = resolveWildcards(source, base);
  for (const match of matches) writer.copy(source, match, dest, { ...spec, include });
}

/**
 * Why the path a COPY --parents names is not there to copy ('' when it is simply missing), or
 * undefined when it is. BuildKit follows symlinks in the source directory (before `/./`), but
 * below it matches the pattern against the tree as walked, links not entered: a link on the way
 * (a pnpm `node_modules/pkg`) leaves the path out, and BuildKit fails with not found.
 */
function parentsPathProblem(source: FsView, base: string, pattern: string): string | undefined {
  const start = resolvePath(source, base, true);
  if (start.status !== 'found') return '';
  const parts = splitPath(pattern);
  let at = start.path;
  for (let i = 0; i < parts.length; i++) {
    at = childPath(at, parts[i]!);
    const found = source.lstat(at);
    if (found.status !== 'found') return '';
    if (i === parts.length - 1) return undefined;
    if (found.node.type === 'symlink') {
      return `: ${JSON.stringify(cleanAbsolute(`${base}/${parts.slice(0, i + 1).join('/')}`))} on the way is a symlink, which COPY --parents does not follow below its source (as docker build); name the path it leads to`;
    }
    if (found.node.type !== 'dir') return '';
  }
  return undefined;
}

/** The archive ADD unpacks at a source path (symlinks followed), if the file is one. */
function archiveAt(inputs: PlanInputs, path: string): IndexedArchive | undefined {
  const r = resolvePath(inputs.context, path, true);
  if (r.status !== 'found' || r.node.type !== 'file' || r.node.content?.kind !== 'disk') return undefined;
  return inputs.archives.get(r.node.content.path);
}

/** BuildKit's pathRelativeToWorkingDir + NormalizePath(keepSlash): absolute, a trailing `/` (or `/.`) kept. */
export function destinationPath(dest: string, workingDir: string): string {
  const input = dest === '' || dest === '.' ? './' : dest;
  const joined = cleanAbsolute(input.startsWith('/') ? input : `${workingDir || '/'}/${input}`);
  if (input.endsWith('/.')) return joined === '/' ? '/.' : `${joined}/.`;
  if (input.endsWith('/') && joined !== '/') return `${joined}/`;
  return joined;
}

/** The ids for a --chown value or the USER a WORKDIR is made for; names are looked up in the stage. */
function ownerFor(spec: string, tree: FsTree, inputs: PlanInputs, instruction: { original: string; line: number }): Owner | undefined {
  if (spec === '') return undefined;
  const parsed = parseUserSpec(spec);
  if (!isNumericSpec(parsed) && tree.partial) {
    throw new OcipushError('EDOCKERFILE', `internal: user names in ${instruction.original} need the base image's /etc/passwd, which was not read`);
  }
  const { owner, missing } = resolveOwner(parsed, tree);
  if (missing.length > 0) {
    inputs.warn(`${inputs.filename}:${instruction.line}: ${instruction.original}: ${missing.join(' and ')} not found in /etc/passwd or /etc/group of the stage: using ${owner.uid}:${owner.gid}, as docker build does`);
  }
  return owner;
}

export function isRemoteSource(src: string): boolean {
  return isHttpSource(src) || isGitRef(src);
}

export function remoteSourceMessage(src: string): string {
  if (isGitRef(src)) return `${src}: ADD of a git repository is not supported (ocipush does not fetch build inputs); clone it into the build context and COPY it instead`;
  return `${src}: ADD from a URL is not supported (ocipush does not download build inputs); download it into the build context and COPY it instead`;
}

function notFoundMessage(inputs: PlanInputs, source: FsView, path: string): string {
  const context = inputs.context;
  if (source === context && context.excludedByIgnore(path)) {
    return `${JSON.stringify(path)}: excluded from the build context by .dockerignore`;
  }
  // A symlink on the way is resolved inside the source's root, as BuildKit does.
  const end = resolvePath(source, path, true).path;
  if (end !== path) {
    const why = source === context && context.excludedByIgnore(end) ? 'which .dockerignore excludes from it' : 'which is not in it';
    return `${JSON.stringify(path)}: not found in ${source.describe}: a symlink leads to ${JSON.stringify(end)} (links resolve inside ${source.describe}), ${why}`;
  }
  return `${JSON.stringify(path)}: not found in ${source.describe}`;
}
