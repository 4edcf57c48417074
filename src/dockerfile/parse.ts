import { DEFAULT_DOCKERFILE_NAME, LocatedError, withFilename } from './errors.js';
import { applyLintConfig, checkOptions, parseLintOptions, withWarningsFound } from './lint-config.js';
import { FLAG_SPECS } from './flags.js';
import { editDistance } from './go-text.js';
import type {
  ArgInstruction,
  CommandLineInstruction,
  DockerfileWarning,
  EnvInstruction,
  FromInstruction,
  Instruction,
  InstructionBase,
  LabelInstruction,
  MaintainerInstruction,
  ParsedDockerfile,
  RunInstruction,
  Stage,
  StopSignalInstruction,
  UserInstruction,
  WorkdirInstruction,
} from './instructions.js';
import type { EscapeToken } from './lex.js';
import { splitLogicalLines, type LogicalLine } from './logical-lines.js';
import { flagsFor, maybeJson, oneArgument, splitLine } from './parse-line.js';
import { parseArg, parseCopyLike, parseEnvLike, parseExpose, parseFrom, parseHealthcheck, parseOnbuild, parseShell, parseVolume } from './parse-instructions.js';

/**
 * Parses a Dockerfile the way BuildKit's parser and instructions packages do, without I/O:
 * directives, comments, continuations, keywords in any case, exec vs shell form, flags, and
 * grouping into stages. Problems throw `OcipushError('EDOCKERFILE', 'Dockerfile:LINE:COL: …')`.
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): ParsedDockerfile {
  const filename = options.filename ?? DEFAULT_DOCKERFILE_NAME;
  const found: Found = { warnings: [], checks: new Map() };
  try {
    return withFilename(filename, () => parseSource(text, filename, found));
  } catch (err) {
    throw withWarningsFound(err, () => {
      const config = parseLintOptions(options.check ?? checkOptions(found.directive ?? ''));
      return applyLintConfig(found.warnings, config, (line) => found.checks.get(line)).warnings;
    });
  }
}

export interface ParseOptions {
  /** The name in messages; default `Dockerfile`. */
  filename?: string;
  /**
   * The `BUILDKIT_DOCKERFILE_CHECK` build arg, which replaces the `# check=` directive: a parse
   * error's `details.warnings` (those found before it) are shown as it says.
   */
  check?: string;
}

/** What the parser has found so far, for the warnings an error carries. */
interface Found {
  warnings: DockerfileWarning[];
  directive?: string;
  /** The `# check=` comment of each instruction parsed, by its line. */
  checks: Map<number, string>;
}

export const KNOWN_INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

function parseSource(text: string, filename: string, found: Found): ParsedDockerfile {
  const source = splitLogicalLines(text);
  const warnings = found.warnings;
  if (source.directives.check !== undefined) found.directive = source.directives.check;
  if (source.lines.length === 0) {
    throw new LocatedError('file with no instructions', { line: Math.max(1, source.lineCount), column: 1 });
  }
  // The whole file's, as BuildKit's parser reports them before an instruction is read.
  for (const line of source.lines) {
    if (line.emptyContinuation) warnings.push({ rule: 'NoEmptyContinuation', message: 'Empty continuation line', line: line.endLine });
  }
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const line of source.lines) {
    const instruction = parseInstruction(line, source.directives.escape, warnings);
    if (line.check !== undefined) {
      instruction.check = line.check;
      found.checks.set(instruction.line, line.check);
    }
    if (instruction.keyword === 'FROM') {
      stages.push({
        index: stages.length,
        ...(instruction.name !== undefined && { name: instruction.name }),
        baseImage: instruction.image,
        ...(instruction.platform !== undefined && { platform: instruction.platform }),
        from: instruction,
        instructions: [],
      });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (instruction.keyword === 'ARG') {
        globalArgs.push(instruction);
        continue;
      }
      throw new LocatedError(
        `no build stage in current context: ${instruction.keyword} must come after FROM (only ARG may come before the first FROM)`,
        instruction,
      );
    }
    stage.instructions.push(instruction);
  }
  if (stages.length === 0) {
    throw new LocatedError('dockerfile contains no stages to build: add a FROM instruction', { line: source.lines[0]!.startLine, column: 1 });
  }
  stageWarnings(stages, warnings);
  const syntax = source.directives.syntax;
  if (syntax !== undefined && !STANDARD_SYNTAX.test(syntax.split(' ')[0]!)) {
    warnings.push({
      rule: 'SyntaxDirectiveIgnored',
      message: `# syntax=${syntax} asks for another BuildKit frontend; ocipush reads this Dockerfile with the standard Dockerfile syntax`,
    });
  }
  return { filename, directives: source.directives, globalArgs, stages, warnings };
}

