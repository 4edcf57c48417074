import { OcipushError } from '../errors.js';
import { runUnsupportedError, dockerfileError, type DockerfileWarning, type ResolvedDockerfile, type ResolvedStage } from '../dockerfile/index.js';
import { onBuildTrigger } from '../dockerfile/errors.js';
import { isRemoteSource, remoteSourceMessage } from './stage-plan.js';

/**
 * An image a FROM or COPY --from names that cannot be had (a bad reference, a missing layout or
 * tag, a registry's refusal, another platform): its line placed first, as every Dockerfile error
 * has it, so that a build of many stages (or a --from that misspells a stage) says which one.
 */
export function atInstruction(err: unknown, at: { original: string; line: number; column: number }, filename: string): unknown {
  if (!(err instanceof OcipushError)) return err;
  return new OcipushError(err.code, `${filename}:${at.line}:${at.column}: ${at.original}: ${err.message}`, { ...err.details, line: at.line, column: at.column, cause: err });
}

/** RUN, network sources and layers of Windows images in the stages to build: one clear error, before any work. */
export function checkBuildable(resolved: ResolvedDockerfile, filename: string): void {
  // The stages whose layers the image holds: the target and those it is built FROM (not a --from source).
  const imageStages = new Set<number>();
  for (let s: ResolvedStage | undefined = resolved.target; s; s = s.base.kind === 'stage' ? resolved.stages.find((x) => x.index === (s!.base as { index: number }).index) : undefined) imageStages.add(s.index);
  for (const stage of resolved.stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'RUN') throw runUnsupportedError(instruction, filename, onBuildTrigger(stage, instruction));
      // A Windows layer holds its files under Files/ with their Windows attributes (BuildKit's
      // winlayers): one written as for Linux would give an image that no Windows host runs.
      if (stage.os === 'windows' && imageStages.has(stage.index) && (instruction.keyword === 'COPY' || instruction.keyword === 'ADD' || (instruction.keyword === 'WORKDIR' && instruction.absolutePath !== '/'))) {
        throw dockerfileError(`${instruction.original}: ocipush cannot write the layers of a Windows image (their files go under Files/, with Windows attributes); only the config (ENV, LABEL, CMD, …) of a windows stage can be built`, instruction, filename);
      }
      if (instruction.keyword === 'ADD') {
        for (const src of instruction.sources) {
          if (isRemoteSource(src)) throw dockerfileError(`${instruction.original}: ${remoteSourceMessage(src)}`, instruction, filename);
        }
      }
    }
  }
}

/**
 * The build checks' warnings, each shown once as it is known, as BuildKit streams them: those of
 * the parse and the FROM lines before a base image is fetched, the rest once the stages are
 * resolved; and those a Dockerfile error carries (found before it), before that error.
 */
export class ShownWarnings {
  private readonly shown = new Set<string>();

  constructor(private readonly filename: string, private readonly warn: (message: string) => void) {}

  show(warnings: readonly DockerfileWarning[]): void {
    for (const w of warnings) {
      const key = `${w.rule}\0${w.line ?? ''}\0${w.message}`;
      if (this.shown.has(key)) continue;
      this.shown.add(key);
      this.warn(`${this.filename}${w.line ? `:${w.line}` : ''}: ${w.rule}: ${w.message}`);
    }
  }

  /** Runs a step of the front end; the warnings its Dockerfile error carries are shown before it. */
  around<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      if (err instanceof OcipushError && Array.isArray(err.details.warnings)) this.show(err.details.warnings as DockerfileWarning[]);
      throw err;
    }
  }
}
