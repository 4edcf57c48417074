import { normalizeWorkdir, type ResolvedDockerfile } from '../dockerfile/index.js';
import { createdDirectoryMode, parseChmod } from '../dockerfile/chmod.js';
import type { BaseImage } from '../assemble/base.js';
import type { PlannedLayer } from './stage-plan.js';
import { hasContent } from './layer-writer.js';
import { destinationPath } from './stage-plan.js';
import { cleanAbsolute } from './tree.js';
import { isNumericSpec, parseUserSpec } from './users.js';

/**
 * Which base images a build -f reads the layers of. By default a build plans on the base's tree:
 * read from its layers once, then kept in the layout without the files' bytes
 * (base-tree-cache.ts), which answers every question but a file's bytes. With `--lazy-base` it
 * stays lazy (its layers referenced, never downloaded) unless the plan needs to know its files;
 * the reasons are found before the plan from the Dockerfile (treesNeeded), or after a lazy plan
 * from what it would write (entersUnseenLink); a plan on a kept tree that would copy a base
 * file's bytes reads the layers too (copiesUnreadBytes).
 */

/**
 * Why a stage's base is read, and how much of it the plan needs: `tree`, the base's
 * directories under what its COPY, ADD and WORKDIR write (a kept tree does; with --lazy-base,
 * nothing is read); `layout`, which directories and links it has, or its /etc/passwd (a kept
 * tree does; with --lazy-base, its layers are read); `bytes`, its files' contents (its layers
 * are read).
 */
export interface ReadNeed {
  why: string;
  level: ReadLevel;
}

export type ReadLevel = 'tree' | 'layout' | 'bytes';
const LEVELS: ReadLevel[] = ['tree', 'layout', 'bytes'];

/**
 * Directories that are symlinks in most current images (usrmerge: /bin → usr/bin, /lib →
 * usr/lib, …; /var/run → ../run). A lazy plan cannot see it, and would write bin/app under a
 * bin/ of its own: a runtime that unpacks each layer into a directory of its own (Docker's
 * overlay2, containers/storage's overlay) then makes /bin a real directory holding only app,
 * hiding /bin/sh. BuildKit resolves the link and writes usr/bin/app.
 */
const OFTEN_SYMLINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/var/run', '/var/lock'];

/**
 * The stages built FROM an image whose tree the plan needs, with the first reason of the
 * highest level: a COPY, ADD or WORKDIR writing into it (tree); a non-root --chown or WORKDIR
 * owner, which needs the base's /etc/passwd and where its directories are (BuildKit only chowns
 * what it creates), an octal --chmod other than 0755, for the same reason (it is the mode of the
 * directories the copy creates: taken as new, /etc would get it), a COPY or ADD into a directory
 * that is often a symlink (OFTEN_SYMLINKS) (layout); everything when asked to, and a stage COPY
 * --from reads files of (bytes).
 * The need goes to the stage at the root of a FROM chain, since the others start from its tree.
 */
