import type {
  CommandLineInstruction,
  CopyInstruction,
  DockerfileWarning,
  ExposeInstruction,
  StageInstruction,
  WorkdirInstruction,
} from './instructions.js';
import type { PlatformSpec } from './platform.js';
import type { IgnorePattern } from './dockerignore.js';

/** The public shapes of resolveStages(): its options and the stages it returns. */

/** What the builder knows about a base image: its config, for expansion and inherited state. */
export interface BaseImageConfig {
  /** The config's Env, `KEY=value` strings. */
  env?: readonly string[];
  workingDir?: string;
  user?: string;
  shell?: readonly string[];
  /** The config's OnBuild triggers; they run at the start of the stage. */
  onBuild?: readonly string[];
  /** The image's os (`windows` changes the defaults: no PATH is added, shell form runs `cmd /S /C`). */
  os?: string;
}

export interface ResolveOptions {
  /** `--build-arg` values. */
  buildArgs?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** `--target`: the stage to build (by name, any case); the last stage by default. */
  target?: string;
  /** The platform being built for (TARGET* args); linux and the host's architecture by default. */
  targetPlatform?: PlatformSpec;
  /** The platform of the build host (BUILD* args); the target platform by default. */
  buildPlatform?: PlatformSpec;
  /**
   * The config of each base image the needed stages start from. Without it a base image is taken
   * as empty (only the default PATH), which changes results when the Dockerfile expands variables
   * the base image defines. resolveBaseImages() lists the images to fetch first.
   */
  baseImageConfig?: (base: { stageIndex: number; image: string; platform?: string }) => BaseImageConfig | undefined;
  /**
   * The build context's .dockerignore patterns (parseDockerignore): a COPY or ADD source from the
   * context that they exclude is warned of (BuildKit's CopyIgnoredFile).
   */
  dockerignore?: readonly IgnorePattern[];
}

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; index: number }
  | { kind: 'image'; image: string };

export interface ResolvedCopyInstruction extends CopyInstruction {
  /** `--from` names or numbers a stage: its index. */
  fromStage?: number;
  /** `--from` names an image instead. */
  fromImage?: string;
}

export interface ResolvedWorkdirInstruction extends WorkdirInstruction {
  /** The working directory the config gets: relative paths joined to the previous one. */
  absolutePath: string;
}

export interface ResolvedCommandLineInstruction extends CommandLineInstruction {
  /** What the config stores: the JSON array, or `[...SHELL, command]` for the shell form. */
  exec: string[];
}

export interface ResolvedExposeInstruction extends ExposeInstruction {
  /** The words after expansion, before port parsing. */
  specs: string[];
}

export type ResolvedInstruction = (
  | Exclude<StageInstruction, CopyInstruction | WorkdirInstruction | CommandLineInstruction | ExposeInstruction>
  | ResolvedCopyInstruction
  | ResolvedWorkdirInstruction
  | ResolvedCommandLineInstruction
  | ResolvedExposeInstruction
) & {
  /** Set on instructions that came from the base's ONBUILD triggers (positioned at FROM). */
  fromOnBuild?: boolean;
};

export interface ResolvedStage {
  index: number;
  name?: string;
  /** The FROM line. */
  line: number;
  /** FROM's image after expanding the global ARGs. */
  baseImage: string;
  base: StageBase;
  /** FROM's --platform after expansion. */
  platform?: string;
  instructions: ResolvedInstruction[];
  /** The config Env at the end of the stage (base Env, default PATH, then ENV instructions). */
  env: string[];
  /** The config WorkingDir at the end of the stage ("" when never set). */
  workingDir: string;
  /** The config User at the end of the stage ("" when never set). */
  user: string;
  /** The config Shell at the end of the stage ([] means the default: /bin/sh -c, on Windows cmd /S /C). */
  shell: string[];
  /** The os the stage's image is for: its base image's, else FROM's --platform, else the target's. */
  os: string;
  /** ARG values in scope at the end of the stage (ARGs without a value are absent). */
  args: Record<string, string>;
}

export interface ResolvedDockerfile {
  /** The stages the target needs, in Dockerfile order (the target is last among them). */
  stages: ResolvedStage[];
  target: ResolvedStage;
  /** Global ARG values (with the automatic platform ARGs), as FROM lines saw them. */
  globalArgs: Record<string, string>;
  /** Parse warnings plus those found while resolving, e.g. build args nothing declared; less those `# check=skip=` hides. */
  warnings: DockerfileWarning[];
  /**
   * With `# check=error=true` (or `--build-arg BUILDKIT_DOCKERFILE_CHECK=error=true`) and a BuildKit
   * rule among the warnings: the message BuildKit fails the build with, `lint violation found for
   * rules: …`. The builder fails with it after showing the warnings.
   */
  lintError?: string;
}

export interface BaseImageRef {
  stageIndex: number;
  /** The image reference after expanding the global ARGs. */
  image: string;
  platform?: string;
}
