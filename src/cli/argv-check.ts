import type { CliCommand } from './command.js';
import { commandName, GLOBAL_OPTIONS as GLOBAL_FLAGS, usageError } from './command.js';
import { cosignNoOpFlagWords, otherToolsFlagLine } from './other-tools-flags.js';

/**
 * What a command's builder declares, recorded without yargs: its options (with aliases, type
 * and choices) and positionals. Read before yargs parses, so that the command line's mistakes
 * are named as such (yargs reads `--foo REF` as foo=REF and then misses REF), and by
 * `ocipush completion`.
 */
export interface OptionSpec {
  name: string;
  aliases: string[];
  type: 'string' | 'number' | 'boolean' | 'count' | undefined;
  array: boolean;
  choices?: readonly (string | number)[];
  describe?: string;
  /** The command cannot run without it (yargs' demandOption: sign's --key). */
  required?: boolean;
}

export interface CommandSpec {
  name: string;
  /** Other names of the command (`cp` for copy). */
  aliases: string[];
  describe: string;
  options: OptionSpec[];
  positionals: { name: string; choices?: readonly (string | number)[]; describe?: string }[];
  /** Pairs of options that cannot be given together (yargs' conflicts: inspect's --raw and --config). */
  conflicts: [string, string][];
}

/** Options every command takes: command.ts's, and the help and version yargs adds. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  ...Object.entries(GLOBAL_FLAGS).map(([name, o]) => ({
    name, aliases: 'alias' in o ? [o.alias] : [], type: o.type, array: false, describe: o.describe,
  })),
  { name: 'help', aliases: ['h'], type: 'boolean', array: false, describe: 'Show help' },
  { name: 'version', aliases: [], type: 'boolean', array: false, describe: 'Show version number' },
];

/** `--json`, `-q`, `--quiet=false`: a global flag, which takes no value (GLOBAL_FLAGS are all boolean). */
function isGlobalFlag(arg: string): boolean {
  const [flag, value] = arg.split('=', 2) as [string, string | undefined];
  if (value !== undefined && value !== 'true' && value !== 'false') return false;
  return Object.entries(GLOBAL_FLAGS).some(([name, o]) => flag === `--${name}` || ('alias' in o && flag === `-${o.alias}`));
}

interface YargsOption {
  alias?: string | string[];
  demandOption?: boolean | string;
  type?: OptionSpec['type'];
  array?: boolean;
  choices?: readonly (string | number)[];
  describe?: string;
}

