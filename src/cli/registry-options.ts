import type { Argv } from 'yargs';
import { toArray, usageError } from './command.js';
import type { RegistryClient, RetryNotice } from '../registry/http.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';

/** The flags every command that talks to a registry shares. */
export interface RegistryFlags {
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string | string[];
  certDir?: string;
  concurrency?: number;
  timeout?: string;
  requestTimeout?: string;
}

export function registryFlags(y: Argv, names: { cosign?: boolean } = {}): Argv {
  // cosign's names of two of them, on the verbs cosign has: a cosign command line for a test
  // registry runs as it is (its --allow-insecure-registry accepts any certificate; --insecure
  // here also falls back to plain HTTP).
  const cosign = (name: string) => (names.cosign ? { alias: name } : {});
  return y
    .option('username', { alias: 'u', type: 'string', describe: 'Registry user name (the password comes from --password-stdin)' })
    .option('password-stdin', { type: 'boolean', describe: 'Read the password (or token) from standard input' })
    .option('plain-http', { ...cosign('allow-http-registry'), type: 'boolean', describe: 'Speak plain HTTP to the registry (automatic for localhost and 127.0.0.1)' })
    .option('insecure', { ...cosign('allow-insecure-registry'), type: 'boolean', describe: 'Accept any TLS certificate, speak plain HTTP to a registry without TLS, and allow credentials over plain HTTP to a remote host' })
    .option('ca-file', { type: 'string', array: true, describe: 'PEM CA certificate to trust besides the system store (repeatable)' })
    .option('cert-dir', { type: 'string', describe: 'Directory of *.crt CA certificates and a NAME.cert/NAME.key client certificate, instead of the registry\'s certs.d (as skopeo --cert-dir)' })
    .option('concurrency', { type: 'number', default: DEFAULT_CONCURRENCY, describe: 'Blobs transferred in parallel' })
    .option('timeout', { type: 'string', describe: 'Longest a registry operation may take with its retries while nothing moves, e.g. 300, 90s, 5m (env OCIPUSH_TIMEOUT; default 300s)' })
    .option('request-timeout', { type: 'string', describe: 'Longest one request waits for an answer, e.g. 120, 30s (env OCIPUSH_REQUEST_TIMEOUT; default 120s)' })
    .group(['username', 'password-stdin', 'plain-http', 'insecure', 'ca-file', 'cert-dir', 'concurrency', 'timeout', 'request-timeout'], 'Registry options:');
}

export function checkConcurrency(value: unknown): number {
  const n = value === undefined ? DEFAULT_CONCURRENCY : Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw usageError(`--concurrency ${String(value)}: expected a whole number from 1 to 64`);
  return n;
}

/**
 * A client for `registry` configured by the flags: credentials from --username/--password-stdin,
 * then OCIPUSH_USERNAME/OCIPUSH_PASSWORD, then the Docker config; TLS per --ca-file/--insecure.
 * The password is read from stdin once, however many registries a command talks to.
 */
