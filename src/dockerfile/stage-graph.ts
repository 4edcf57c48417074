import { copyIgnoredCheck } from './copy-ignored.js';
import { LocatedError, type SourcePosition } from './errors.js';
import type { CopyInstruction, DockerfileWarning, InstructionBase, ParsedDockerfile, StageInstruction } from './instructions.js';
import { ExpansionError, processWord, type EscapeToken, type ExpansionResult } from './lex.js';
import { parseTrigger } from './parse.js';
import { suggestName } from './go-text.js';
import { defaultArgChecks, platformFlagChecks } from './from-checks.js';
import { hostPlatform, normalizeTarget, parseFromPlatform, platformArgs } from './platform.js';
import type { BaseImageConfig, ResolveOptions, StageBase } from './resolve-types.js';

/**
 * The first half of resolution: global ARGs with --build-arg, FROM lines expanded, the target
 * stage, and the stages it needs (bases, COPY --from, ONBUILD triggers), before any stage runs.
 */

export interface StageHead {
  index: number;
  baseImage: string;
  base: StageBase;
  platform?: string;
}

export interface Plan {
  escape: EscapeToken;
  /** The os of the platform being built for (normalized). */
  targetOs: string;
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
  /** BuildKit's CopyIgnoredFile check of a context source (options.dockerignore), if it applies. */
  copyIgnored?: ((keyword: 'COPY' | 'ADD', src: string) => string | undefined) | undefined;
}

function toMap(args: ResolveOptions['buildArgs']): Map<string, string> {
  if (!args) return new Map();
  if (args instanceof Map) return new Map(args);
  return new Map(Object.entries(args as Record<string, string>));
}

/**
 * Expands one word of an instruction at `at`. `raw`: as BuildKit's ExpandRaw does a COPY heredoc's
 * body (quotes are text, the escape token is `\` whatever `# escape=` says).
 */
export function expandAt(word: string, env: Map<string, string>, escape: EscapeToken, at: SourcePosition, raw = false): ExpansionResult {
  try {
    return processWord(word, (name) => env.get(name), raw ? { escape: '\\', skipProcessQuotes: true } : { escape });
  } catch (err) {
    if (err instanceof ExpansionError) {
      // The word is quoted as Go's %q would (processWord): a heredoc body's lines stay one line.
      throw new LocatedError(err.message, at);
    }
    throw err;
  }
}

export function planStages(parsed: ParsedDockerfile, options: ResolveOptions, warnings: DockerfileWarning[]): Plan {
  const escape = parsed.directives.escape;
  const buildArgs = toMap(options.buildArgs);
  const target = normalizeTarget(options.targetPlatform ?? hostPlatform());
  const globals = new Map<string, string>();
  for (const [k, v] of Object.entries(platformArgs(target, options.buildPlatform ?? target))) globals.set(k, buildArgs.get(k) ?? v);
  // BuildKit's defaultArgs: TARGETSTAGE is --target as given, else the last stage's name, else "default".
  const targetStage = options.target || parsed.stages[parsed.stages.length - 1]?.name || 'default';
  globals.set('TARGETSTAGE', buildArgs.get('TARGETSTAGE') ?? targetStage);

  defaultArgChecks(parsed.stages, parsed.globalArgs, globals, escape, warnings);
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
      // BuildKit's wrapSuggestAny: a misspelt ARG is named with the one it may have meant.
      const suggestion = [...p.unmatched].map((n) => suggestName(n, globals.keys())).find((m) => m !== undefined);
      const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
      if (p.value === '') throw new LocatedError(`empty platform value from expression ${stage.platform}${hint}`, at);
      platformFlagChecks(stage, p, globals, warnings);
      // Every stage's, needed or not, as BuildKit parses them all before it builds one.
      try {
        platform = parseFromPlatform(p.value);
      } catch (err) {
        throw new LocatedError(`failed to parse platform ${stage.platform}: ${(err as Error).message}${hint}`, at);
      }
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

  return { escape, targetOs: target.os, buildArgs, globals, declaredGlobal, heads, byName, target: targetIndex, needed: sorted, copyFrom, baseConfigs, triggers, copyIgnored: copyIgnoredCheck(options.dockerignore) };
}

export function resolveCopyFrom(c: CopyInstruction, byName: Map<string, number>, stageCount: number): { stage?: number; image?: string } {
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
    const match = suggestName(name, new Set([...declared, ...globals.keys()]));
    warnings.push({ rule: 'UndefinedArgInFrom', message: `FROM argument '${name}' is not declared${match !== undefined ? ` (did you mean ${match}?)` : ''}`, line: at.line });
  }
}
