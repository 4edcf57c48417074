import { OcipushError } from '../errors.js';
import { withFilename } from './errors.js';
import type { DockerfileWarning, ParsedDockerfile } from './instructions.js';
import { StageDispatcher } from './dispatch.js';
import { planStages } from './stage-graph.js';
import { applyLintConfig, checkOptions, LINT_BUILD_ARG, parseLintOptions, withWarningsFound, type LintConfig } from './lint-config.js';
import type { BaseImageRef, ResolveOptions, ResolvedDockerfile, ResolvedStage } from './resolve-types.js';

/**
 * Turns a parsed Dockerfile into what docker build (BuildKit) would execute: ARG scoping and
 * --build-arg overrides, variable expansion in exactly the instructions Docker expands, FROM and
 * --platform expanded with the global ARGs, ONBUILD triggers of the base, and only the stages the
 * target needs.
 *
 * Which instructions expand variables (with the stage's ENV and ARG values at that point):
 *   ADD, COPY (sources, destination, --chown, --chmod; ADD --checksum), ENV (keys and
 *   values, all against the environment before the instruction), EXPOSE (expanded then split into
 *   words), LABEL (keys and values), STOPSIGNAL, USER, VOLUME, WORKDIR, and ARG default values.
 *   FROM's image and --platform expand with the global ARGs only (those before the first FROM,
 *   plus TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT, the BUILD* equivalents and TARGETSTAGE).
 * Not expanded: CMD, ENTRYPOINT, RUN, SHELL, HEALTHCHECK (a shell expands them when the container
 *   runs), MAINTAINER, ONBUILD (expanded in the child build), COPY --from (rejected at parse),
 *   COPY/ADD --exclude (a pattern as written: `$` and quotes in it are plain characters).
 *
 * ARG scope: a global ARG is visible in FROM lines only; a stage sees an ARG after it declares
 * it (`ARG NAME` takes the global value, `ARG NAME=default` its default); `--build-arg` overrides
 * both. ARG and ENV share one namespace for expansion; the image config only gets ENV. A stage
 * built FROM another stage continues from that stage's ENV and ARG values.
 *
 * Left to the builder (image config semantics, not expansion): ENTRYPOINT clears a CMD inherited
 * from the base unless the stage sets CMD itself; LABEL, EXPOSE and VOLUME add to the base's;
 * the config's OnBuild is the stage's own ONBUILD expressions (the base's were consumed); the
 * Dockerfile is read even if .dockerignore excludes it.
 */

