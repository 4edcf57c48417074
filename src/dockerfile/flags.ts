import { LocatedError } from './errors.js';
import type { ParsedFlag } from './instructions.js';

/**
 * Validation of an instruction's `--flags` against the flags it accepts, with BuildKit's BFlags
 * rules: `--name=value` for strings (repeatable for lists), `--name`, `--name=true|false` for
 * booleans, no flag given twice, unknown flags rejected.
 */

export type FlagKind = 'bool' | 'string' | 'strings';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

export class FlagValues {
  readonly strings = new Map<string, string>();
  readonly bools = new Map<string, boolean>();
  readonly lists = new Map<string, string[]>();

  string(name: string): string | undefined {
    return this.strings.get(name);
  }

  /** A string flag's value, or undefined when absent or empty (BuildKit treats "" as unset). */
  nonEmpty(name: string): string | undefined {
    const v = this.strings.get(name);
    return v === undefined || v === '' ? undefined : v;
  }

  bool(name: string): boolean {
    return this.bools.get(name) ?? false;
  }

  list(name: string): string[] {
    return this.lists.get(name) ?? [];
  }
}

export function parseFlags(keyword: string, flags: readonly ParsedFlag[], spec: FlagSpec): FlagValues {
  const values = new FlagValues();
  const used = new Set<string>();
  for (const flag of flags) {
    const at = { line: flag.line, column: flag.column };
    const kind = Object.prototype.hasOwnProperty.call(spec, flag.name) ? spec[flag.name] : undefined;
    if (kind === undefined) {
      const accepted = Object.keys(spec).map((n) => `--${n}`);
      const hint = accepted.length === 0 ? `${keyword} takes no flags` : `${keyword} accepts ${accepted.join(', ')}`;
      throw new LocatedError(`unknown flag: --${flag.name} (${hint})`, at);
    }
    if (used.has(flag.name) && kind !== 'strings') throw new LocatedError(`duplicate flag specified: --${flag.name}`, at);
    used.add(flag.name);
    switch (kind) {
      case 'bool': {
        if (flag.value === '') throw new LocatedError(`missing a value on flag: --${flag.name}`, at);
        const lower = flag.value?.toLowerCase();
        if (lower === undefined) values.bools.set(flag.name, true);
        else if (lower === 'true' || lower === 'false') values.bools.set(flag.name, lower === 'true');
        else throw new LocatedError(`expecting boolean value for flag --${flag.name}, not: ${flag.value}`, at);
        break;
      }
      case 'string':
        if (flag.value === undefined) throw new LocatedError(`missing a value on flag: --${flag.name}`, at);
        values.strings.set(flag.name, flag.value);
        break;
      case 'strings':
        if (flag.value === undefined) throw new LocatedError(`missing a value on flag: --${flag.name}`, at);
        values.lists.set(flag.name, [...values.list(flag.name), flag.value]);
        break;
    }
  }
  return values;
}

/** The flags each instruction accepts in BuildKit's stable Dockerfile syntax. */
export const FLAG_SPECS: Readonly<Record<string, FlagSpec>> = {
  FROM: { platform: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    unpack: 'bool',
    exclude: 'strings',
  },
  RUN: { mount: 'strings', network: 'string', security: 'string' },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};
