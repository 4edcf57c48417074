import { DEFAULT_DOCKERFILE_NAME, LocatedError, type SourcePosition, withFilename } from './errors.js';
import { FLAG_SPECS, parseFlags, type FlagValues } from './flags.js';
import { parseGoDuration } from './duration.js';
import { editDistance, TOKEN_WHITESPACE, trimGoSpace, isGoSpace } from './go-text.js';
import { findHeredocs } from './heredoc.js';
import type {
  AddInstruction,
  ArgInstruction,
  CommandLineInstruction,
  CopyInstruction,
  DockerfileWarning,
  EnvInstruction,
  ExposeInstruction,
  FromInstruction,
  HealthcheckInstruction,
  Instruction,
  InstructionBase,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
  ParsedDockerfile,
  ParsedFlag,
  RunInstruction,
  ShellInstruction,
  Stage,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from './instructions.js';
import { processWord, type EscapeToken } from './lex.js';
import { positionAt, splitSource, type LogicalLine } from './logical-lines.js';
import { extractFlags, NotStringArrayError, parseJsonArray, parseWords, splitWhitespace, type Piece } from './words.js';

/**
 * Parses a Dockerfile the way BuildKit's parser and instructions packages do, without I/O:
 * directives, comments, continuations, keywords in any case, exec vs shell form, flags, and
 * grouping into stages. Problems throw `OcipushError('EDOCKERFILE', 'Dockerfile:LINE:COL: …')`.
 */
export function parseDockerfile(text: string, options: { filename?: string } = {}): ParsedDockerfile {
  const filename = options.filename ?? DEFAULT_DOCKERFILE_NAME;
  return withFilename(filename, () => parseSource(text, filename));
}

export const KNOWN_INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

function parseSource(text: string, filename: string): ParsedDockerfile {
  const source = splitSource(text);
  const warnings: DockerfileWarning[] = [];
  if (source.lines.length === 0) {
    throw new LocatedError('file with no instructions', { line: Math.max(1, source.lineCount), column: 1 });
  }
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const line of source.lines) {
    if (line.emptyContinuation) {
      warnings.push({ rule: 'NoEmptyContinuation', message: 'Empty continuation line', line: line.endLine });
    }
    const instruction = parseInstruction(line, source.directives.escape, warnings);
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

function stageWarnings(stages: Stage[], warnings: DockerfileWarning[]): void {
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
    // Only the last CMD, ENTRYPOINT or HEALTHCHECK of a stage counts; BuildKit flags the others.
    const last = new Map<string, InstructionBase>();
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'CMD' && instruction.keyword !== 'ENTRYPOINT' && instruction.keyword !== 'HEALTHCHECK') continue;
      const previous = last.get(instruction.keyword);
      if (previous) {
        warnings.push({
          rule: 'MultipleInstructionsDisallowed',
          message: `Multiple ${instruction.keyword} instructions should not be used in the same stage because only the last one will be used`,
          line: previous.line,
        });
      }
      last.set(instruction.keyword, instruction);
    }
  }
}

/** One logical line cut into keyword, flags and argument text, with positions. */
interface Split {
  line: LogicalLine;
  escape: EscapeToken;
  base: InstructionBase;
  written: string;
  flags: ParsedFlag[];
  args: string;
  argsOffset: number;
}

function splitLine(line: LogicalLine, escape: EscapeToken): Split {
  const text = line.text;
  let start = 0;
  while (start < text.length && isGoSpace(text[start]!)) start++;
  const trimmed = trimGoSpace(text);
  const sep = TOKEN_WHITESPACE.exec(trimmed);
  const written = sep ? trimmed.slice(0, sep.index) : trimmed;
  const afterOffset = start + (sep ? sep.index + sep[0].length : trimmed.length);
  const after = sep ? trimmed.slice(sep.index + sep[0].length) : '';
  const { flags, rest } = extractFlags(after);
  let argsOffset = afterOffset + rest.offset;
  while (argsOffset < text.length && isGoSpace(text[argsOffset]!)) argsOffset++;
  const at = positionAt(line, start);
  return {
    line,
    escape,
    base: { keyword: written.toUpperCase(), original: trimmed, line: at.line, column: at.column, endLine: line.endLine },
    written,
    flags: flags.map((f) => toParsedFlag(f, positionAt(line, afterOffset + f.offset))),
    args: trimGoSpace(rest.text),
    argsOffset,
  };
}

function toParsedFlag(piece: Piece, at: SourcePosition): ParsedFlag {
  const body = piece.text.slice(2);
  const eq = body.indexOf('=');
  return {
    name: eq < 0 ? body : body.slice(0, eq),
    value: eq < 0 ? undefined : body.slice(eq + 1),
    line: at.line,
    column: at.column,
  };
}