/** Runs a command's builder against a recorder that takes every call yargs would. */
export function describeCommand(cmd: CliCommand<any>): CommandSpec {
  const spec: CommandSpec = { name: commandName(cmd), aliases: [cmd.command].flat().slice(1).map((c) => c.split(' ')[0]!), describe: cmd.describe, options: [], positionals: [], conflicts: [] };
  const addOption = (name: string, o: YargsOption = {}): void => {
    const aliases = o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias];
    spec.options.push({ name, aliases, type: o.type, array: o.array === true, ...(o.choices ? { choices: o.choices } : {}), ...(o.describe ? { describe: o.describe } : {}), ...(o.demandOption ? { required: true } : {}) });
  };
  const recorder: unknown = new Proxy({}, {
    get: (_target, prop) => {
      if (prop === 'option' || prop === 'options') {
        return (name: string | Record<string, YargsOption>, o?: YargsOption) => {
          if (typeof name === 'string') addOption(name, o);
          else for (const [key, value] of Object.entries(name)) addOption(key, value);
          return recorder;
        };
      }
      if (prop === 'conflicts') {
        return (a: string | Record<string, string | string[]>, b?: string | string[]) => {
          const pairs = typeof a === 'string' ? { [a]: b ?? [] } : a;
          for (const [x, ys] of Object.entries(pairs)) for (const y of [ys].flat()) spec.conflicts.push([x, y]);
          return recorder;
        };
      }
      if (prop === 'positional') {
        return (name: string, o: YargsOption = {}) => {
          spec.positionals.push({ name, ...(o.choices ? { choices: o.choices } : {}), ...(o.describe ? { describe: o.describe } : {}) });
          return recorder;
        };
      }
      return () => recorder;
    },
  });
  cmd.builder(recorder as never);
  return spec;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * Checks the options of a command line before yargs reads it, and returns it with the values
 * yargs would misread made explicit. An unknown option is a usage error naming it ("unknown
 * option --foo"), a value outside an option's choices names the valid ones, and a value that
 * starts with a dash (`--owner -1:-1`) is joined to its option (`--owner=-1:-1`).
 * A command line with no known command is left to yargs.
 */
export async function checkArgs(args: string[]): Promise<string[]> {
  const commandIndex = args.findIndex((a) => !a.startsWith('-'));
  if (commandIndex < 0) {
    // No command, only options: one that is not global (`ocipush --jsn`, `-V`) is named, not left to "name a command".
    const globals = new Set(GLOBAL_OPTIONS.flatMap((o) => [o.name, ...o.aliases]));
    const end = args.indexOf('--');
    const known = (a: string) => (/^-[a-zA-Z]+$/.test(a) ? [...a.slice(1)].every((c) => globals.has(c)) : globals.has(a.replace(/^--(?:no-)?/, '').split('=')[0]!));
    const unknown = (end < 0 ? args : args.slice(0, end)).find((a) => a !== '-' && !known(a));
    // skopeo's and umoci's -v, and -V, are --version.
    const version = unknown === '-v' || unknown === '-V' ? ': did you mean --version?' : singleDash(unknown ?? '', (n) => globals.has(n) && n.length > 1);
    if (unknown !== undefined) throw usageError(`unknown option ${unknown.split('=')[0]}${version} (ocipush --help lists them)`);
    return args;
  }
  const { commandEntries } = await import('./commands.js');
  // `cp` and `prune` are checked as copy and gc are: an alias left to yargs named an unknown option
  // as "Unknown arguments: dest-tls-verify, destTlsVerify" and let `cp --foo SRC DST` swallow SRC.
  const entry = commandEntries.find((e) => e.name === args[commandIndex] || e.aliases?.includes(args[commandIndex]!));
  if (!entry) {
    // Only global flags before it (`--json push`): this word is the command. (`--layout L push`
    // is left to yargs, which reads L as the option's value.)
    if (!args.slice(0, commandIndex).every(isGlobalFlag)) return args;
    return await helpOrUnknown(args, commandIndex);
  }
  const cmd = await entry.load();
  const spec = describeCommand(cmd);
  const options = [...GLOBAL_OPTIONS, ...spec.options];
  const byName = new Map<string, OptionSpec>();
  for (const o of options) {
    for (const n of [o.name, ...o.aliases]) {
      byName.set(n, o);
      byName.set(camel(n), o);
    }
  }
  const known = (token: string): boolean => {
    if (token.startsWith('--')) return lookupLong(token.slice(2).split('=')[0]!) !== undefined;
    return token.length >= 2 && byName.has(token[1]!);
  };
  const lookupLong = (name: string): OptionSpec | undefined => {
    const direct = byName.get(name);
    if (direct) return direct;
    if (name.startsWith('no-')) {
      const negated = byName.get(name.slice(3));
      if (negated?.type === 'boolean') return negated;
    }
    return undefined;
  };
  const out = args.slice(0, commandIndex + 1);
  const positionals: string[] = [];
  // Each option given (by its name), whatever its value.
  const given = new Set<string>();
  // Where the value of each single-valued option stands in `out`, and the earlier ones a later use replaced.
  const valueAt = new Map<string, number>();
  const replaced = new Set<number>();
  // `ocipush -h push`, `ocipush --help push` (cobra's and git's order too) ask for push's help.
  let help = args.slice(0, commandIndex).some((a) => a === '--help' || /^-[a-zA-Z]*h[a-zA-Z]*$/.test(a));
  for (let i = commandIndex + 1; i < args.length; i++) {
    const token = args[i]!;
    if (token === '--') {
      // yargs gives a command none of the words after `--`: `build -- -dir` built nothing ("name at
      // least one rootfs"), `tag REF -- v1` said "Not enough non-option arguments". Said so here.
      const after = args[i + 1];
      if (after !== undefined && !help) {
        const instead = after.startsWith('-') ? `a file whose name starts with a dash is named ./${after}` : 'write it before --';
        throw usageError(`${spec.name}: ${quote(after)} comes after --, where ocipush reads no argument; ${instead} (see ocipush ${spec.name} --help)`);
      }
      out.push(...args.slice(i));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      out.push(token);
      positionals.push(token);
      continue;
    }
    const long = token.startsWith('--');
    const eq = token.indexOf('=');
    const name = long ? token.slice(2, eq < 0 ? undefined : eq) : token[1]!;
    // `-tag v1`, as Go's flag package takes it: read as `-t ag`, v1 became an argument and the
    // line blamed the reference. A word that is a long option's name is named as the slip it is.
    const oneDash = long ? '' : singleDash(token, (n) => n.length > 1 && lookupLong(n) !== undefined);
    if (oneDash) throw usageError(`unknown option ${token.split('=')[0]} for ${spec.name}${oneDash} (ocipush ${spec.name} --help lists them)`);
    const option = long ? lookupLong(name) : byName.get(name);
    if (!option) {
      // docker login's -p / --password: a secret on the command line lands in the shell's history and ps.
      const stdin = byName.get(`${long ? name : 'password'}-stdin`);
      if (stdin && (name === 'p' || name.endsWith('password'))) {
        throw usageError(`${long ? `--${name}` : '-p'}: a password is never taken as an argument (it would show in ps and the shell's history); pipe it to --${stdin.name}: echo "$TOKEN" | ocipush ${spec.name} … --${stdin.name}`);
      }
      const passed = cosignNoOpFlagWords(spec.name, name, long, eq >= 0 && long ? token.slice(eq + 1) : undefined, args[i + 1]);
      if (passed !== undefined) {
        i += passed - 1;
        continue;
      }
      const theirs = otherToolsFlagLine(spec.name, name, long, (n) => byName.has(n));
      if (theirs) throw usageError(theirs);
      // A slip for a long option (`--tga`, `--plaform`) is named with the options it may be, as a command's is.
      const hint = long ? didYouMean(name, options.flatMap((o) => [o.name, ...o.aliases]).filter((n) => n.length > 1), '--') : '';
      throw usageError(`unknown option ${long ? `--${name}` : `-${name}`} for ${spec.name}${hint} (ocipush ${spec.name} --help lists them)`);
    }
    const display = long ? `--${name}` : `-${name}`;
    const takesValue = option.type !== 'boolean' && option.type !== 'count';
    if (!takesValue) {
      if (option.name === 'help' || option.name === 'version') help = true;
      else if (!long && [...token.slice(1)].some((letter) => byName.get(letter)?.name === 'help')) help = true;
      // A bundle of short flags (-qh): every letter must be one.
      if (!long) {
        for (const letter of token.slice(2)) {
          const o = byName.get(letter);
          if (!o) throw usageError(`unknown option -${letter} for ${spec.name} (ocipush ${spec.name} --help lists them)`);
        }
      }
      // yargs reads the word after a flag as its value when it is true or false (`--json false`,
      // `-q false`; not after `--no-cache`): it is no positional.
      const next = args[i + 1];
      const valued = option.type === 'boolean' && eq < 0 && (next === 'true' || next === 'false') && (long ? byName.has(name) : token.length === 2);
      for (const letter of long ? [] : token.slice(2)) given.add(byName.get(letter)!.name);
      given.add(option.name);
      if (valued) {
        out.push(token, next);
        i++;
        continue;
      }
      out.push(token);
      continue;
    }
    let value: string | undefined;
    if (long && eq >= 0) value = token.slice(eq + 1);
    else if (!long && token.length > 2) value = token.slice(token[2] === '=' ? 3 : 2);
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next === '--' || (next.startsWith('-') && next !== '-' && known(next))) {
        throw usageError(`option ${display} needs a value`);
      }
      value = next;
      i++;
    }
    // yargs reads `--concurrency abc` as NaN (and 0x10, 1e1 as numbers): the message would name NaN, not what was typed.
    if (option.type === 'number' && !/^[+-]?\d+(?:\.\d+)?$/.test(value)) {
      throw usageError(`${display} ${quote(value)}: expected a number`);
    }
    if (option.choices && !option.choices.map(String).includes(value)) {
      throw usageError(`${display} ${quote(value)}: expected one of ${option.choices.join(', ')}`);
    }
    // A single-valued option given twice (`--layout a … --layout b`, a script's default then its
    // override) takes the last value, as crane's, skopeo's and docker's flags do; yargs made an
    // array of the two, which the command met as a defect (exit 70, a TypeError's stack).
    if (!option.array) {
      const earlier = valueAt.get(option.name);
      if (earlier !== undefined) replaced.add(earlier);
      valueAt.set(option.name, out.length);
    }
    // A repeatable option takes one value per use (yargs' greedy-arrays is off): the words after it are positionals.
    out.push(`--${option.name}=${value}`);
    given.add(option.name);
  }
  if (!help) {
    checkPositionals(cmd, spec, positionals);
    checkOptionRules(spec, given);
  }
  return replaced.size === 0 ? out : out.filter((_, i) => !replaced.has(i));
}

