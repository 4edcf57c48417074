import { splitOsVersion } from '../oci/descriptor.js';
import { LocatedError } from './errors.js';
import { cleanPath, joinPath, suggestName } from './go-text.js';
import type {
  AddInstruction,
  ArgInstruction,
  CopyInstruction,
  DockerfileWarning,
  ExposeInstruction,
  InstructionBase,
  KeyValue,
  ParsedDockerfile,
  Stage,
  StageInstruction,
} from './instructions.js';
import type { EscapeToken } from './lex.js';
import { expandAt, resolveCopyFrom, type Plan, type StageHead } from './stage-graph.js';
import { parsePortSpecs } from './ports.js';
import type { BaseImageConfig, ResolvedCopyInstruction, ResolvedInstruction, ResolvedStage } from './resolve-types.js';
import { defaultShell } from './shell-form.js';
import { isValidStopSignal } from './signal.js';
import { parseChmod } from './chmod.js';
import { isGitRef, isHttpSource } from './git-ref.js';
import { llbUserId } from './user-id.js';

/** The second half of resolution: one stage's instructions dispatched in order, as BuildKit does. */

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** BuildKit's DefaultPathEnvWindows: the PATH of a Windows stage FROM scratch. */
export const DEFAULT_PATH_WINDOWS = 'c:\\Windows\\System32;c:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0';
const SECRET_KEY = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
/** Words that make a secret-looking name harmless (BuildKit since January 2026: `API_KEY_FILE`, `TOKEN_VERSION`). */
const PUBLIC_KEY = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/**
 * BuildKit's nonEnvArgs: ARGs that are options to the frontend (which stages its SBOM scans), not
 * variables: a stage's `ARG BUILDKIT_SBOM_SCAN_STAGE=true` declares it, but `$BUILDKIT_SBOM_SCAN_STAGE`
 * reads empty after it, and is never an undefined variable.
 */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

/** The expansion state a stage leaves behind, for stages built FROM it. */
const STAGE_STATE = new WeakMap<ResolvedStage, { env: Map<string, string>; declaredArgs: Set<string> }>();

