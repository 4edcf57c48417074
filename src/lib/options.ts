import { OcipushError } from '../errors.js';
import type { Platform } from '../oci/descriptor.js';
import type { CredentialSource } from '../registry/auth/types.js';
import type { RegistryClient, RetryNotice } from '../registry/http.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { splitDirAndName } from '../transports/layout-name.js';

/** cosign's COSIGN_REPOSITORY, which the library's calls do not read from the environment. */
export interface SignatureStore {
  /** `REGISTRY/REPOSITORY` the image's signatures and attestations are kept in instead of its own repository. */
  signatureRepository?: string;
}

/** `text`, given as the option `option`, as a registry repository: without a tag or digest. */
export async function repositoryOption(text: string, option: string): Promise<{ registry: string; repository: string }> {
  const { parseTransport } = await import('../transports/parse.js');
  const location = parseTransport(text);
  if (location.transport !== 'registry') throw new OcipushError('EUSAGE', `\`${option}\` ${text}: expected a registry repository (REGISTRY/REPO)`);
  const ref = location.reference;
  if (ref.tag !== undefined || ref.digest !== undefined) throw new OcipushError('EUSAGE', `\`${option}\` ${text}: a repository (REGISTRY/REPO), without a tag or digest`);
  return { registry: ref.registry, repository: ref.repository };
}

/**
 * What every library call that talks to a registry takes: `build` (for base images), `push`
 * and `pull` alike. The names are the CLI's flags in camel case, and the defaults are the CLI's.
 */
export interface RegistryOptions {
  /**
   * Where credentials come from. Default: as the CLI without `--username`, i.e.
   * OCIPUSH_USERNAME/OCIPUSH_PASSWORD (or OCIPUSH_REGISTRY_TOKEN) for the registry of the call,
   * then the Docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `auths`,
   * `credsStore`, `credHelpers`). `defaultCredentials({ registry, username, password })` is the
   * CLI's `--username`/`--password-stdin` in front of that chain; `false` is anonymous.
   */
  credentials?: CredentialSource | false;
  /** Speak plain HTTP (automatic for localhost, 127.* and ::1). */
  plainHttp?: boolean;
  /** Accept any TLS certificate, and speak plain HTTP to a registry that speaks no TLS (HTTPS asked first); also allows credentials over plain HTTP to a remote host. */
  insecure?: boolean;
  /** PEM CA certificate(s) to trust besides the system store. */
  caFile?: string | string[];
  /** A directory of `*.crt` CAs and a `NAME.cert`/`NAME.key` client certificate, instead of the registry's certs.d (skopeo's `--cert-dir`). */
  certDir?: string;
  /** Blobs transferred at once (default 4, at most 64). */
  concurrency?: number;
  /** Stops the call: it rejects with an OcipushError of code EABORTED, nothing half-written is kept, and no token request or retry wait of it goes on. */
  signal?: AbortSignal;
  /** Told before a failed request is retried. */
  onRetry?: (notice: RetryNotice) => void;
  /** Milliseconds a registry operation may take with its retries (its token request's too) while nothing moves (default 300 000). */
  timeout?: number;
  /** Milliseconds one request waits for an answer (default 120 000). */
  requestTimeout?: number;
}

export function concurrencyOf(options: RegistryOptions): number {
  const n = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new OcipushError('EUSAGE', `concurrency ${String(n)}: expected a whole number from 1 to 64`);
  return n;
}

/** A client for `registry` set up by the options, as the CLI's flags set one up. */
export async function connectWith(registry: string, options: RegistryOptions, chain: { envCredentials?: boolean } = {}): Promise<RegistryClient> {
  const { connectRegistry } = await import('../registry/connect.js');
  const { lazyDefaultCredentials } = await import('../registry/credentials/lazy.js');
  const concurrency = concurrencyOf(options);
  const env = chain.envCredentials === false ? (await import('../registry/credentials/env.js')).withoutEnvCredentials(process.env) : undefined;
  const credentials = options.credentials === false
    ? { get: async () => undefined }
    : options.credentials ?? lazyDefaultCredentials({ registry, ...(env ? { env } : {}) });
  return connectRegistry(registry, {
    credentials,
    plainHttp: options.plainHttp === true,
    insecure: options.insecure === true,
    allowInsecureBasic: options.insecure === true,
    caFiles: options.caFile === undefined ? [] : [options.caFile].flat(),
    ...(options.certDir !== undefined ? { certDir: options.certDir } : {}),
    connections: concurrency + 2,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    // The call's signal also ends what the client does behind its requests: a token request and its retries.
    ...(options.signal ? { signal: options.signal } : {}),
    timeouts: {
      ...(options.timeout !== undefined ? { operationMs: positiveMs(options.timeout, 'timeout') } : {}),
      ...(options.requestTimeout !== undefined ? { requestMs: positiveMs(options.requestTimeout, 'requestTimeout') } : {}),
    },
  });
}