function parseInstruction(line: LogicalLine, escape: EscapeToken, warnings: DockerfileWarning[]): Instruction {
  const s = splitLine(line, escape);
  const keyword = s.base.keyword;
  if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD' || keyword === 'ONBUILD') rejectHeredoc(s);
  switch (keyword) {
    case 'FROM': return parseFrom(s, warnings);
    case 'ARG': return parseArg(s);
    case 'ENV': return parseEnvLike(s, 'ENV', warnings) as EnvInstruction;
    case 'LABEL': return parseEnvLike(s, 'LABEL', warnings) as LabelInstruction;
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

function argsAt(s: Split, offset = 0): SourcePosition {
  return positionAt(s.line, s.argsOffset + offset);
}

function flagsFor(s: Split, spec: Readonly<Record<string, 'bool' | 'string' | 'strings'>>): FlagValues {
  return parseFlags(s.base.keyword, s.flags, spec);
}

function rejectHeredoc(s: Split): void {
  const onbuild = s.base.keyword === 'ONBUILD';
  if (onbuild && !/^(RUN|COPY|ADD)$/i.test(s.args.split(TOKEN_WHITESPACE)[0] ?? '')) return;
  const text = onbuild ? s.args : s.line.text;
  const heredocs = findHeredocs(text);
  if (heredocs.length === 0) return;
  // JSON forms cannot hold heredocs.
  if (parseJsonArraySafe(onbuild ? stripKeyword(s.args) : s.args) !== undefined) return;
  const offset = s.line.text.indexOf(heredocs[0]!);
  throw new LocatedError(
    `heredocs (${heredocs[0]}) are not supported: put the content in a file in the build context and COPY it`,
    offset >= 0 ? positionAt(s.line, offset) : s.base,
  );
}

function stripKeyword(line: string): string {
  const m = TOKEN_WHITESPACE.exec(line);
  return m ? extractFlags(line.slice(m.index + m[0].length)).rest.text : '';
}

function parseJsonArraySafe(text: string): string[] | undefined {
  try {
    return parseJsonArray(text);
  } catch {
    return undefined;
  }
}

/** MAINTAINER, USER, WORKDIR, STOPSIGNAL: the whole rest of the line is the one argument. */
function oneArgument(s: Split, checkFlags: boolean): string {
  if (s.args === '') throw new LocatedError(`${s.base.keyword} requires exactly one argument`, s.base);
  if (checkFlags) flagsFor(s, {});
  return s.args;
}

/** CMD, ENTRYPOINT, RUN, SHELL: a JSON array of strings, else the whole text (shell form). */
function maybeJson(s: Split, text = s.args, offset = 0): { args: string[]; json: boolean } {
  if (text === '') return { args: [], json: false };
  try {
    const array = parseJsonArray(text);
    if (array !== undefined) return { args: array, json: true };
  } catch (err) {
    if (err instanceof NotStringArrayError) throw new LocatedError(err.message, argsAt(s, offset));
    throw err;
  }
  return { args: [text], json: false };
}

/** COPY, ADD, VOLUME: a JSON array of strings, else whitespace-separated words (quotes kept). */
function maybeJsonList(s: Split): { args: string[]; json: boolean } {
  try {
    const array = parseJsonArray(s.args);
    if (array !== undefined) return { args: array, json: true };
  } catch (err) {
    if (err instanceof NotStringArrayError) throw new LocatedError(err.message, argsAt(s));
    throw err;
  }
  return { args: splitWhitespace(s.args).map((p) => p.text), json: false };
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function parseFrom(s: Split, warnings: DockerfileWarning[]): FromInstruction {
  const words = splitWhitespace(s.args);
  let name: string | undefined;
  if (words.length === 3 && words[1]!.text.toLowerCase() === 'as') {
    const written = words[2]!.text;
    name = written.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw new LocatedError(`invalid name for build stage: "${written}", name can't start with a number or contain symbols`, argsAt(s, words[2]!.offset));
    }
    if (written !== name) warnings.push({ rule: 'StageNameCasing', message: `Stage name '${written}' should be lowercase`, line: s.base.line });
    const as = words[1]!.text;
    const fromLower = s.written === s.written.toLowerCase();
    const fromUpper = s.written === s.written.toUpperCase();
    if ((fromLower && as !== as.toLowerCase()) || (!fromLower && fromUpper && as !== as.toUpperCase())) {
      warnings.push({ rule: 'FromAsCasing', message: `'${s.written}' and '${as}' keywords' casing do not match`, line: s.base.line });
    }
  } else if (words.length !== 1) {
    throw new LocatedError('FROM requires either one or three arguments (FROM image [AS name])', words.length > 0 ? argsAt(s) : s.base);
  }
  const f = flagsFor(s, FLAG_SPECS.FROM!);
  const platform = f.nonEmpty('platform');
  return {
    ...s.base,
    keyword: 'FROM',
    image: words[0]!.text,
    ...(name !== undefined && { name }),
    ...(platform !== undefined && { platform }),
  };
}

function parseArg(s: Split): ArgInstruction {
  const words = parseWords(s.args, s.escape);
  if (words.length === 0) throw new LocatedError('ARG requires at least one argument', s.base);
  flagsFor(s, {});
  const args = words.map((w) => {
    const eq = w.text.indexOf('=');
    if (eq < 0) return { key: w.text };
    if (eq === 0) throw new LocatedError('ARG names can not be blank', argsAt(s, w.offset));
    return { key: w.text.slice(0, eq), value: w.text.slice(eq + 1) };
  });
  return { ...s.base, keyword: 'ARG', args };
}

/** ENV and LABEL: `k=v k2="v 2"` pairs, or the legacy `k value with spaces`. */
function parseEnvLike(s: Split, keyword: 'ENV' | 'LABEL', warnings: DockerfileWarning[]): EnvInstruction | LabelInstruction {
  const words = parseWords(s.args, s.escape);
  const pairs: KeyValue[] = [];
  let legacy = false;
  if (words.length > 0 && !words[0]!.text.includes('=')) {
    const m = TOKEN_WHITESPACE.exec(s.args);
    if (!m) throw new LocatedError(`${keyword} must have two arguments`, s.base);
    legacy = true;
    pairs.push({ key: s.args.slice(0, m.index), value: s.args.slice(m.index + m[0].length) });
    warnings.push({
      rule: 'LegacyKeyValueFormat',
      message: `"${keyword} key=value" should be used instead of legacy "${keyword} key value" format`,
      line: s.base.line,
    });
  } else {
    for (const w of words) {
      const eq = w.text.indexOf('=');
      if (eq < 0) {
        throw new LocatedError(`Syntax error - can't find = in ${JSON.stringify(w.text)}. Must be of the form: name=value`, argsAt(s, w.offset));
      }
      pairs.push({ key: w.text.slice(0, eq), value: w.text.slice(eq + 1) });
    }
  }
  flagsFor(s, {});
  if (pairs.length === 0) throw new LocatedError(`${keyword} requires at least one argument`, s.base);
  if (pairs.some((p) => p.key === '')) throw new LocatedError(`${keyword} names can not be blank`, argsAt(s));
  return { ...s.base, keyword, pairs, legacy } as EnvInstruction | LabelInstruction;
}

function parseExpose(s: Split): ExposeInstruction {
  const ports = splitWhitespace(s.args).map((p) => p.text);
  if (ports.length === 0) throw new LocatedError('EXPOSE requires at least one argument', s.base);
  flagsFor(s, {});
  // BuildKit sorts the words (byte order) before expanding them.
  ports.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...s.base, keyword: 'EXPOSE', ports };
}

function parseVolume(s: Split): VolumeInstruction {
  const { args, json } = maybeJsonList(s);
  if (args.length === 0) throw new LocatedError('VOLUME requires at least one argument', s.base);
  flagsFor(s, {});
  const volumes = args.map((v) => trimGoSpace(v));
  if (volumes.some((v) => v === '')) throw new LocatedError('VOLUME specified can not be an empty string', argsAt(s));
  return { ...s.base, keyword: 'VOLUME', volumes, json };
}

function parseShell(s: Split): ShellInstruction {
  const { args, json } = maybeJson(s);
  flagsFor(s, {});
  if (args.length === 0) throw new LocatedError('SHELL requires at least one argument', s.base);
  if (!json) throw new LocatedError('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-c"]', argsAt(s));
  return { ...s.base, keyword: 'SHELL', shell: args };
}

function parseHealthcheck(s: Split): HealthcheckInstruction {
  let sep = 0;
  while (sep < s.args.length && !isGoSpace(s.args[sep]!)) sep++;
  if (sep === 0) throw new LocatedError('HEALTHCHECK requires at least one argument', s.base);
  let next = sep;
  while (next < s.args.length && isGoSpace(s.args[next]!)) next++;
  const type = s.args.slice(0, sep).toUpperCase();
  const { args, json } = maybeJson(s, s.args.slice(next), next);
  const none = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    // BuildKit ignores flags on HEALTHCHECK NONE.
    if (args.length !== 0) throw new LocatedError('HEALTHCHECK NONE takes no arguments', argsAt(s, next));
    return { ...s.base, keyword: 'HEALTHCHECK', test: ['NONE'], ...none };
  }
  const f = flagsFor(s, FLAG_SPECS.HEALTHCHECK!);
  if (type !== 'CMD') throw new LocatedError(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, argsAt(s));
  if (args.length === 0) throw new LocatedError('Missing command after HEALTHCHECK CMD', s.base);
  const interval = (name: string): number => {
    const value = f.string(name);
    if (value === undefined || value === '') return 0;
    let d: number;
    try {
      d = parseGoDuration(value);
    } catch (err) {
      throw new LocatedError(`--${name}: ${(err as Error).message}`, flagPosition(s, name));
    }
    if (d === 0) return 0;
    if (d < 1_000_000) throw new LocatedError(`Interval "${name}" cannot be less than 1ms`, flagPosition(s, name));
    return d;
  };
  let retries = 0;
  const retriesText = f.string('retries');
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[+-]?[0-9]+$/.test(retriesText)) {
      throw new LocatedError(`--retries: strconv.ParseInt: parsing ${JSON.stringify(retriesText)}: invalid syntax`, flagPosition(s, 'retries'));
    }
    retries = Number(retriesText);
    if (retries > 2 ** 31 - 1 || retries < -(2 ** 31)) {
      throw new LocatedError(`--retries: strconv.ParseInt: parsing ${JSON.stringify(retriesText)}: value out of range`, flagPosition(s, 'retries'));
    }
    if (retries < 0) throw new LocatedError(`--retries cannot be negative (${retries})`, flagPosition(s, 'retries'));
  }
  return {
    ...s.base,
    keyword: 'HEALTHCHECK',
    test: json ? ['CMD', ...args] : ['CMD-SHELL', ...args],
    interval: interval('interval'),
    timeout: interval('timeout'),
    startPeriod: interval('start-period'),
    startInterval: interval('start-interval'),
    retries,
  };
}

