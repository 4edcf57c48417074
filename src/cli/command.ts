import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { Output } from './output.js';

/**
 * One CLI command. Its module stays light: `run` imports the heavy parts it needs, so
 * `ocipush --version` and `--help` start fast.
 */
export interface CliCommand<A = Record<string, unknown>> {
  command: string | string[];
  describe: string;
  builder: (y: Argv) => Argv;
  run: (argv: ArgumentsCamelCase<A>, out: Output) => Promise<number | void>;
}

/** The options every command takes (besides yargs' own --help and --version). */
/** A command's verb, as typed: the first word of its (first) command string (`push`, `index`). */
export function commandName(cmd: CliCommand<any>): string {
  const first = Array.isArray(cmd.command) ? cmd.command[0]! : cmd.command;
  return first.split(' ')[0]!;
}

export const GLOBAL_OPTIONS = {
  json: { type: 'boolean', describe: 'Machine-readable output on stdout' },
  quiet: { alias: 'q', type: 'boolean', describe: 'Print nothing but errors (a reading verb still prints what it was asked for)' },
} as const;

/** The forms an image source takes (transports/parse.ts), for the help of every verb that reads one. */
export const IMAGE_FORMS = 'REGISTRY/REPO[:TAG|@DIGEST] (or docker://…), oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:NAME:TAG]';

/**
 * `--sign --key KEY [--sign-container-identity REGISTRY/REPO | --new-bundle-format]`: a verb that writes an image into
 * a registry or a layout signs it there too, as `ocipush sign` would after it. Declared here, beside the other shared options, so that `push` loads
 * nothing more to parse its flags; key-options.ts, which reads the key, loads only with `--sign`.
 */
export function signFlags(y: Argv): Argv {
  return y
    .option('sign', { type: 'boolean', describe: 'Also sign the image written, by digest, with --key (cosign\'s format, as ocipush sign does)' })
    .option('key', { type: 'string', describe: 'With --sign: the private key (cosign.key with COSIGN_PASSWORD, a PKCS#8 PEM file, or env://NAME)' })
    .option('sign-container-identity', { type: 'string', describe: 'With --sign: the REGISTRY/REPOSITORY the signature names (cosign\'s flag); by default the repository written to; needed to sign into a layout' })
    .option('new-bundle-format', { type: 'boolean', describe: 'With --sign: store the signature as cosign 3 does by default (as sign --new-bundle-format): a Sigstore bundle as an OCI 1.1 referrer of the image, not at sha256-<hex>.sig' });
}

/** Splits repeatable `K=V` flags into a record; a missing `=` is a usage error naming the flag. */
export function parseKeyValues(values: unknown, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of toArray(values)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--${flag} "${item}": expected KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function toArray(values: unknown): string[] {
  if (values === undefined || values === null) return [];
  return (Array.isArray(values) ? values : [values]).map(String);
}

/** `--entrypoint '["a","b"]'` or `--entrypoint "a b"`: a JSON array, else one shell-split-free string per word. */
export function parseCommandLine(value: string, flag: string): string[] {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try { parsed = JSON.parse(trimmed); } catch { throw usageError(`--${flag}: "${value}" is not a valid JSON array`); }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) throw usageError(`--${flag}: expected a JSON array of strings`);
    return parsed as string[];
  }
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

import { OcipushError } from '../errors.js';
export function usageError(message: string): OcipushError {
  return new OcipushError('EUSAGE', message);
}