/** Build args Docker accepts without an ARG declaration (used by RUN only, never reported unused). */
// (SOURCE_DATE_EPOCH is the build's epoch, whether a stage declares it or not.)
const BUILTIN_ARGS = new Set([LINT_BUILD_ARG, 'SOURCE_DATE_EPOCH', 'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

/**
 * `--build-arg BUILDKIT_*` are options to BuildKit (BUILDKIT_INLINE_CACHE, _MULTI_PLATFORM,
 * _SBOM_SCAN_CONTEXT, _CONTEXT_KEEP_GIT_DIR, _SYNTAX, …: CI scripts pass them to every build),
 * read by the frontend or exporter whether or not an ARG names them: never unused.
 */
const FRONTEND_OPTION_PREFIX = 'BUILDKIT_';

/**
 * The base images (not scratch, not earlier stages) of the stages the target needs, so the
 * builder can fetch their configs before calling resolveStages with baseImageConfig.
 */
export function resolveBaseImages(parsed: ParsedDockerfile, options: Omit<ResolveOptions, 'baseImageConfig'> = {}): BaseImageRef[] {
  return planBaseImages(parsed, options).images;
}

/**
 * resolveBaseImages, and the warnings BuildKit shows before it resolves those images (the
 * parser's, the stage names', the FROM lines' ARGs and --platform), less those `# check=` skips:
 * docker build shows them when a base image then cannot be had, as ocipush does.
 */
export function planBaseImages(parsed: ParsedDockerfile, options: Omit<ResolveOptions, 'baseImageConfig'> = {}): { images: BaseImageRef[]; warnings: DockerfileWarning[] } {
  const warnings: DockerfileWarning[] = [...parsed.warnings];
  return withWarnings(parsed, options, warnings, () => {
    const plan = planStages(parsed, options, warnings);
    const images = plan.needed
      .map((i) => plan.heads[i]!)
      .filter((h) => h.base.kind === 'image')
      .map((h) => ({ stageIndex: h.index, image: h.baseImage, ...(h.platform !== undefined && { platform: h.platform }) }));
    return { images, warnings: shownWarnings(parsed, options, warnings).warnings };
  });
}

/** Resolves the stages the target needs (see the module comment for Docker's rules). */
export function resolveStages(parsed: ParsedDockerfile, options: ResolveOptions = {}): ResolvedDockerfile {
  const warnings: DockerfileWarning[] = [...parsed.warnings];
  return withWarnings(parsed, options, warnings, () => {
    const plan = planStages(parsed, options, warnings);
    const resolved = new Map<number, ResolvedStage>();
    const declared = new Set<string>(plan.declaredGlobal);
    const workdirSet = new Map<number, boolean>();
    for (const index of plan.needed) {
      const stage = parsed.stages[index]!;
      const head = plan.heads[index]!;
      const dispatcher = new StageDispatcher(parsed, stage, head, plan, warnings, resolved, workdirSet);
      const result = dispatcher.run();
      for (const key of dispatcher.declaredArgs) declared.add(key);
      resolved.set(index, result);
    }
    const unused = [...plan.buildArgs.keys()].filter((k) => !declared.has(k) && !BUILTIN_ARGS.has(k) && !k.startsWith(FRONTEND_OPTION_PREFIX)).sort();
    if (unused.length > 0) {
      warnings.push({ rule: 'UnusedBuildArg', message: `one or more build-args [${unused.join(' ')}] were not consumed` });
    }
    const stages = plan.needed.map((i) => resolved.get(i)!);
    const lint = shownWarnings(parsed, options, warnings);
    return {
      stages,
      target: resolved.get(plan.target)!,
      globalArgs: Object.fromEntries(plan.globals),
      warnings: lint.warnings,
      ...(lint.error !== undefined && { lintError: lint.error }),
    };
  });
}

/** Runs a step of resolution; a Dockerfile error carries the warnings found before it (details.warnings). */
function withWarnings<T>(parsed: ParsedDockerfile, options: Omit<ResolveOptions, 'baseImageConfig'>, warnings: DockerfileWarning[], fn: () => T): T {
  try {
    return withFilename(parsed.filename, fn);
  } catch (err) {
    throw withWarningsFound(err, () => shownWarnings(parsed, options, warnings).warnings);
  }
}

/** The warnings once, in the order found, less those the build checks' configuration skips; its error=true message. */
function shownWarnings(parsed: ParsedDockerfile, options: Omit<ResolveOptions, 'baseImageConfig'>, warnings: DockerfileWarning[]): { warnings: DockerfileWarning[]; error?: string } {
  const seen = new Set<string>();
  return applyLintConfig(warnings.filter((w) => {
    const key = `${w.rule}\0${w.line ?? ''}\0${w.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }), lintConfig(parsed, options.buildArgs), instructionChecks(parsed));
}

/** The build checks' configuration: the BUILDKIT_DOCKERFILE_CHECK build arg, else the `# check=` directive. */
function lintConfig(parsed: ParsedDockerfile, args: ResolveOptions['buildArgs']): LintConfig {
  const record = args as Readonly<Record<string, string>> | undefined;
  const fromArg = args instanceof Map ? args.get(LINT_BUILD_ARG) : record && Object.hasOwn(record, LINT_BUILD_ARG) ? record[LINT_BUILD_ARG] : undefined;
  if (fromArg === undefined) return parseLintOptions(checkOptions(parsed.directives.check ?? ''));
  try {
    return parseLintOptions(fromArg);
  } catch (err) {
    throw new OcipushError('EUSAGE', `failed to parse build-arg:${LINT_BUILD_ARG}: ${(err as Error).message}`);
  }
}

/** The `# check=` comment of the instruction that starts at a line, if any. */
function instructionChecks(parsed: ParsedDockerfile): (line: number) => string | undefined {
  const byLine = new Map<number, string>();
  for (const i of [...parsed.globalArgs, ...parsed.stages.flatMap((s) => [s.from, ...s.instructions])]) {
    if (i.check !== undefined) byLine.set(i.line, i.check);
  }
  return (line) => byLine.get(line);
}