function flagPosition(s: Split, name: string): SourcePosition {
  const flag = s.flags.find((f) => f.name === name);
  return flag ? { line: flag.line, column: flag.column } : s.base;
}

function parseCopyLike(s: Split): CopyInstruction | AddInstruction {
  const keyword = s.base.keyword as 'COPY' | 'ADD';
  const { args, json } = maybeJsonList(s);
  if (args.length < 2) {
    throw new LocatedError(`${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`, args.length ? argsAt(s) : s.base);
  }
  const f = flagsFor(s, FLAG_SPECS[keyword]!);
  const common = {
    ...s.base,
    sources: args.slice(0, -1),
    dest: args[args.length - 1]!,
    json,
    ...(f.nonEmpty('chown') !== undefined && { chown: f.nonEmpty('chown') }),
    ...(f.nonEmpty('chmod') !== undefined && { chmod: f.nonEmpty('chmod') }),
    link: f.bool('link'),
    exclude: f.list('exclude'),
  };
  if (keyword === 'ADD') {
    return {
      ...common,
      keyword,
      keepGitDir: f.bool('keep-git-dir'),
      ...(f.nonEmpty('checksum') !== undefined && { checksum: f.nonEmpty('checksum') }),
      ...(f.bools.has('unpack') && { unpack: f.bool('unpack') }),
    };
  }
  const from = f.nonEmpty('from');
  if (from !== undefined) {
    // BuildKit refuses variables in --from: the stage graph must be known before any stage runs.
    const unchanged = processWordSafe(from, s.escape) === from;
    if (!unchanged) {
      throw new LocatedError(
        'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
        flagPosition(s, 'from'),
      );
    }
  }
  return { ...common, keyword, ...(from !== undefined && { from }), parents: f.bool('parents') };
}