/**
 * How a call that writes to `ownRegistry` reaches another registry it also writes to
 * (`signatureRepository` on another host): with the call's options, but OCIPUSH_USERNAME/PASSWORD
 * are `ownRegistry`'s alone; the other host gets what `credentials` answers for it, by default
 * its own login in the Docker config.
 */
export function connectorBeside(options: RegistryOptions, ownRegistry: string): (registry: string) => Promise<RegistryClient> {
  return (registry) => connectWith(registry, options, registry === ownRegistry ? {} : { envCredentials: false });
}

/** What a copy's source registry may take of its own, as the CLI's `--src-…` flags: each, when given, instead of the call's. */
export type SourceRegistryOptions = Pick<RegistryOptions, 'credentials' | 'plainHttp' | 'insecure' | 'caFile' | 'certDir'>;

/**
 * How a copy reaches the registries it reads from: with `source`'s options over the call's, and
 * without OCIPUSH_USERNAME/PASSWORD (the destination's, as the CLI's copy takes them). A
 * registry that is the destination's is reached as the destination is: it is the same server.
 */
export function sourceConnector(options: RegistryOptions & { source?: SourceRegistryOptions }, destinationRegistry: string): (registry: string) => Promise<RegistryClient> {
  const source = options.source;
  if (source !== undefined && (typeof source !== 'object' || source === null)) throw new OcipushError('EUSAGE', `\`source\` ${typeof source}: expected an object of registry options (credentials, plainHttp, insecure, caFile, certDir)`);
  for (const name of ['plainHttp', 'insecure'] as const) {
    const value: unknown = source?.[name];
    if (value !== undefined && typeof value !== 'boolean') throw new OcipushError('EUSAGE', `\`source.${name}\` ${JSON.stringify(value)}: expected true or false`);
  }
  const own = { ...options, ...source };
  return (registry) => registry === destinationRegistry ? connectWith(registry, options) : connectWith(registry, own, { envCredentials: false });
}

/**
 * Ends a client's requests when the signal fires (the registry client itself takes no signal):
 * what was in flight fails at once, and libraryCall reports EABORTED. Returns the unhook.
 */
export function abortWith(signal: AbortSignal | undefined, client: RegistryClient): () => void {
  if (!signal) return () => {};
  const onAbort = () => { void client.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * `platform` read as the CLI's `--platform`: `arm64` (Linux's), `linux` (this machine's
 * architecture), `Linux/aarch64`, `linux/arm64/v8` normalised as containerd does, and a typo
 * (`linus/amd64`) refused (EUSAGE) before any request, unless `unlistedPlatform`.
 */
export async function platformOf(options: { platform?: string; unlistedPlatform?: boolean }): Promise<Platform | undefined> {
  if (options.platform === undefined) return undefined;
  const [{ parsePlatform }, { checkPlatform }] = await Promise.all([import('../oci/descriptor.js'), import('../oci/platform-check.js')]);
  return parsePlatform(checkPlatform(options.platform, options.unlistedPlatform)!);
}

/** `platform` where several, comma-separated, are taken (pull, copy), each read as platformOf reads one; `all` is every platform (none listed), as the CLI's `--platform all`. */
export async function platformsOf(options: { platform?: string; unlistedPlatform?: boolean }): Promise<Platform[]> {
  if (options.platform === undefined) return [];
  return (await import('../oci/platform-check.js')).checkPlatformList(options.platform, options.unlistedPlatform);
}

function positiveMs(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new OcipushError('EUSAGE', `${name} ${String(value)}: expected milliseconds, more than 0`);
  return value;
}

/**
 * `layout: 'oci:DIR'`, as the CLI's `--layout oci:DIR` (and skopeo's and oras's users) name a
 * layout: the directory DIR, not one called `oci:DIR` that the next call never reads; a NAME in it
 * (`oci:DIR:NAME`) is the call's `tag`, and a `tag` given too must say the same.
 */
export function layoutOption<O extends { layout?: string; tag?: string }>(call: string, options: O): O {
  const text = options.layout;
  if (text === undefined || !text.startsWith('oci:')) return options;
  const { dir, name } = splitDirAndName(text.slice(4));
  if (name === undefined) return { ...options, layout: dir };
  if (options.tag !== undefined && options.tag !== name) throw new OcipushError('EUSAGE', `${call}: \`layout\` ${text} and \`tag\` ${options.tag}: name the image once`);
  return { ...options, layout: dir, tag: name };
}