export async function clientFromFlags(registry: string, flags: RegistryFlags, hooks: { onRetry?: (n: RetryNotice) => void; password?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RegistryClient> {
  const { connectRegistry } = await import('../registry/connect.js');
  const { lazyDefaultCredentials } = await import('../registry/credentials/lazy.js');
  if (flags.passwordStdin && !flags.username) throw usageError('--password-stdin needs --username');
  if (flags.username && !flags.passwordStdin) throw usageError('--username needs --password-stdin (passwords are never taken as arguments)');
  let password = hooks.password;
  if (flags.passwordStdin && password === undefined) password = await passwordFromStdin();
  const concurrency = checkConcurrency(flags.concurrency);
  return connectRegistry(registry, {
    credentials: lazyDefaultCredentials({ registry, username: flags.username, password, ...(hooks.env ? { env: hooks.env } : {}) }),
    plainHttp: flags.plainHttp === true,
    insecure: flags.insecure === true,
    allowInsecureBasic: flags.insecure === true,
    caFiles: toArray(flags.caFile),
    ...(flags.certDir !== undefined ? { certDir: flags.certDir } : {}),
    // Uploads, plus room for the HEADs and manifest requests that run beside them.
    connections: concurrency + 2,
    timeouts: timeoutsFrom(flags),
    onRetry: hooks.onRetry,
  });
}

/**
 * Standard input is read once in a process: a build's base and cache, then each of its --push
 * destinations, all connect with the flags, and a second read found stdin empty ("no password on
 * standard input", after the first push had gone up).
 */
let stdinPassword: Promise<string> | undefined;
function passwordFromStdin(): Promise<string> {
  return stdinPassword ??= import('../registry/credentials/stdin.js').then((m) => m.readPasswordStdin());
}

/** --timeout / --request-timeout, else OCIPUSH_TIMEOUT / OCIPUSH_REQUEST_TIMEOUT, else the defaults. */
export function timeoutsFrom(flags: Pick<RegistryFlags, 'timeout' | 'requestTimeout'>, env: NodeJS.ProcessEnv = process.env): { operationMs?: number; requestMs?: number } {
  const operation = flags.timeout ?? env.OCIPUSH_TIMEOUT;
  const request = flags.requestTimeout ?? env.OCIPUSH_REQUEST_TIMEOUT;
  return {
    ...(operation !== undefined ? { operationMs: parseDuration(operation, flags.timeout !== undefined ? '--timeout' : 'OCIPUSH_TIMEOUT') } : {}),
    ...(request !== undefined ? { requestMs: parseDuration(request, flags.requestTimeout !== undefined ? '--request-timeout' : 'OCIPUSH_REQUEST_TIMEOUT') } : {}),
  };
}

/** `120`, `1.5`, `90s`, `500ms`, `5m` → milliseconds (a bare number is seconds). */
export function parseDuration(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(text));
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] ?? 's'];
  const ms = m && factor !== undefined ? Math.round(Number(m[1]) * factor) : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw usageError(`${name} "${text}": expected a duration such as 120, 90s, 500ms or 5m`);
  return ms;
}

/**
 * `connect(registry)` for a command that may talk to several registries (a build's bases): the
 * same flags for each, the password read from stdin once, when first needed. With `ownRegistries`
 * (a build's --push destinations), --username/--password-stdin and OCIPUSH_USERNAME/PASSWORD are
 * theirs alone: a base or cache repository on another registry (Docker Hub's, a mirror's) is read
 * with its own login from the Docker config, never sent the destination's password.
 */
export function registryConnector(flags: RegistryFlags, ownRegistries?: readonly string[]): (registry: string) => Promise<RegistryClient> {
  return async (registry) => {
    if (ownRegistries && !ownRegistries.includes(registry)) return clientElsewhere(registry, flags);
    return clientFromFlags(registry, flags, flags.passwordStdin && flags.username ? { password: await passwordFromStdin() } : {});
  };
}

/**
 * A client for a registry the flags' credentials were not given for (a base's, COSIGN_REPOSITORY's
 * on another host, a layer cache's): the flags' TLS choices and time limits, and that registry's
 * own login from the Docker config; --username, its password and OCIPUSH_USERNAME/PASSWORD never go there.
 */
export async function clientElsewhere(registry: string, flags: RegistryFlags, hooks: { onRetry?: (n: RetryNotice) => void } = {}): Promise<RegistryClient> {
  const { withoutEnvCredentials } = await import('../registry/credentials/env.js');
  const { username: _user, passwordStdin: _stdin, ...others } = flags;
  return clientFromFlags(registry, others, { ...hooks, env: withoutEnvCredentials(process.env) });
}

/**
 * A registry reference as the CLI takes it: `docker://` (skopeo's and podman's transport
 * prefix) is dropped, the rest is read by parseReference.
 */
export function stripTransport(text: string): string {
  return text.startsWith('docker://') ? text.slice('docker://'.length) : text;
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};

/** `1048576`, `512k`, `1MiB`, `4M`, `5MB` → bytes (k/M/G alone are binary, as docker and crane read them). */
export function parseSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw usageError(`--${flag} "${text}": expected a size such as 1048576, 512KiB, 4MiB or 16M`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw usageError(`--${flag} "${text}": must be larger than 0`);
  return bytes;
}

