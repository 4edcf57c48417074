import { normalizeWorkdir, type ResolvedDockerfile } from '../dockerfile/index.js';
import { createdDirectoryMode, parseChmod } from '../dockerfile/chmod.js';
import type { BaseImage } from '../assemble/base.js';
import type { PlannedLayer } from './stage-plan.js';
import { destinationPath } from './stage-plan.js';
import { cleanAbsolute } from './tree.js';
import { isNumericSpec, parseUserSpec } from './users.js';

/**
 * Which base images a build -f reads the layers of. A base stays lazy (its layers referenced,
 * never downloaded) unless the plan needs to know its files; the reasons are found before the
 * plan from the Dockerfile (treesNeeded), or after a lazy plan from what it would write
 * (entersUnseenLink).
 */

/**
 * The stages built FROM an image whose layers must be read, with the reason: everything when
 * asked to; a stage COPY --from reads files of; a non-root --chown or WORKDIR owner, which needs
 * the base's /etc/passwd and where its directories are (BuildKit only chowns what it creates);
 * an octal --chmod other than 0755, for the same reason (it is the mode of the directories the
 * copy creates: taken as new, /etc would get it); a COPY or ADD into a directory that is often
 * a symlink (OFTEN_SYMLINKS).
 * The need goes to the stage at the root of a FROM chain, since the others start from its tree.
 */
/**
 * Directories that are symlinks in most current images (usrmerge: /bin → usr/bin, /lib →
 * usr/lib, …; /var/run → ../run). A lazy plan cannot see it, and would write bin/app under a
 * bin/ of its own: a runtime that unpacks each layer into a directory of its own (Docker's
 * overlay2, containers/storage's overlay) then makes /bin a real directory holding only app,
 * hiding /bin/sh. BuildKit resolves the link and writes usr/bin/app.
 */
const OFTEN_SYMLINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/var/run', '/var/lock'];

export function treesNeeded(resolved: ResolvedDockerfile, bases: Map<number, BaseImage>, all: boolean): Map<number, string> {
  const byIndex = new Map(resolved.stages.map((s) => [s.index, s]));
  const rootOf = (index: number): number => {
    let s = byIndex.get(index)!;
    while (s.base.kind === 'stage') s = byIndex.get(s.base.index)!;
    return s.index;
  };
  const needs = new Map<number, string>();
  const mark = (index: number, why: string) => {
    const root = rootOf(index);
    if (bases.has(root) && !needs.has(root)) needs.set(root, why);
  };
  const isRootSpec = (spec: string): boolean => {
    const parsed = parseUserSpec(spec);
    return isNumericSpec(parsed) && (parsed.user as { id: number }).id === 0 && (!parsed.group || (parsed.group as { id: number }).id === 0);
  };
  for (const stage of resolved.stages) {
    if (all) mark(stage.index, '--read-base');
    let user = stage.base.kind === 'image' ? bases.get(stage.index)?.config.config?.User ?? ''
      : stage.base.kind === 'stage' ? byIndex.get(stage.base.index)!.user : '';
    let workdir = stage.base.kind === 'image' ? normalizeWorkdir('', bases.get(stage.index)?.config.config?.WorkingDir ?? '')
      : stage.base.kind === 'stage' ? byIndex.get(stage.base.index)!.workingDir || '/' : '/';
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'USER') user = instruction.user;
      if (instruction.keyword === 'WORKDIR') workdir = instruction.absolutePath;
      // (--link without --chmod copies onto an empty filesystem, as BuildKit: a bin/ of its own.)
      if ((instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && !(instruction.link && instruction.chmod === undefined)) {
        const dest = cleanAbsolute(destinationPath(instruction.dest, workdir));
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
        mark(instruction.fromStage, `COPY --from=${instruction.from}`);
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
 * the base holds; an unpacked archive is left as it is planned (BuildKit's unpack replaces a
 * link its archive has a directory entry for, and goes through one it has not).
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