export function treesNeeded(resolved: ResolvedDockerfile, bases: Map<number, BaseImage>, all: boolean): Map<number, ReadNeed> {
  const byIndex = new Map(resolved.stages.map((s) => [s.index, s]));
  const rootOf = (index: number): number => {
    let s = byIndex.get(index)!;
    while (s.base.kind === 'stage') s = byIndex.get(s.base.index)!;
    return s.index;
  };
  const needs = new Map<number, ReadNeed>();
  const mark = (index: number, why: string, level: ReadLevel = 'layout') => {
    const root = rootOf(index);
    const had = needs.get(root);
    if (bases.has(root) && (!had || LEVELS.indexOf(level) > LEVELS.indexOf(had.level))) needs.set(root, { why, level });
  };
  const isRootSpec = (spec: string): boolean => {
    const parsed = parseUserSpec(spec);
    return isNumericSpec(parsed) && (parsed.user as { id: number }).id === 0 && (!parsed.group || (parsed.group as { id: number }).id === 0);
  };
  for (const stage of resolved.stages) {
    if (all) mark(stage.index, '--read-base', 'bytes');
    let user = stage.base.kind === 'image' ? bases.get(stage.index)?.config.config?.User ?? ''
      : stage.base.kind === 'stage' ? byIndex.get(stage.base.index)!.user : '';
    let workdir = stage.base.kind === 'image' ? normalizeWorkdir('', bases.get(stage.index)?.config.config?.WorkingDir ?? '')
      : stage.base.kind === 'stage' ? byIndex.get(stage.base.index)!.workingDir || '/' : '/';
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'USER') user = instruction.user;
      if (instruction.keyword === 'WORKDIR') workdir = instruction.absolutePath;
      if (instruction.keyword === 'WORKDIR' && workdir !== '/') mark(stage.index, `WORKDIR ${workdir}`, 'tree');
      // (--link without --chmod copies onto an empty filesystem, as BuildKit: a bin/ of its own.)
      if ((instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && !(instruction.link && instruction.chmod === undefined)) {
        const dest = cleanAbsolute(destinationPath(instruction.dest, workdir));
        mark(stage.index, `${instruction.keyword} to ${dest}`, 'tree');
        const link = OFTEN_SYMLINKS.find((d) => dest === d || dest.startsWith(`${d}/`));
        if (link) mark(stage.index, `${link} is a symlink in most images: ${instruction.keyword} to ${dest}`);
      }
      if (instruction.keyword === 'WORKDIR' && instruction.absolutePath !== '/' && user !== '' && !isRootSpec(user)) {
        mark(stage.index, `WORKDIR ${instruction.absolutePath} is made for USER ${user}`);
      }
      if ((instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && instruction.chown !== undefined && !isRootSpec(instruction.chown)) {
        mark(stage.index, `--chown=${instruction.chown}`);
      }
      // An octal --chmod is also the mode of the directories the copy makes, and only of those:
      // which of /etc, /etc/app, … the base has decides whether they keep their mode.
      if ((instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && instruction.chmod !== undefined && createdDirectoryMode(parseChmod(instruction.chmod)) !== 0o755) {
        mark(stage.index, `--chmod=${instruction.chmod}`);
      }
      if (instruction.keyword === 'COPY' && instruction.fromStage !== undefined) {
        mark(instruction.fromStage, `COPY --from=${instruction.from}`, 'bytes');
      }
    }
  }
  return needs;
}

/**
 * Why a lazy plan cannot stand, when a COPY layer would write /bin, /lib, … or below them
 * without knowing whether the base has them as symlinks (a tree holding bin/ copied to /):
 * BuildKit copies a file through the link and refuses to copy a directory onto it. The base is
 * then read and the plan made again. A COPY --link layer is made on an empty filesystem whatever
 * the base holds; an unpacked archive is left as it is planned (BuildKit's unpack,
 * unpack_root.go, resolves a path through the links it meets, a directory entry's own name
 * included: `bin/` in the archive writes into usr/bin, as the plan on a read base does).
 */
export function entersUnseenLink(layers: readonly PlannedLayer[]): string | undefined {
  for (const layer of layers) {
    if (layer.linked || layer.unpacked) continue;
    for (const entry of layer.entries) {
      const link = OFTEN_SYMLINKS.find((d) => entry.path === d || entry.path.startsWith(`${d}/`));
      if (link) return `${link} is a symlink in most images: ${layer.createdBy} writes ${entry.path}`;
    }
  }
  return undefined;
}

/**
 * Why a plan made on a base's kept tree (no file bytes) cannot stand: a layer would hold the
 * bytes of a base file (an ADD archive's hard link to one). The base is then read and the plan
 * made again.
 */
export function copiesUnreadBytes(layers: readonly PlannedLayer[]): string | undefined {
  for (const layer of layers) {
    for (const entry of layer.entries) {
      if (hasContent(entry) && entry.node.content === undefined) return `${layer.createdBy} writes ${entry.path}, a file of the base`;
    }
  }
  return undefined;
}

/**
 * Why a lazy plan cannot stand: an ADD archive hard-links a file the plan could not see (one of
 * the base's: BuildKit's untar links to it). Every file a lazy plan writes has its bytes somewhere
 * (the context, an archive, the Dockerfile) but these stand-ins. The base's layers are then read
 * (the file's bytes are needed) and the plan made again.
 */
export function linksUnseenFile(layers: readonly PlannedLayer[]): string | undefined {
  for (const layer of layers) {
    for (const entry of layer.entries) {
      if (entry.node.type === 'file' && !entry.linkTo && entry.node.content === undefined && entry.node.data === undefined) {
        return `${layer.createdBy} links ${entry.path} to a file the plan cannot see`;
      }
    }
  }
  return undefined;
}
