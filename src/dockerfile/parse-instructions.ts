import { LocatedError } from './errors.js';
import { FLAG_SPECS } from './flags.js';
import { parseGoDuration } from './duration.js';
import { TOKEN_WHITESPACE, trimGoSpace, trimLeftGoSpace, isGoSpace } from './go-text.js';
import type {
  AddInstruction,
  ArgInstruction,
  CopyInstruction,
  DockerfileWarning,
  EnvInstruction,
  ExposeInstruction,
  FromInstruction,
  HealthcheckInstruction,
  HeredocSource,
  KeyValue,
  LabelInstruction,
  OnbuildInstruction,
  ShellInstruction,
  VolumeInstruction,
} from './instructions.js';
import { chompHeredoc, heredocWord } from './heredoc.js';
import { processWord, type EscapeToken } from './lex.js';
import { parseWords, splitWhitespace } from './words.js';
import { argsAt, flagPosition, flagsFor, maybeJson, maybeJsonList, type Split } from './parse-line.js';

/*
 * The instructions whose arguments have more than one shape: FROM, ARG, ENV/LABEL, EXPOSE, VOLUME,
 * SHELL, HEALTHCHECK, COPY/ADD and ONBUILD, each as BuildKit's instructions package parses it.
 */

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(s: Split, warnings: DockerfileWarning[]): FromInstruction {
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
      // RuleFromAsCasing.Format(from, as) prints `as` first: "'as' and 'FROM' keywords' casing do not match".
      warnings.push({ rule: 'FromAsCasing', message: `'${as}' and '${s.written}' keywords' casing do not match`, line: s.base.line });
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

export function parseArg(s: Split): ArgInstruction {
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
export function parseEnvLike(s: Split, keyword: 'ENV' | 'LABEL'): EnvInstruction | LabelInstruction {
  const words = parseWords(s.args, s.escape);
  const pairs: KeyValue[] = [];
  let legacy = false;
  if (words.length > 0 && !words[0]!.text.includes('=')) {
    const m = TOKEN_WHITESPACE.exec(s.args);
    if (!m) throw new LocatedError(`${keyword} must have two arguments`, s.base);
    // LegacyKeyValueFormat is BuildKit's dispatch check: resolveStages warns of it.
    legacy = true;
    pairs.push({ key: s.args.slice(0, m.index), value: s.args.slice(m.index + m[0].length) });
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

export function parseExpose(s: Split): ExposeInstruction {
  const ports = splitWhitespace(s.args).map((p) => p.text);
  if (ports.length === 0) throw new LocatedError('EXPOSE requires at least one argument', s.base);
  flagsFor(s, {});
  // BuildKit sorts the words (byte order) before expanding them.
  ports.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...s.base, keyword: 'EXPOSE', ports };
}

export function parseVolume(s: Split): VolumeInstruction {
  const { args, json } = maybeJsonList(s);
  if (args.length === 0) throw new LocatedError('VOLUME requires at least one argument', s.base);
  flagsFor(s, {});
  const volumes = args.map((v) => trimGoSpace(v));
  if (volumes.some((v) => v === '')) throw new LocatedError('VOLUME specified can not be an empty string', argsAt(s));
  return { ...s.base, keyword: 'VOLUME', volumes, json };
}

export function parseShell(s: Split): ShellInstruction {
  const { args, json } = maybeJson(s);
  flagsFor(s, {});
  if (args.length === 0) throw new LocatedError('SHELL requires at least one argument', s.base);
  if (!json) throw new LocatedError('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-c"]', argsAt(s));
  return { ...s.base, keyword: 'SHELL', shell: args };
}

export function parseHealthcheck(s: Split): HealthcheckInstruction {
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

export function parseCopyLike(s: Split): CopyInstruction | AddInstruction {
  const keyword = s.base.keyword as 'COPY' | 'ADD';
  const { args, json } = maybeJsonList(s);
  if (args.length < 2) {
    throw new LocatedError(`${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`, args.length ? argsAt(s) : s.base);
  }
  const f = flagsFor(s, FLAG_SPECS[keyword]!);
  const dest = args[args.length - 1]!;
  // BuildKit's parseSourcesAndDest: each source word that is a heredoc takes the body the line
  // read under its name (the last of that name; none in JSON form, whose lines read no body).
  if (heredocWord(dest)) throw new LocatedError(`${keyword} cannot accept a heredoc as a destination`, s.base);
  const bodies = new Map((s.line.heredocs ?? []).map((h) => [h.name, h.content]));
  const sources: string[] = [];
  const heredocs: HeredocSource[] = [];
  for (const src of args.slice(0, -1)) {
    const h = heredocWord(src);
    if (!h) sources.push(src);
    else {
      const body = bodies.get(h.name) ?? '';
      heredocs.push({ name: h.name, data: h.chomp ? chompHeredoc(body) : body, expand: h.expand });
    }
  }
  const common = {
    ...s.base,
    sources,
    heredocs,
    dest,
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

export function parseOnbuild(s: Split): OnbuildInstruction {
  if (s.args === '') throw new LocatedError('ONBUILD requires at least one argument', s.base);
  flagsFor(s, {});
  const sep = TOKEN_WHITESPACE.exec(s.args);
  const trigger = (sep ? s.args.slice(0, sep.index) : s.args).toUpperCase();
  if (trigger === 'ONBUILD') throw new LocatedError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', argsAt(s));
  if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new LocatedError(`${trigger} isn't allowed as an ONBUILD trigger`, argsAt(s));
  // BuildKit's parseOnBuild cuts the prefix off the node's Original, which keeps the line's
  // trailing whitespace (`ONBUILD COPY a b  ` stores `COPY a b  `: docker inspect shows it, and a
  // config that differs from docker's is another digest). The trigger's heredoc bodies, each
  // followed by its terminator, go into the expression, so that the child build reads them again.
  let expression = trimLeftGoSpace(s.line.text).replace(ONBUILD_PREFIX, '');
  for (const h of s.line.heredocs ?? []) expression += `\n${h.content}${h.name}`;
  return { ...s.base, keyword: 'ONBUILD', expression, trigger };
}
