import type { ArgumentsCamelCase } from 'yargs';
import { GLOBAL_OPTIONS, type CliCommand } from './command.js';
import { commandEntries, type CommandEntry } from './commands.js';

/**
 * The command line of one command, parsed without yargs. Loading yargs and every command's
 * module is about 100 ms, most of a re-push; this reads the command's own declaration (its
 * builder, run against a recorder instead of yargs) and parses the plain forms people type:
 * `--name value`, `--name=value`, `-n value`, `--flag`, `--no-flag`, repeated array options,
 * positionals. It gives the command the argv yargs would (test/cli/fast-args.test.ts compares the
 * two on many lines), and declines anything else — help, version, an unknown option, a missing
 * positional, a value yargs would read another way (`--tag -x`, `--env A=1 B=2`, `--json false`),
 * a builder feature it does not know — which then goes to yargs, so help and usage errors stay
 * yargs' own.
 */
export interface FastInvocation {
  command: CliCommand<any>;
  argv: ArgumentsCamelCase<Record<string, unknown>>;
}

export async function fastInvocation(args: string[], entries: CommandEntry[] = commandEntries): Promise<FastInvocation | undefined> {
  const entry = entries.find((e) => e.name === args[0]);
  if (!entry) return undefined;
  const command = await entry.load();
  const spec = recordCommand(command);
  const argv = spec && parseCommandLine(spec, args);
  return argv ? { command, argv } : undefined;
}

type OptionType = 'string' | 'boolean' | 'number';

interface OptionSpec {
  name: string;
  type: OptionType;
  array: boolean;
  aliases: string[];
  default?: unknown;
  choices?: readonly unknown[];
  /** demandOption: yargs' message when it is missing (the line then goes to yargs). */
  demanded: boolean;
}

interface PositionalSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  options: Record<string, unknown>;
}

export interface CommandSpec {
  name: string;
  positionals: PositionalSpec[];
  /** Every option by its name and each alias. */
  options: Map<string, OptionSpec>;
  conflicts: Array<[string, string]>;
}

/** Raised while recording or parsing: this command line is for yargs. */
class Decline extends Error {}

const DESCRIPTIVE = new Set(['describe', 'description', 'desc', 'group', 'hidden', 'defaultDescription']);
const UNDERSTOOD = new Set([...DESCRIPTIVE, 'type', 'array', 'alias', 'default', 'choices', 'demandOption']);

/** The command's positionals and options, or undefined when its builder uses what the parser does not know. */
export function recordCommand(command: CliCommand<any>): CommandSpec | undefined {
  try {
    const words = (Array.isArray(command.command) ? command.command[0]! : command.command).trim().split(/\s+/);
    const spec: CommandSpec = { name: words[0]!, positionals: [], options: new Map(), conflicts: [] };
    for (const word of words.slice(1)) {
      const m = /^(<|\[)([a-zA-Z][\w-]*)(\.\.)?(>|\])$/.exec(word);
      if (!m || (m[1] === '<') !== (m[4] === '>')) throw new Decline();
      spec.positionals.push({ name: m[2]!, required: m[1] === '<', variadic: m[3] !== undefined, options: {} });
    }
    for (const [name, option] of Object.entries(GLOBAL_OPTIONS)) addOption(spec, name, option);
    const recorder: Record<string, unknown> = {
      positional(name: string, options: Record<string, unknown>) {
        const p = spec.positionals.find((x) => x.name === name);
        if (!p || Object.keys(options).some((k) => !UNDERSTOOD.has(k) || k === 'alias' || k === 'demandOption')) throw new Decline();
        p.options = options;
        return proxy;
      },
      option(name: unknown, options: unknown) {
        if (typeof name !== 'string' || typeof options !== 'object' || options === null) throw new Decline();
        addOption(spec, name, options as Record<string, unknown>);
        return proxy;
      },
      conflicts(a: unknown, b: unknown) {
        if (typeof a !== 'string' || (typeof b !== 'string' && !Array.isArray(b))) throw new Decline();
        for (const other of [b].flat()) spec.conflicts.push([a, String(other)]);
        return proxy;
      },
      example: () => proxy,
      group: () => proxy,
      usage: () => proxy,
      epilogue: () => proxy,
      epilog: () => proxy,
    };
    recorder.options = recorder.option;
    // Any other yargs method (check, coerce, middleware, implies …) is beyond this parser.
    const proxy: unknown = new Proxy(recorder, {
      get: (target, key) => (typeof key === 'string' && key in target ? target[key] : () => { throw new Decline(); }),
    });
    command.builder(proxy as never);
    return spec;
  } catch (err) {
    if (err instanceof Decline) return undefined;
    throw err;
  }
}

