import { LocatedError, withFilename, type SourcePosition } from './errors.js';
import { joinPath } from './go-text.js';
import type {
  AddInstruction,
  ArgInstruction,
  CommandLineInstruction,
  CopyInstruction,
  DockerfileWarning,
  ExposeInstruction,
  InstructionBase,
  KeyValue,
  ParsedDockerfile,
  Stage,
  StageInstruction,
  WorkdirInstruction,
} from './instructions.js';
import { ExpansionError, processWord, type EscapeToken, type ExpansionResult } from './lex.js';
import { parseTrigger } from './parse.js';
import { parsePortSpecs } from './ports.js';
import { DEFAULT_SHELL } from './shell-form.js';
import { isValidStopSignal } from './signal.js';

/**
 * Turns a parsed Dockerfile into what docker build (BuildKit) would execute: ARG scoping and
 * --build-arg overrides, variable expansion in exactly the instructions Docker expands, FROM and
 * --platform expanded with the global ARGs, ONBUILD triggers of the base, and only the stages the
 * target needs.
 *
 * Which instructions expand variables (with the stage's ENV and ARG values at that point):
 *   ADD, COPY (sources, destination, --chown, --chmod, --exclude; ADD --checksum), ENV (keys and
 *   values, all against the environment before the instruction), EXPOSE (expanded then split into
 *   words), LABEL (keys and values), STOPSIGNAL, USER, VOLUME, WORKDIR, and ARG default values.
 *   FROM's image and --platform expand with the global ARGs only (those before the first FROM,
 *   plus TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT and the BUILD* equivalents).
 * Not expanded: CMD, ENTRYPOINT, RUN, SHELL, HEALTHCHECK (a shell expands them when the container
 *   runs), MAINTAINER, ONBUILD (expanded in the child build), COPY --from (rejected at parse).
 *
 * ARG scope: a global ARG is visible in FROM lines only; a stage sees an ARG after it declares
 * it (`ARG NAME` takes the global value, `ARG NAME=default` its default); `--build-arg` overrides
 * both. ARG and ENV share one namespace for expansion; the image config only gets ENV.
 */

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** What the builder knows about a base image: its config, for expansion and inherited state. */
export interface BaseImageConfig {
  /** The config's Env, `KEY=value` strings. */
  env?: readonly string[];
  workingDir?: string;
  user?: string;
  shell?: readonly string[];
  /** The config's OnBuild triggers; they run at the start of the stage. */
  onBuild?: readonly string[];
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
  /** The config Shell at the end of the stage ([] means the default /bin/sh -c). */
  shell: string[];
  /** ARG values in scope at the end of the stage (ARGs without a value are absent). */
  args: Record<string, string>;
}