/** The official Dockerfile frontend images, any version or digest. */
const STANDARD_SYNTAX = /^(?:docker\.io\/)?docker\/dockerfile(?:-upstream)?(?::[\w.-]+)?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * ConsistentInstructionCasing (BuildKit's validateCommandCasing): the keywords of the stages
 * (global ARGs aside) as written, each either all lower or all upper case, and all in the case
 * most of them use (upper on a tie).
 */
function casingWarnings(stages: Stage[], warnings: DockerfileWarning[]): void {
  const written = stages.flatMap((s) => [s.from, ...s.instructions]).map((i) => ({ line: i.line, word: i.original.split(/\s/, 1)[0]! }));
  let lower = 0;
  let upper = 0;
  for (const { word } of written) {
    if (word === word.toLowerCase()) lower++;
    else if (word === word.toUpperCase()) upper++;
  }
  const majorityLower = lower > upper;
  for (const { line, word } of written) {
    const casing = majorityLower ? (word !== word.toLowerCase() ? 'lowercase' : '') : word !== word.toUpperCase() ? 'uppercase' : '';
    if (casing) warnings.push({ rule: 'ConsistentInstructionCasing', message: `Command '${word}' should match the case of the command majority (${casing})`, line });
  }
}

function stageWarnings(stages: Stage[], warnings: DockerfileWarning[]): void {
  casingWarnings(stages, warnings);
  const names = new Set<string>();
  for (const stage of stages) {
    if (stage.name !== undefined) {
      if (stage.name === 'context' || stage.name === 'scratch') {
        warnings.push({ rule: 'ReservedStageName', message: `Stage name should not use the same name as reserved stage "${stage.name}"`, line: stage.from.line });
      }
      if (names.has(stage.name)) {
        warnings.push({ rule: 'DuplicateStageName', message: `Duplicate stage name "${stage.name}", stage names should be unique`, line: stage.from.line });
      }
      names.add(stage.name);
    }
  }
}

function parseInstruction(line: LogicalLine, escape: EscapeToken, warnings: DockerfileWarning[]): Instruction {
  const s = splitLine(line, escape);
  const keyword = s.base.keyword;
  switch (keyword) {
    case 'FROM': return parseFrom(s, warnings);
    case 'ARG': return parseArg(s);
    case 'ENV': return parseEnvLike(s, 'ENV') as EnvInstruction;
    case 'LABEL': return parseEnvLike(s, 'LABEL') as LabelInstruction;
    case 'EXPOSE': return parseExpose(s);
    case 'USER': return { ...s.base, keyword, user: oneArgument(s, true) } satisfies UserInstruction;
    case 'WORKDIR': return { ...s.base, keyword, path: oneArgument(s, true) } satisfies WorkdirInstruction;
    // BuildKit never validates STOPSIGNAL's flags, so neither do we.
    case 'STOPSIGNAL': return { ...s.base, keyword, signal: oneArgument(s, false) } satisfies StopSignalInstruction;
    case 'MAINTAINER': {
      const maintainer = oneArgument(s, true);
      warnings.push({ rule: 'MaintainerDeprecated', message: 'Maintainer instruction is deprecated in favor of using label', line: s.base.line });
      return { ...s.base, keyword, maintainer } satisfies MaintainerInstruction;
    }
    case 'VOLUME': return parseVolume(s);
    case 'SHELL': return parseShell(s);
    case 'CMD':
    case 'ENTRYPOINT': {
      const { args, json } = maybeJson(s);
      flagsFor(s, {});
      return { ...s.base, keyword, args, json } satisfies CommandLineInstruction;
    }
    case 'RUN': {
      const { args, json } = maybeJson(s);
      const f = flagsFor(s, FLAG_SPECS.RUN!);
      return {
        ...s.base,
        keyword,
        args,
        json,
        mounts: f.list('mount'),
        ...(f.string('network') !== undefined && { network: f.string('network') }),
        ...(f.string('security') !== undefined && { security: f.string('security') }),
      } satisfies RunInstruction;
    }
    case 'HEALTHCHECK': return parseHealthcheck(s);
    case 'COPY':
    case 'ADD': return parseCopyLike(s);
    case 'ONBUILD': return parseOnbuild(s);
    default: {
      const suggestion = suggestInstruction(keyword);
      throw new LocatedError(`unknown instruction "${s.written}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, s.base);
    }
  }
}

function suggestInstruction(keyword: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_INSTRUCTIONS) {
    const d = editDistance(keyword, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(keyword.length / 3)) ? best : undefined;
}

/**
 * Parses one ONBUILD trigger (from a base image's config or a base stage) as BuildKit does when
 * a child stage starts: as a one-line Dockerfile with the default escape token. Positions are
 * those of `at`, the FROM that pulled the trigger in.
 */
export function parseTrigger(expression: string, at: InstructionBase): Exclude<Instruction, FromInstruction> {
  try {
    const source = splitLogicalLines(expression);
    if (source.lines.length !== 1) throw new LocatedError('onbuild trigger should be a single expression', at);
    const instruction = parseInstruction(source.lines[0]!, '\\', []);
    if (instruction.keyword === 'FROM' || instruction.keyword === 'ONBUILD' || instruction.keyword === 'MAINTAINER') {
      throw new LocatedError(`${instruction.keyword} isn't allowed as an ONBUILD trigger`, at);
    }
    return { ...instruction, line: at.line, column: at.column, endLine: at.endLine };
  } catch (err) {
    if (err instanceof LocatedError) throw new LocatedError(`ONBUILD ${expression}: ${err.message}`, at);
    throw err;
  }
}