/**
 * A layout named the way skopeo names one, `oci:DIR[:NAME]` (NAME a tag or digest in it), or a
 * directory that holds one (as `crane push DIR REF` takes it, and as copy reads it), where a
 * command takes a layout as an argument (`pull REF oci:DIR:NAME`, `push oci:DIR:NAME REF`).
 */
export async function layoutArgument(text: string, role: string, hint?: string): Promise<{ dir: string; name?: string }> {
  const { parseLayoutTarget } = await import('../transports/layout-reference.js');
  const target = parseLayoutTarget(text);
  if (!target) throw usageError(`${role} ${JSON.stringify(text)}: expected a layout as oci:DIR[:NAME] (or a directory holding one)${hint ? `; ${hint}` : ''}`);
  return { dir: target.dir, ...(target.name !== undefined ? { name: target.name } : {}) };
}

/** `docker://…`, `host.tld/…`, `host:port/…`: written as a registry reference, not as a layout. */
export async function looksLikeRegistryReference(text: string): Promise<boolean> {
  const { looksLikeRegistryHost } = await import('../oci/reference.js');
  const slash = text.indexOf('/');
  if (/^\.{0,2}\//.test(text) || text.startsWith('oci:')) return false;
  return text.startsWith('docker://') || (slash > 0 && looksLikeRegistryHost(text.slice(0, slash)));
}

export type Side = 'src' | 'dest';

/** `--src-…` / `--dest-…` forms of the transport and credential flags, as skopeo has them. */
export function sideRegistryFlags(y: Argv, side: Side): Argv {
  const which = side === 'src' ? 'source' : 'destination';
  return y
    .option(`${side}-username`, { type: 'string', describe: `User name for the ${which} registry (the password from --${side}-password-stdin)` })
    .option(`${side}-password-stdin`, { type: 'boolean', describe: `Read the ${which} registry's password from standard input` })
    .option(`${side}-plain-http`, { type: 'boolean', describe: `Plain HTTP to the ${which} registry` })
    .option(`${side}-insecure`, { type: 'boolean', describe: `Accept any TLS certificate from the ${which} registry, or plain HTTP when it speaks no TLS` })
    .option(`${side}-ca-file`, { type: 'string', array: true, describe: `PEM CA certificate for the ${which} registry (repeatable)` })
    .option(`${side}-cert-dir`, { type: 'string', describe: `Directory of CA and client certificates for the ${which} registry (as --cert-dir)` })
    .group([`${side}-username`, `${side}-password-stdin`, `${side}-plain-http`, `${side}-insecure`, `${side}-ca-file`, `${side}-cert-dir`], `${side === 'src' ? 'Source' : 'Destination'} registry options:`);
}

/** The flags for one side: its `--src-…`/`--dest-…` values, else the shared ones. */
export function flagsForSide(argv: Record<string, unknown>, side: Side): RegistryFlags {
  const pick = <T>(name: string): T | undefined => (argv[`${side}${name}`] ?? argv[name.charAt(0).toLowerCase() + name.slice(1)]) as T | undefined;
  const own = argv[`${side}Username`] !== undefined || argv[`${side}PasswordStdin`] !== undefined;
  return {
    username: own ? argv[`${side}Username`] as string | undefined : argv.username as string | undefined,
    passwordStdin: own ? argv[`${side}PasswordStdin`] as boolean | undefined : argv.passwordStdin as boolean | undefined,
    plainHttp: pick<boolean>('PlainHttp'),
    insecure: pick<boolean>('Insecure'),
    caFile: pick<string[]>('CaFile'),
    certDir: pick<string>('CertDir'),
    concurrency: argv.concurrency as number | undefined,
    // Both sides' operations: a copy took --timeout and --request-timeout and waited the defaults.
    timeout: argv.timeout as string | undefined,
    requestTimeout: argv.requestTimeout as string | undefined,
  };
}
