import { OcipushError } from '../errors.js';

/** Where something sits in a Dockerfile: 1-based line and column (columns count UTF-16 units). */
export interface SourcePosition {
  line: number;
  column: number;
}

export const DEFAULT_DOCKERFILE_NAME = 'Dockerfile';

/**
 * The one error every Dockerfile problem becomes: `Dockerfile:LINE:COL: message`, like a compiler,
 * so editors and humans can jump to the spot. `details` carries the same facts for scripts.
 */
export function dockerfileError(message: string, at: SourcePosition, filename = DEFAULT_DOCKERFILE_NAME): OcipushError {
  return new OcipushError('EDOCKERFILE', `${filename}:${at.line}:${at.column}: ${message}`, {
    line: at.line,
    column: at.column,
    path: filename,
  });
}

/**
 * The error the builder raises when a stage it must build holds a RUN: ocipush never executes
 * code, so RUN has nothing to run it in. Naming the line lets the user find the instruction; a
 * RUN that a base image's (or stage's) ONBUILD left is named with the base it comes from.
 */
export function runUnsupportedError(at: SourcePosition, filename = DEFAULT_DOCKERFILE_NAME, trigger?: { base: string; original: string }): OcipushError {
  // A RUN that is an ONBUILD trigger of the base is placed at the FROM that runs it: say so.
  const what = trigger ? `${trigger.base} has the ONBUILD trigger ${JSON.stringify(trigger.original)}, which runs here: ` : '';
  return dockerfileError(
    `${what}RUN cannot be built without a container runtime: ocipush builds daemonless and never executes code (build that step elsewhere and COPY its output, or COPY --from an image that has it)`,
    at,
    filename,
  );
}

/** The base a RUN came from when it is an ONBUILD trigger of it (for runUnsupportedError). */
export function onBuildTrigger(
  stage: { baseImage: string; base: { kind: string } },
  instruction: { fromOnBuild?: boolean; original: string },
): { base: string; original: string } | undefined {
  if (!instruction.fromOnBuild) return undefined;
  return { base: `${stage.base.kind === 'stage' ? 'the stage' : 'the base image'} ${stage.baseImage}`, original: instruction.original };
}

/** Thrown inside the front end with a position; the public entry points turn it into an OcipushError. */
export class LocatedError extends Error {
  readonly at: SourcePosition;

  constructor(message: string, at: SourcePosition) {
    super(message);
    this.name = 'LocatedError';
    this.at = { line: at.line, column: at.column };
  }
}

/** Runs `fn`, turning a LocatedError into the public `Dockerfile:LINE:COL:` error. */
export function withFilename<T>(filename: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LocatedError) throw dockerfileError(err.message, err.at, filename);
    throw err;
  }
}