function processWordSafe(word: string, escape: EscapeToken): string | undefined {
  try {
    return processWord(word, () => undefined, { escape }).value;
  } catch {
    return undefined;
  }
}

const ONBUILD_PREFIX = /^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i;

function parseOnbuild(s: Split): OnbuildInstruction {
  if (s.args === '') throw new LocatedError('ONBUILD requires at least one argument', s.base);
  flagsFor(s, {});
  const sep = TOKEN_WHITESPACE.exec(s.args);
  const trigger = (sep ? s.args.slice(0, sep.index) : s.args).toUpperCase();
  if (trigger === 'ONBUILD') throw new LocatedError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', argsAt(s));
  if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new LocatedError(`${trigger} isn't allowed as an ONBUILD trigger`, argsAt(s));
  return { ...s.base, keyword: 'ONBUILD', expression: s.base.original.replace(ONBUILD_PREFIX, ''), trigger };
}

/**
 * Parses one ONBUILD trigger (from a base image's config or a base stage) as BuildKit does when
 * a child stage starts: as a one-line Dockerfile with the default escape token. Positions are
 * those of `at`, the FROM that pulled the trigger in.
 */
export function parseTrigger(expression: string, at: InstructionBase): Exclude<Instruction, FromInstruction> {
  try {
    const source = splitSource(expression);
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
