/**
 * The Dockerfile front end: parse, resolve (ARG scoping and variable expansion) and .dockerignore
 * matching, all pure (no I/O), matching docker build (BuildKit). The builder feeds it text and
 * base image configs and gets typed, expanded instructions back.
 */
export { parseDockerfile, parseTrigger, KNOWN_INSTRUCTIONS, type ParseOptions } from './parse.js';
export type * from './instructions.js';
export type { ParserDirectives } from './logical-lines.js';
export { dockerfileError, runUnsupportedError, DEFAULT_DOCKERFILE_NAME, type SourcePosition } from './errors.js';
export {
  expandVariables,
  expandWords,
  processWord,
  ExpansionError,
  type EscapeToken,
  type EnvSource,
  type LexOptions,
  type ExpansionResult,
} from './lex.js';
export { resolveStages, resolveBaseImages, planBaseImages } from './resolve.js';
export { platformArgs, hostPlatform, normalizeTarget, finalStagePlatform, type PlatformSpec } from './platform.js';
export { configWorkdir, normalizeWorkdir, DEFAULT_PATH } from './dispatch.js';
export type {
  BaseImageConfig,
  BaseImageRef,
  ResolveOptions,
  ResolvedDockerfile,
  ResolvedStage,
  ResolvedInstruction,
  ResolvedCopyInstruction,
  ResolvedWorkdirInstruction,
  ResolvedCommandLineInstruction,
  ResolvedExposeInstruction,
  StageBase,
} from './resolve-types.js';
export { shellFormToExec, DEFAULT_SHELL } from './shell-form.js';
export { parsePortSpecs, type PortSpecs } from './ports.js';
export { isValidStopSignal } from './signal.js';
export { parseGoDuration } from './duration.js';
export { parseDockerignore, createIgnoreMatcher, type IgnorePattern, type IgnoreMatcher, type IgnoreMatcherOptions } from './dockerignore.js';