/**
 * A required option left out (`sign REF` without --key) or two that exclude each other (`inspect
 * --raw --config`) is one line naming the options as they are typed and the command, rather than
 * yargs' "Missing required argument: key" or "Arguments raw and config are mutually exclusive",
 * both sent to the general `ocipush --help`.
 */
function checkOptionRules(spec: CommandSpec, given: Set<string>): void {
  const help = `(see ocipush ${spec.name} --help)`;
  for (const o of spec.options) {
    if (o.required && !given.has(o.name)) throw usageError(`${spec.name}: missing --${o.name}${o.describe ? ` (${o.describe})` : ''} ${help}`);
  }
  for (const [a, b] of spec.conflicts) {
    // yargs refuses the pair whatever their values (`--raw --config=false` too): so does this line.
    if (given.has(a) && given.has(b)) throw usageError(`${spec.name}: --${a} and --${b} cannot be given together ${help}`);
  }
}

/**
 * A required positional left out (`ocipush push`, `ocipush copy SRC`), or one more than the command
 * takes, is one line naming it, what it is and the command's form, rather than yargs' "Not enough non-option arguments: got 0"; an
 * action that is none (`index make`) names the actions, rather than yargs' "Invalid values".
 */
function checkPositionals(cmd: CliCommand<any>, spec: CommandSpec, given: string[]): void {
  const usage = [cmd.command].flat()[0]!;
  const words = usage.split(' ').slice(1);
  const positionalOf = (word: string) => spec.positionals.find((p) => p.name === /^[<[]([\w-]+)/.exec(word)?.[1]);
  words.forEach((word, i) => {
    const choices = positionalOf(word)?.choices;
    if (choices && i < given.length && !choices.map(String).includes(given[i]!)) {
      throw usageError(`${spec.name} ${quote(given[i]!)}: expected one of ${choices.join(', ')} (see ocipush ${spec.name} --help)`);
    }
  });
  // One word too many (`inspect REF extra`, `digest a b`) is named with the command's form, not as
  // yargs' "Unknown argument: extra (see ocipush --help)".
  if (!words.some((w) => w.includes('..')) && given.length > words.length) {
    throw usageError(`${spec.name}: unexpected argument ${quote(given[words.length]!)}; usage: ocipush ${usage} (see ocipush ${spec.name} --help)`);
  }
  const required = words.filter((w) => w.startsWith('<'));
  if (given.length >= required.length) return;
  const word = required[given.length]!;
  const positional = positionalOf(word);
  const what = positional?.choices ? `one of ${positional.choices.join(', ')}` : positional?.describe;
  throw usageError(`${spec.name}: missing ${word}${what ? ` (${what})` : ''}; usage: ocipush ${usage} (see ocipush ${spec.name} --help)`);
}

/**
 * `ocipush help push` is `ocipush push --help` (as git, crane, cosign and podman take it); a word
 * that names no command is a usage error naming it, with the commands it may be a slip for
 * (cobra's rule, which crane, oras and cosign follow: two edits away, or the start of one).
 * An alias (`cp`, `prune`) and `help` alone are left to yargs.
 */
async function helpOrUnknown(args: string[], commandIndex: number): Promise<string[]> {
  const { loadCommands } = await import('./commands.js');
  const names = (await loadCommands()).flatMap((cmd) => [cmd.command].flat().map((c) => c.split(' ')[0]!));
  let at = commandIndex;
  if (args[at] === 'help') {
    const next = args.findIndex((a, i) => i > at && !a.startsWith('-'));
    if (next < 0) return args;
    if (names.includes(args[next]!)) return [...args.slice(0, at), ...args.slice(at + 1), '--help'];
    at = next;
  }
  const word = args[at]!;
  if (names.includes(word)) return args;
  // `help help`, as git answers it: the general help.
  if (word === 'help' && at > commandIndex) return [...args.slice(0, commandIndex), '--help'];
  // docker, crane, oras, cosign and regctl have a version command; here it is the flag.
  const hint = word === 'version' ? ': did you mean --version?' : didYouMean(word, names);
  throw usageError(`unknown command ${quote(word)}${hint} (ocipush --help lists them)`);
}

/** `: did you mean --tag? (a long option takes two dashes)` for `-tag` or `-tag=v1` when `isLong('tag')`; else ''. */
function singleDash(token: string, isLong: (name: string) => boolean): string {
  const word = /^-([a-zA-Z][\w-]+)(?:=|$)/.exec(token)?.[1];
  return word !== undefined && isLong(word) ? `: did you mean --${word}? (a long option takes two dashes)` : '';
}

/**
 * `: did you mean build?`, or nothing: the names a typed word may be a slip for (cobra's rule,
 * which crane, oras and cosign follow: two edits away, or the start of one), at most three.
 */
function didYouMean(word: string, names: string[], prefix = ''): string {
  const typed = word.toLowerCase();
  const scored = [...new Set(names)].map((name) => ({ name, d: editDistance(typed, name) })).sort((a, b) => a.d - b.d || a.name.localeCompare(b.name));
  const close = scored.filter(({ d }) => d <= 2 && d < typed.length);
  const near = [...new Set([
    ...close.filter(({ d }) => d === close[0]!.d).map(({ name }) => name),
    ...scored.filter(({ name }) => typed.length >= 2 && name.startsWith(typed)).map(({ name }) => name),
  ])].slice(0, 3).map((name) => `${prefix}${name}`);
  return near.length === 0 ? '' : `: did you mean ${near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near.at(-1)}`}?`;
}

/** Edits (insert, delete, replace, swap two neighbours) that make `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** A value as it can be shown on one line: quoted, control characters escaped. */
export function quote(value: string): string {
  return JSON.stringify(value);
}