export interface ResolvedDockerfile {
  /** The stages the target needs, in Dockerfile order (the target is last among them). */
  stages: ResolvedStage[];
  target: ResolvedStage;
  /** Global ARG values (with the automatic platform ARGs), as FROM lines saw them. */
  globalArgs: Record<string, string>;
  /** Parse warnings plus those found while resolving, e.g. build args nothing declared. */
  warnings: DockerfileWarning[];
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Build args Docker accepts without an ARG declaration (used by RUN only, never reported unused). */
const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
const SECRET_KEY = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const PUBLIC_KEY = /(?:_|^)(?:public)(?:_|$)/i;

/** The platform ARGs BuildKit defines in the global scope. */
export function platformArgs(target: PlatformSpec, build: PlatformSpec = target): Record<string, string> {
  const format = (p: PlatformSpec): string => [p.os, p.architecture, p.variant].filter((s) => s).join('/');
  return {
    TARGETPLATFORM: format(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
  };
}

export function hostPlatform(): PlatformSpec {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch, ...(process.arch === 'arm' && { variant: 'v7' }) };
}

export interface BaseImageRef {
  stageIndex: number;
  /** The image reference after expanding the global ARGs. */
  image: string;
  platform?: string;
}

/**
 * The base images (not scratch, not earlier stages) of the stages the target needs, so the
 * builder can fetch their configs before calling resolveStages with baseImageConfig.
 */
export function resolveBaseImages(parsed: ParsedDockerfile, options: Omit<ResolveOptions, 'baseImageConfig'> = {}): BaseImageRef[] {
  return withFilename(parsed.filename, () => {
    const plan = planStages(parsed, options, []);
    return plan.needed
      .map((i) => plan.heads[i]!)
      .filter((h) => h.base.kind === 'image')
      .map((h) => ({ stageIndex: h.index, image: h.baseImage, ...(h.platform !== undefined && { platform: h.platform }) }));
  });
}

/** Resolves the stages the target needs (see the module comment for Docker's rules). */
export function resolveStages(parsed: ParsedDockerfile, options: ResolveOptions = {}): ResolvedDockerfile {
  return withFilename(parsed.filename, () => {
    const warnings: DockerfileWarning[] = [...parsed.warnings];
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
    const unused = [...plan.buildArgs.keys()].filter((k) => !declared.has(k) && !BUILTIN_ARGS.has(k)).sort();
    if (unused.length > 0) {
      warnings.push({ rule: 'UnusedBuildArg', message: `one or more build-args [${unused.join(' ')}] were not consumed` });
    }
    const stages = plan.needed.map((i) => resolved.get(i)!);
    const seen = new Set<string>();
    return {
      stages,
      target: resolved.get(plan.target)!,
      globalArgs: Object.fromEntries(plan.globals),
      warnings: warnings.filter((w) => {
        const key = `${w.rule}\0${w.line ?? ''}\0${w.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      }),
    };
  });
}

interface StageHead {
  index: number;
  baseImage: string;
  base: StageBase;
  platform?: string;
}

interface Plan {
  escape: EscapeToken;
  buildArgs: Map<string, string>;
  globals: Map<string, string>;
  declaredGlobal: Set<string>;
  heads: StageHead[];
  byName: Map<string, number>;
  target: number;
  /** Indices of the stages the target needs, ascending. */
  needed: number[];
  /** COPY --from resolution: instruction -> stage index or image. */
  copyFrom: Map<CopyInstruction, { stage?: number; image?: string }>;
  /** Base image configs of the needed stages (from options.baseImageConfig). */
  baseConfigs: Map<number, BaseImageConfig>;
  /** The ONBUILD triggers each needed stage starts with, parsed. */
  triggers: Map<number, StageInstruction[]>;
}

function toMap(args: ResolveOptions['buildArgs']): Map<string, string> {
  if (!args) return new Map();
  if (args instanceof Map) return new Map(args);
  return new Map(Object.entries(args as Record<string, string>));
}

function expandAt(word: string, env: Map<string, string>, escape: EscapeToken, at: SourcePosition): ExpansionResult {
  try {
    return processWord(word, (name) => env.get(name), { escape });
  } catch (err) {
    if (err instanceof ExpansionError) throw new LocatedError(err.message, at);
    throw err;
  }
}

function planStages(parsed: ParsedDockerfile, options: ResolveOptions, warnings: DockerfileWarning[]): Plan {
  const escape = parsed.directives.escape;
  const buildArgs = toMap(options.buildArgs);
  const target = options.targetPlatform ?? hostPlatform();
  const globals = new Map<string, string>();
  for (const [k, v] of Object.entries(platformArgs(target, options.buildPlatform ?? target))) globals.set(k, buildArgs.get(k) ?? v);

  const declaredGlobal = new Set<string>();
  for (const arg of parsed.globalArgs) {
    for (const { key, value } of arg.args) {
      declaredGlobal.add(key);
      let v = buildArgs.get(key);
      if (v === undefined && value !== undefined) v = expandAt(value, globals, escape, arg).value;
      if (v !== undefined) globals.set(key, v);
    }
  }

  const heads: StageHead[] = [];
  const byName = new Map<string, number>();
  for (const stage of parsed.stages) {
    const at = stage.from;
    const name = expandAt(stage.baseImage, globals, escape, at);
    reportUndefinedFromArgs(name, globals, declaredGlobal, at, warnings);
    if (name.value === '') throw new LocatedError(`base name (${stage.baseImage}) should not be blank`, at);
    let platform: string | undefined;
    if (stage.platform !== undefined) {
      const p = expandAt(stage.platform, globals, escape, at);
      reportUndefinedFromArgs(p, globals, declaredGlobal, at, warnings);
      if (p.value === '') throw new LocatedError(`empty platform value from expression ${stage.platform}`, at);
      platform = p.value;
    }
    const baseStage = byName.get(name.value);
    const base: StageBase =
      baseStage !== undefined ? { kind: 'stage', index: baseStage } : name.value === 'scratch' ? { kind: 'scratch' } : { kind: 'image', image: name.value };
    heads.push({ index: stage.index, baseImage: name.value, base, ...(platform !== undefined && { platform }) });
    if (stage.name !== undefined) byName.set(stage.name, stage.index);
  }

  let targetIndex = parsed.stages.length - 1;
  if (options.target !== undefined && options.target !== '') {
    const found = byName.get(options.target.toLowerCase());
    if (found === undefined) {
      const names = [...byName.keys()];
      throw new LocatedError(
        `target stage "${options.target}" could not be found${names.length ? ` (stages: ${names.join(', ')})` : ' (no stage is named with AS)'}`,
        { line: parsed.stages[parsed.stages.length - 1]!.from.line, column: 1 },
      );
    }
    targetIndex = found;
  }

  const copyFrom = new Map<CopyInstruction, { stage?: number; image?: string }>();
  const deps = new Map<number, Set<number>>();
  for (const stage of parsed.stages) {
    const set = new Set<number>();
    const head = heads[stage.index]!;
    if (head.base.kind === 'stage') set.add(head.base.index);
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'COPY' || instruction.from === undefined) continue;
      const ref = resolveCopyFrom(instruction, byName, parsed.stages.length);
      copyFrom.set(instruction, ref);
      if (ref.stage !== undefined) set.add(ref.stage);
    }
    deps.set(stage.index, set);
  }

  // ONBUILD triggers run at the start of a stage and may COPY --from other stages, so the
  // stages a target needs are found by scanning triggers until nothing new turns up.
  const baseConfigs = new Map<number, BaseImageConfig>();
  const triggers = new Map<number, StageInstruction[]>();
  const scanTriggers = (i: number): void => {
    const head = heads[i]!;
    const stage = parsed.stages[i]!;
    let expressions: readonly string[] = [];
    if (head.base.kind === 'stage') {
      expressions = parsed.stages[head.base.index]!.instructions.flatMap((x) => (x.keyword === 'ONBUILD' ? [x.expression] : []));
    } else if (head.base.kind === 'image') {
      const config = options.baseImageConfig?.({ stageIndex: i, image: head.base.image, ...(head.platform !== undefined && { platform: head.platform }) }) ?? {};
      baseConfigs.set(i, config);
      expressions = config.onBuild ?? [];
    }
    const parsedTriggers = expressions.map((e) => parseTrigger(e, stage.from));
    triggers.set(i, parsedTriggers);
    for (const t of parsedTriggers) {
      if (t.keyword !== 'COPY' || t.from === undefined) continue;
      const ref = resolveCopyFrom(t, byName, parsed.stages.length);
      copyFrom.set(t, ref);
      if (ref.stage !== undefined) deps.get(i)!.add(ref.stage);
    }
  };

  const needed = new Set<number>();
  const visit = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of deps.get(i) ?? []) visit(d);
  };
  visit(targetIndex);
  for (let pending = [...needed]; pending.length > 0; pending = [...needed].filter((i) => !triggers.has(i))) {
    for (const i of pending) {
      scanTriggers(i);
      for (const d of deps.get(i)!) visit(d);
    }
  }
  const sorted = [...needed].sort((a, b) => a - b);

  // A stage can only copy from a stage defined before it (BuildKit dispatches in file order).
  for (const i of sorted) {
    for (const instruction of [...triggers.get(i)!, ...parsed.stages[i]!.instructions]) {
      if (instruction.keyword !== 'COPY') continue;
      const ref = copyFrom.get(instruction);
      if (ref?.stage === undefined || ref.stage < i) continue;
      const current = parsed.stages[i]!.name ?? `stage-${i}`;
      if (ref.stage === i) throw new LocatedError(`circular dependency detected on stage: ${current}`, instruction);
      throw new LocatedError(`cannot copy from stage "${instruction.from}", it needs to be defined before current stage "${current}"`, instruction);
    }
  }

  return { escape, buildArgs, globals, declaredGlobal, heads, byName, target: targetIndex, needed: sorted, copyFrom, baseConfigs, triggers };
}

function resolveCopyFrom(c: CopyInstruction, byName: Map<string, number>, stageCount: number): { stage?: number; image?: string } {
  const from = c.from!;
  if (/^[+-]?[0-9]+$/.test(from)) {
    const index = Number(from);
    if (index < 0 || index >= stageCount) throw new LocatedError(`invalid stage index ${index}`, c);
    return { stage: index };
  }
  const named = byName.get(from.toLowerCase());
  return named !== undefined ? { stage: named } : { image: from };
}

function reportUndefinedFromArgs(r: ExpansionResult, globals: Map<string, string>, declared: Set<string>, at: InstructionBase, warnings: DockerfileWarning[]): void {
  for (const name of r.unmatched) {
    if (globals.has(name) || declared.has(name)) continue;
    warnings.push({ rule: 'UndefinedArgInFrom', message: `FROM argument '${name}' is not declared`, line: at.line });
  }
}

/** The expansion state a stage leaves behind, for stages built FROM it. */
const STAGE_STATE = new WeakMap<ResolvedStage, { env: Map<string, string>; declaredArgs: Set<string> }>();

/** Dispatches one stage's instructions in order, tracking what expansion and the config see. */
class StageDispatcher {
  private readonly escape: EscapeToken;
  /** What `$VAR` sees: base image Env, then ARG and ENV values in instruction order. */
  private readonly env = new Map<string, string>();
  private readonly configEnv: string[] = [];
  private workingDir = '';
  private user = '';
  private shell: string[] = [];
  private readonly args = new Map<string, string>();
  /** ARG names declared in this stage (and its base stages), with or without a value. */
  readonly declaredArgs = new Set<string>();

  constructor(
    private readonly parsed: ParsedDockerfile,
    private readonly stage: Stage,
    private readonly head: StageHead,
    private readonly plan: Plan,
    private readonly warnings: DockerfileWarning[],
    private readonly done: Map<number, ResolvedStage>,
    private readonly workdirSet: Map<number, boolean>,
  ) {
    this.escape = plan.escape;
  }

  run(): ResolvedStage {
    this.initFromBase();
    const out: ResolvedInstruction[] = [];
    for (const trigger of this.plan.triggers.get(this.stage.index) ?? []) {
      out.push({ ...this.dispatch(trigger), fromOnBuild: true } as ResolvedInstruction);
    }
    for (const instruction of this.stage.instructions) out.push(this.dispatch(instruction));
    const result: ResolvedStage = {
      index: this.stage.index,
      ...(this.stage.name !== undefined && { name: this.stage.name }),
      line: this.stage.from.line,
      baseImage: this.head.baseImage,
      base: this.head.base,
      ...(this.head.platform !== undefined && { platform: this.head.platform }),
      instructions: out,
      env: [...this.configEnv],
      workingDir: this.workingDir,
      user: this.user,
      shell: [...this.shell],
      args: Object.fromEntries(this.args),
    };
    STAGE_STATE.set(result, { env: new Map(this.env), declaredArgs: new Set(this.declaredArgs) });
    return result;
  }

  /** Inherits state from the base stage or image. */
  private initFromBase(): void {
    const base = this.head.base;
    if (base.kind === 'stage') {
      // BuildKit starts the stage from the base stage's state: its ENV and ARG values, its
      // declared ARGs, working directory, user and shell.
      const parent = this.done.get(base.index)!;
      const state = STAGE_STATE.get(parent)!;
      for (const [k, v] of state.env) this.env.set(k, v);
      for (const k of state.declaredArgs) this.declaredArgs.add(k);
      for (const [k, v] of Object.entries(parent.args)) this.args.set(k, v);
      this.configEnv.push(...parent.env);
      this.workingDir = parent.workingDir;
      this.user = parent.user;
      this.shell = [...parent.shell];
      this.workdirSet.set(this.stage.index, this.workdirSet.get(base.index) ?? false);
      return;
    }
    const config: BaseImageConfig = this.plan.baseConfigs.get(this.stage.index) ?? {};
    this.configEnv.push(...(config.env ?? []));
    // BuildKit makes sure PATH is always set.
    if (!this.configEnv.some((e) => splitEnv(e)[0] === 'PATH')) this.configEnv.push(`PATH=${DEFAULT_PATH}`);
    for (const e of this.configEnv) this.setEnvFromConfig(e);
    if (config.workingDir) this.workingDir = normalizeWorkdir('', config.workingDir);
    this.user = config.user ?? '';
    this.shell = [...(config.shell ?? [])];
    this.workdirSet.set(this.stage.index, false);
  }

  private setEnvFromConfig(entry: string): void {
    const [k, v] = splitEnv(entry);
    this.env.set(k, v);
  }

  private expand(word: string, at: InstructionBase): string {
    const r = expandAt(word, this.env, this.escape, at);
    for (const name of r.unmatched) {
      if (this.declaredArgs.has(name)) continue;
      this.warnings.push({ rule: 'UndefinedVar', message: `Usage of undefined variable '$${name}'`, line: at.line });
    }
    return r.value;
  }

  private dispatch(instruction: StageInstruction): ResolvedInstruction {
    const x = (word: string): string => this.expand(word, instruction);
    switch (instruction.keyword) {
      case 'ENV': {
        const pairs: KeyValue[] = instruction.pairs.map((p) => ({ key: x(p.key), value: x(p.value) }));
        for (const p of pairs) {
          this.warnSecret('ENV', p.key, instruction);
          this.env.set(p.key, p.value);
          addConfigEnv(this.configEnv, p.key, p.value);
        }
        return { ...instruction, pairs };
      }
      case 'LABEL':
        return { ...instruction, pairs: instruction.pairs.map((p) => ({ key: x(p.key), value: x(p.value) })) };
      case 'ARG':
        return this.dispatchArg(instruction);
      case 'COPY':
      case 'ADD':
        return this.dispatchCopy(instruction);
      case 'WORKDIR': {
        const path = x(instruction.path);
        if (!this.workdirSet.get(this.stage.index) && !path.startsWith('/')) {
          this.warnings.push({ rule: 'WorkdirRelativePath', message: `Relative workdir ${JSON.stringify(path)} can have unexpected results if the base image changes`, line: instruction.line });
        }
        this.workdirSet.set(this.stage.index, true);
        this.workingDir = normalizeWorkdir(this.workingDir, path);
        return { ...instruction, path, absolutePath: this.workingDir };
      }
      case 'USER':
        this.user = x(instruction.user);
        return { ...instruction, user: this.user };
      case 'VOLUME': {
        const volumes = instruction.volumes.map(x);
        if (volumes.some((v) => v === '')) throw new LocatedError('VOLUME specified can not be an empty string', instruction);
        return { ...instruction, volumes };
      }
      case 'STOPSIGNAL': {
        const signal = x(instruction.signal);
        if (!isValidStopSignal(signal)) throw new LocatedError(`invalid signal: ${signal}`, instruction);
        return { ...instruction, signal };
      }
      case 'EXPOSE':
        return this.dispatchExpose(instruction);
      case 'SHELL':
        this.shell = [...instruction.shell];
        return instruction;
      case 'CMD':
      case 'ENTRYPOINT': {
        if (!instruction.json && this.shell.length === 0) {
          this.warnings.push({
            rule: 'JSONArgsRecommended',
            message: `JSON arguments recommended for ${instruction.keyword} to prevent unintended behavior related to OS signals`,
            line: instruction.line,
          });
        }
        const exec = instruction.json ? [...instruction.args] : [...(this.shell.length > 0 ? this.shell : DEFAULT_SHELL), instruction.args.join(' ')];
        return { ...instruction, exec };
      }
      default:
        return instruction;
    }
  }

  private dispatchArg(instruction: ArgInstruction): ResolvedInstruction {
    const args = instruction.args.map(({ key, value }) => {
      this.warnSecret('ARG', key, instruction);
      let v: string | undefined;
      const fromBuild = this.plan.buildArgs.get(key);
      if (fromBuild !== undefined) v = fromBuild;
      else if (value !== undefined) v = this.expand(value, instruction);
      else v = this.plan.globals.get(key);
      this.declaredArgs.add(key);
      if (v !== undefined) {
        this.env.set(key, v);
        this.args.set(key, v);
      }
      return v === undefined ? { key } : { key, value: v };
    });
    return { ...instruction, args };
  }

  private dispatchCopy(instruction: CopyInstruction | AddInstruction): ResolvedInstruction {
    const x = (word: string): string => this.expand(word, instruction);
    const optional = (word: string | undefined): string | undefined => {
      if (word === undefined) return undefined;
      const v = x(word);
      return v === '' ? undefined : v;
    };
    const sources = instruction.sources.map(x);
    const dest = x(instruction.dest);
    const chown = optional(instruction.chown);
    const chmod = optional(instruction.chmod);
    const exclude = instruction.exclude.map(x);
    if (chmod !== undefined && !(/^[0-7]+$/.test(chmod) && Number.parseInt(chmod, 8) <= 0o7777)) {
      throw new LocatedError(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`, instruction);
    }
    const common = {
      sources,
      dest,
      exclude,
      ...(chown !== undefined ? { chown } : {}),
      ...(chmod !== undefined ? { chmod } : {}),
    };
    if (instruction.keyword === 'ADD') {
      const checksum = optional(instruction.checksum);
      if (checksum !== undefined) checkChecksum(checksum, sources, instruction);
      const add: AddInstruction = { ...instruction, ...common };
      if (chown === undefined) delete add.chown;
      if (chmod === undefined) delete add.chmod;
      if (checksum === undefined) delete add.checksum;
      else add.checksum = checksum;
      return add;
    }
    for (const src of sources) {
      if (/^https?:\/\//.test(src)) throw new LocatedError(`source can't be a URL for COPY: ${src} (use ADD to download)`, instruction);
    }
    const ref = this.plan.copyFrom.get(instruction) ?? (instruction.from !== undefined ? resolveCopyFrom(instruction, this.plan.byName, this.parsed.stages.length) : {});
    const copy: ResolvedCopyInstruction = {
      ...instruction,
      ...common,
      ...(ref.stage !== undefined && { fromStage: ref.stage }),
      ...(ref.image !== undefined && { fromImage: ref.image }),
    };
    if (chown === undefined) delete copy.chown;
    if (chmod === undefined) delete copy.chmod;
    return copy;
  }

  private dispatchExpose(instruction: ExposeInstruction): ResolvedInstruction {
    const specs: string[] = [];
    for (const p of instruction.ports) specs.push(...expandAt(p, this.env, this.escape, instruction).words);
    let parsed;
    try {
      parsed = parsePortSpecs(specs);
    } catch (err) {
      throw new LocatedError((err as Error).message, instruction);
    }
    for (const spec of parsed.withHostPart) {
      this.warnings.push({ rule: 'ExposeInvalidFormat', message: `EXPOSE instruction should not define an IP address or host-port mapping, found '${spec}'`, line: instruction.line });
    }
    for (const spec of parsed.upperProto) {
      this.warnings.push({ rule: 'ExposeProtoCasing', message: `Defined protocol '${spec}' in EXPOSE instruction should be lowercase`, line: instruction.line });
    }
    return { ...instruction, ports: parsed.ports, specs };
  }

  private warnSecret(instructionName: string, key: string, at: InstructionBase): void {
    if (SECRET_KEY.test(key) && !PUBLIC_KEY.test(key)) {
      this.warnings.push({ rule: 'SecretsUsedInArgOrEnv', message: `Do not use ARG or ENV instructions for sensitive data (${instructionName} ${JSON.stringify(key)})`, line: at.line });
    }
  }
}

function splitEnv(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

/** Sets KEY in a config Env list: replaced in place when present, appended otherwise. */
function addConfigEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => splitEnv(e)[0] === key);
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

/** BuildKit's NormalizeWorkdir on Linux: absolute paths as given, relative ones joined to the current. */
export function normalizeWorkdir(current: string, wd: string): string {
  const parent = current === '' ? '/' : current.startsWith('/') ? current : joinPath('/', current);
  if (wd === '') return parent;
  if (wd.startsWith('/')) return wd;
  return joinPath(parent, wd);
}

const CHECKSUM_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function checkChecksum(checksum: string, sources: string[], at: InstructionBase): void {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(checksum);
  if (!m) throw new LocatedError(`invalid checksum digest format: ${checksum}`, at);
  const length = CHECKSUM_LENGTHS[m[1]!];
  if (length === undefined) throw new LocatedError(`unsupported digest algorithm: ${checksum}`, at);
  if (m[2]!.length !== length || !/^[a-f0-9]+$/.test(m[2]!)) throw new LocatedError(`invalid checksum digest length: ${checksum}`, at);
  if (sources.length !== 1) throw new LocatedError("checksum can't be specified for multiple sources", at);
  if (!/^https?:\/\//.test(sources[0]!)) throw new LocatedError("checksum can't be specified for non-HTTP(S) sources", at);
}