function addOption(spec: CommandSpec, name: string, options: Record<string, unknown>): void {
  const type = options.type;
  if (type !== 'string' && type !== 'boolean' && type !== 'number') throw new Decline();
  if (Object.keys(options).some((k) => !UNDERSTOOD.has(k)) || (options.array !== undefined && typeof options.array !== 'boolean')) throw new Decline();
  const aliases = options.alias === undefined ? [] : [options.alias].flat();
  if (!aliases.every((a) => typeof a === 'string')) throw new Decline();
  const demand = options.demandOption;
  if (demand !== undefined && typeof demand !== 'boolean' && typeof demand !== 'string') throw new Decline();
  const option: OptionSpec = { name, type, array: options.array === true, aliases: aliases as string[], demanded: Boolean(demand) };
  if (type === 'boolean' && option.array) throw new Decline();
  if ('default' in options) option.default = options.default;
  if (options.choices !== undefined) {
    if (!Array.isArray(options.choices)) throw new Decline();
    option.choices = options.choices;
  }
  for (const key of [name, ...option.aliases]) {
    // A name declared twice (a command redefining a global option): leave it to yargs.
    if (spec.options.has(key) || key === 'help' || key === 'h' || key === 'version') throw new Decline();
    spec.options.set(key, option);
  }
}

const LONG_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const WHOLE_NUMBER = /^(?:0|[1-9]\d{0,14})$/;

/** argv as yargs would give it, or undefined when the line is for yargs. */
export function parseCommandLine(spec: CommandSpec, args: string[]): ArgumentsCamelCase<Record<string, unknown>> | undefined {
  if (args[0] !== spec.name) return undefined;
  const given = new Map<OptionSpec, unknown>();
  const positionals: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '' || arg === '-' || arg === '--') return undefined;
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let negated = false;
    if (arg.startsWith('--')) {
      name = arg.slice(2);
      const eq = name.indexOf('=');
      if (eq >= 0) [name, inline] = [name.slice(0, eq), name.slice(eq + 1)];
      if (!LONG_NAME.test(name) || name.length < 2) return undefined;
    } else {
      // `-q`, `-t value`; never `-qv`, `-t=x` or `-5`.
      name = arg.slice(1);
      if (!/^[a-zA-Z]$/.test(name)) return undefined;
    }
    let option = spec.options.get(name);
    if (!option && name.startsWith('no-') && arg.startsWith('--')) {
      option = spec.options.get(name.slice(3));
      negated = true;
      if (option?.type !== 'boolean') return undefined;
    }
    if (!option) return undefined;
    if (option.type === 'boolean') {
      // yargs reads `--json false` as false and `--json=…` its own way.
      const next = args[i + 1];
      if (inline !== undefined || next === 'true' || next === 'false' || given.has(option)) return undefined;
      given.set(option, !negated);
      continue;
    }
    const text = inline ?? args[++i];
    // `--tag -x` is an empty tag and a flag to yargs; `--tag=` is ''. Leave both to it.
    if (text === undefined || text === '' || text.startsWith('-')) return undefined;
    let value: unknown = text;
    if (option.type === 'number') {
      if (!WHOLE_NUMBER.test(text)) return undefined;
      value = Number(text);
    }
    if (option.choices && !option.choices.includes(value)) return undefined;
    if (option.array) {
      // One value per use (yargs' greedy-arrays is off): `-e A=1 ./rootfs` is a variable and a positional.
      given.set(option, [...((given.get(option) as unknown[] | undefined) ?? []), value]);
    } else {
      // A second `--tag` makes an array in yargs.
      if (given.has(option)) return undefined;
      given.set(option, value);
    }
  }

  const argv: Record<string, unknown> = { _: [spec.name] };
  let next = 0;
  for (const p of spec.positionals) {
    const values = p.variadic ? positionals.slice(next) : positionals.slice(next, next + 1);
    next += values.length;
    if (values.length === 0 && p.required) return undefined;
    if (p.options.type !== 'string' && values.some((v) => /^[-+.\d]|^0x/i.test(v))) return undefined;
    if (Array.isArray(p.options.choices) && !values.every((v) => (p.options.choices as unknown[]).includes(v))) return undefined;
    if (p.variadic) setKey(argv, p.name, values.length ? values : (p.options.default ?? []));
    else if (values.length) setKey(argv, p.name, values[0]);
    else if (p.options.default !== undefined) setKey(argv, p.name, p.options.default);
  }
  if (next < positionals.length) return undefined;
  for (const [a, b] of spec.conflicts) {
    const [oa, ob] = [spec.options.get(a), spec.options.get(b)];
    if (!oa || !ob || (given.has(oa) && given.has(ob))) return undefined;
  }
  const options = new Set(spec.options.values());
  if ([...options].some((o) => o.demanded && !given.has(o))) return undefined;
  for (const option of options) {
    const value = given.has(option) ? given.get(option) : option.default;
    if (value === undefined) continue;
    for (const key of [option.name, ...option.aliases]) setKey(argv, key, value);
  }
  argv.$0 = 'ocipush';
  return argv as ArgumentsCamelCase<Record<string, unknown>>;
}

function setKey(argv: Record<string, unknown>, key: string, value: unknown): void {
  argv[key] = value;
  const camel = key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  if (camel !== key) argv[camel] = value;
}
