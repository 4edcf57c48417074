import type { ParserDirectives } from './logical-lines.js';

/**
 * The typed instructions of a Dockerfile, as BuildKit's instructions package parses them. Values
 * are as written (quotes kept, variables unexpanded) except where the Dockerfile syntax itself
 * removes quotes (JSON arrays, flag values); resolveStages() does the expansion Docker does.
 */

export interface InstructionBase {
  /** Uppercase instruction name. */
  keyword: string;
  /** The instruction text with continuation lines joined (BuildKit's Original), trimmed. */
  original: string;
  /** 1-based line and column of the keyword; endLine is the last physical line it spans. */
  line: number;
  column: number;
  endLine: number;
  /** A `# check=skip=…` comment just above it: BuildKit skips those rules for this instruction. */
  check?: string;
}

/** `--name=value` flags exactly as given; `value` is undefined for a bare `--name`. */
export interface ParsedFlag {
  name: string;
  value: string | undefined;
  line: number;
  column: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface FromInstruction extends InstructionBase {
  keyword: 'FROM';
  /** The base image text as written (`scratch`, `alpine:3.20`, `${BASE}`, a stage name). */
  image: string;
  /** `AS name`, lowercased as BuildKit stores it. */
  name?: string;
  /** `--platform=` as written. */
  platform?: string;
}

export interface ArgInstruction extends InstructionBase {
  keyword: 'ARG';
  /** One per name; `value` undefined when no default is given. */
  args: { key: string; value?: string }[];
}

export interface EnvInstruction extends InstructionBase {
  keyword: 'ENV';
  pairs: KeyValue[];
  /** The legacy `ENV key value` form (one pair, the value is the rest of the line). */
  legacy: boolean;
}

export interface LabelInstruction extends InstructionBase {
  keyword: 'LABEL';
  pairs: KeyValue[];
  legacy: boolean;
}

export interface ExposeInstruction extends InstructionBase {
  keyword: 'EXPOSE';
  /** Port words as written, sorted as BuildKit sorts them. */
  ports: string[];
}

export interface UserInstruction extends InstructionBase {
  keyword: 'USER';
  user: string;
}

export interface WorkdirInstruction extends InstructionBase {
  keyword: 'WORKDIR';
  path: string;
}

export interface StopSignalInstruction extends InstructionBase {
  keyword: 'STOPSIGNAL';
  signal: string;
}

export interface VolumeInstruction extends InstructionBase {
  keyword: 'VOLUME';
  volumes: string[];
  json: boolean;
}

export interface ShellInstruction extends InstructionBase {
  keyword: 'SHELL';
  shell: string[];
}

export interface MaintainerInstruction extends InstructionBase {
  keyword: 'MAINTAINER';
  /** Deprecated: becomes the image's `author`. */
  maintainer: string;
}

/**
 * CMD, ENTRYPOINT and RUN. In exec (JSON) form `args` is the array; in shell form it is one
 * string, which the image config stores as `[...SHELL, string]` (see shellFormToExec).
 */
export interface CommandLineInstruction extends InstructionBase {
  keyword: 'CMD' | 'ENTRYPOINT';
  args: string[];
  /** True for the exec (JSON array) form. */
  json: boolean;
}

export interface RunInstruction extends InstructionBase {
  keyword: 'RUN';
  args: string[];
  json: boolean;
  /** `--mount`, `--network`, `--security` values as written (RUN is parsed, never run). */
  mounts: string[];
  network?: string;
  security?: string;
}

export interface HealthcheckInstruction extends InstructionBase {
  keyword: 'HEALTHCHECK';
  /**
   * The config's Test: `['NONE']`, `['CMD', ...args]` (exec form) or `['CMD-SHELL', command]`.
   */
  test: string[];
  /** Durations in nanoseconds as the image config stores them; 0 when not given. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

/**
 * A heredoc source of COPY or ADD (`COPY <<EOF /dest`): a file named as the heredoc's terminator,
 * mode 0644, holding its body, as BuildKit's dispatchCopy makes it (llb.Mkfile) before copying it.
 */
export interface HeredocSource {
  /** The terminator, quotes removed (`<<"EOF"` → `EOF`): the file's name. */
  name: string;
  /** The body, every line with its ending (`<<-`: leading tabs removed); expanded once resolved. */
  data: string;
  /** The terminator was unquoted: ARG and ENV values are substituted in the body. */
  expand: boolean;
}

interface CopyBase extends InstructionBase {
  /** The context (or stage, or image) paths, as written; heredocs are in `heredocs`. */
  sources: string[];
  /** The heredoc sources, in the order written; BuildKit copies them after `sources`. */
  heredocs: HeredocSource[];
  dest: string;
  /** The JSON array form was used. */
  json: boolean;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
}

export interface CopyInstruction extends CopyBase {
  keyword: 'COPY';
  /** `--from=` stage name, stage index or image reference, as written (never expanded). */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyBase {
  keyword: 'ADD';
  keepGitDir: boolean;
  checksum?: string;
  /** `--unpack` when given (undefined: Docker's default, unpack local archives only). */
  unpack?: boolean;
}

export interface OnbuildInstruction extends InstructionBase {
  keyword: 'ONBUILD';
  /** The trigger instruction text, as it goes into the image config's OnBuild list. */
  expression: string;
  /** The trigger's keyword, uppercase. */
  trigger: string;
}

export type Instruction =
  | FromInstruction
  | ArgInstruction
  | EnvInstruction
  | LabelInstruction
  | ExposeInstruction
  | UserInstruction
  | WorkdirInstruction
  | StopSignalInstruction
  | VolumeInstruction
  | ShellInstruction
  | MaintainerInstruction
  | CommandLineInstruction
  | RunInstruction
  | HealthcheckInstruction
  | CopyInstruction
  | AddInstruction
  | OnbuildInstruction;

/** Instructions allowed inside a stage (everything but FROM). */
export type StageInstruction = Exclude<Instruction, FromInstruction>;

export interface Stage {
  /** 0-based position in the Dockerfile (what `COPY --from=0` refers to). */
  index: number;
  /** `AS name`, lowercased. */
  name?: string;
  /** The base image text as written in FROM. */
  baseImage: string;
  /** FROM's `--platform=` as written. */
  platform?: string;
  from: FromInstruction;
  instructions: StageInstruction[];
}

export interface DockerfileWarning {
  /** BuildKit's lint rule name when there is one (e.g. `MaintainerDeprecated`). */
  rule: string;
  message: string;
  line?: number;
}

export interface ParsedDockerfile {
  filename: string;
  directives: ParserDirectives;
  /** ARG instructions before the first FROM (usable in FROM lines; redeclare to use in a stage). */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  warnings: DockerfileWarning[];
}