/** Dispatches one stage's instructions in order, tracking what expansion and the config see. */
export class StageDispatcher {
  private readonly escape: EscapeToken;
  /** What `$VAR` sees: base image Env, then ARG and ENV values in instruction order. */
  private readonly env = new Map<string, string>();
  private readonly configEnv: string[] = [];
  private workingDir = '';
  private user = '';
  private shell: string[] = [];
  private os = '';
  private readonly args = new Map<string, string>();
  /** ARG names declared in this stage (and its base stages), with or without a value. */
  readonly declaredArgs = new Set<string>();
  /** The line of the stage's last CMD, ENTRYPOINT and HEALTHCHECK (BuildKit's instructionTracker). */
  private readonly usedOnce = new Map<string, number>();

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
      workingDir: configWorkdir(this.workingDir, this.os),
      user: this.user,
      shell: [...this.shell],
      os: this.os,
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
      this.os = parent.os;
      this.workdirSet.set(this.stage.index, this.workdirSet.get(base.index) ?? false);
      return;
    }
    const config: BaseImageConfig = this.plan.baseConfigs.get(this.stage.index) ?? {};
    // BuildKit builds a scratch stage for the target platform whatever its FROM --platform says
    // (resolveReachableStages: emptyImage(targetPlatform)), so its PATH and shell are the target's.
    const fromPlatform = this.head.platform === undefined ? undefined : splitOsVersion(this.head.platform).rest.split('/')[0]!.toLowerCase();
    this.os = this.head.base.kind === 'scratch' ? this.plan.targetOs : config.os || (fromPlatform ?? this.plan.targetOs);
    this.configEnv.push(...(config.env ?? []));
    // BuildKit makes sure PATH is always set, but on Windows, where the OS sets it (moby/buildkit
    // #5445: a Linux PATH there hides cmd.exe): only FROM scratch gets Windows' own.
    if (!this.configEnv.some((e) => splitEnv(e)[0] === 'PATH')) {
      if (this.os !== 'windows') this.configEnv.push(`PATH=${DEFAULT_PATH}`);
      else if (this.head.base.kind === 'scratch') this.configEnv.push(`PATH=${DEFAULT_PATH_WINDOWS}`);
    }
    for (const e of this.configEnv) this.setEnvFromConfig(e);
    if (config.workingDir) {
      try {
        this.workingDir = normalizeWorkdir('', config.workingDir, this.os);
      } catch (err) {
        throw new LocatedError(`the base image's WorkingDir ${JSON.stringify(config.workingDir)}: ${(err as Error).message}`, this.stage.from);
      }
    }
    this.user = config.user ?? '';
    this.shell = [...(config.shell ?? [])];
    this.workdirSet.set(this.stage.index, false);
  }

  private setEnvFromConfig(entry: string): void {
    const [k, v] = splitEnv(entry);
    this.env.set(k, v);
  }

  private expand(word: string, at: InstructionBase, raw = false): string {
    const r = expandAt(word, this.env, this.escape, at, raw);
    for (const name of r.unmatched) {
      if (this.declaredArgs.has(name) || NON_ENV_ARGS.has(name)) continue;
      const match = suggestName(name, this.env.keys());
      this.warnings.push({ rule: 'UndefinedVar', message: `Usage of undefined variable '$${name}'${match !== undefined ? ` (did you mean $${match}?)` : ''}`, line: at.line });
    }
    return r.value;
  }

  /**
   * The checks BuildKit runs as it dispatches an instruction, so only in the stages the target
   * needs: a legacy `ENV key value`, and a CMD, ENTRYPOINT or HEALTHCHECK that a later one of the
   * stage replaces (flagged at the replaced one).
   */
  private dispatchChecks(instruction: StageInstruction): void {
    const { keyword, line } = instruction;
    if ((keyword === 'ENV' || keyword === 'LABEL') && instruction.legacy) {
      this.warnings.push({ rule: 'LegacyKeyValueFormat', message: `"${keyword} key=value" should be used instead of legacy "${keyword} key value" format`, line });
    }
    if (keyword !== 'CMD' && keyword !== 'ENTRYPOINT' && keyword !== 'HEALTHCHECK') return;
    const previous = this.usedOnce.get(keyword);
    if (previous !== undefined) {
      this.warnings.push({ rule: 'MultipleInstructionsDisallowed', message: `Multiple ${keyword} instructions should not be used in the same stage because only the last one will be used`, line: previous });
    }
    this.usedOnce.set(keyword, line);
  }

  private dispatch(instruction: StageInstruction): ResolvedInstruction {
    const x = (word: string): string => this.expand(word, instruction);
    this.dispatchChecks(instruction);
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
        let absolute: string;
        try {
          absolute = normalizeWorkdir(this.workingDir, path, this.os);
        } catch (err) {
          throw new LocatedError(`normalizing workdir: ${(err as Error).message}`, instruction);
        }
        if (!this.workdirSet.get(this.stage.index) && !(this.os === 'windows' ? /^(?:[cC]:)?[\\/]/.test(path) : path.startsWith('/'))) {
          this.warnings.push({ rule: 'WorkdirRelativePath', message: `Relative workdir ${JSON.stringify(path)} can have unexpected results if the base image changes`, line: instruction.line });
        }
        this.workdirSet.set(this.stage.index, true);
        this.workingDir = absolute;
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
        const exec = instruction.json ? [...instruction.args] : [...(this.shell.length > 0 ? this.shell : defaultShell(this.os)), instruction.args.join(' ')];
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
        if (!NON_ENV_ARGS.has(key)) this.env.set(key, v);
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
    if (this.plan.copyIgnored && (instruction.keyword === 'ADD' || instruction.from === undefined)) {
      for (const src of sources) {
        // BuildKit checks only the sources it copies from the context (validateCopySourcePath).
        if (isGitRef(src) || isHttpSource(src)) continue;
        const message = this.plan.copyIgnored(instruction.keyword, src);
        if (message !== undefined) this.warnings.push({ rule: 'CopyIgnoredFile', message, line: instruction.line });
      }
    }
    // BuildKit's ExpandRaw: an unquoted heredoc's body, quotes kept as text, `\` always the escape.
    const heredocs = instruction.heredocs.map((h) => (h.expand ? { ...h, data: this.expand(h.data, instruction, true) } : h));
    const chown = optional(instruction.chown);
    const chmod = optional(instruction.chmod);
    // --exclude is taken as written: BuildKit's Expand methods for COPY and ADD cover --chown,
    // --chmod, ADD's --checksum, the sources and the destination, never ExcludePatterns.
    const exclude = instruction.exclude;
    if (chmod !== undefined) {
      try {
        parseChmod(chmod);
      } catch (err) {
        throw new LocatedError((err as Error).message, instruction);
      }
    }
    // --link without --chmod copies onto an empty filesystem (BuildKit's MergeOp), where no
    // /etc/passwd names anyone: BuildKit fails (invalid user index: -1; since moby/buildkit#7134
    // as it reads the Dockerfile) instead of giving the files another owner.
    if (instruction.link && chmod === undefined && chown !== undefined && namesUserOrGroup(chown)) {
      throw new LocatedError(`--chown=${chown} with --link: a user or group name cannot be looked up, as --link copies onto an empty filesystem without /etc/passwd (docker build fails too: invalid user index: -1); give numeric ids, or drop --link`, instruction);
    }
    const common = {
      sources,
      heredocs,
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
      // BuildKit asks whether a source is a git ref first (an https URL of a .git path is one).
      if (isGitRef(src)) throw new LocatedError(`source can't be a git ref for COPY: ${src} (clone it into the build context and COPY it from there)`, instruction);
      if (isHttpSource(src)) throw new LocatedError(`source can't be a URL for COPY: ${src} (use ADD to download)`, instruction);
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
export function normalizeWorkdir(current: string, wd: string, os = 'linux'): string {
  if (os === 'windows') {
    current = withoutSystemDrive(current);
    wd = withoutSystemDrive(wd);
  }
  const parent = current === '' ? '/' : current.startsWith('/') ? current : joinPath('/', current);
  if (wd === '') return parent;
  if (wd.startsWith('/')) return wd;
  return joinPath(parent, wd);
}

/** A normalized working directory as the image config holds it: Windows' own separator there, as BuildKit's NormalizeWorkdir gives it (`\\app`). */
export function configWorkdir(workingDir: string, os: string): string {
  return os === 'windows' ? workingDir.replace(/\//g, '\\') : workingDir;
}

/**
 * BuildKit's CheckSystemDriveAndRemoveDriveLetter: a Windows path with `\` read as `/` and its C:
 * drive letter dropped (`C:\app` is `/app`); another drive, a bare `C:` or a UNC path is refused.
 */
function withoutSystemDrive(p: string): string {
  const path = p.replace(/\\/g, '/');
  if (path === '') return '';
  if (path.length === 2 && path[1] === ':') throw new Error(`No relative path specified in ${JSON.stringify(p)}`);
  if (path.startsWith('//')) throw new Error('UNC paths are not supported');
  const colon = path.indexOf(':');
  if (colon < 0) return cleanPath(path);
  if (path.slice(0, colon).toLowerCase() !== 'c') throw new Error('The specified path is not on the system drive (C:)');
  return cleanPath(path.slice(colon + 1));
}

const CHECKSUM_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Whether a --chown value has a name llb looks up in /etc/passwd or /etc/group (not an id, `root` or empty). */
function namesUserOrGroup(chown: string): boolean {
  const colon = chown.indexOf(':');
  const parts = colon < 0 ? [chown] : [chown.slice(0, colon), chown.slice(colon + 1)];
  return parts.some((p) => p !== '' && llbUserId(p) === undefined);
}

/**
 * BuildKit's dispatchCopy: one source, an HTTP(S) or Git one; only an HTTP source's checksum is a
 * digest (a Git source's is a commit).
 */
function checkChecksum(checksum: string, sources: string[], at: InstructionBase): void {
  if (sources.length !== 1) throw new LocatedError("checksum can't be specified for multiple sources", at);
  const src = sources[0]!;
  // (github.com/… too: ParseGitRef takes it for one, though ADD copies it as a local path)
  if (isGitRef(src) || src.startsWith('github.com/')) return;
  if (!isHttpSource(src)) throw new LocatedError('checksum requires HTTP(S) or Git sources', at);
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(checksum);
  if (!m) throw new LocatedError(`invalid checksum digest format: ${checksum}`, at);
  const length = CHECKSUM_LENGTHS[m[1]!];
  if (length === undefined) throw new LocatedError(`unsupported digest algorithm: ${checksum}`, at);
  if (m[2]!.length !== length || !/^[a-f0-9]+$/.test(m[2]!)) throw new LocatedError(`invalid checksum digest length: ${checksum}`, at);
}
