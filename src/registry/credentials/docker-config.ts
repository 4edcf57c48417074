import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { OcipushError, fromSystemError } from '../../errors.js';
import { secretCredentials } from '../auth/secret.js';
import type { Credentials, CredentialSource } from '../auth/types.js';
import { runCredentialHelper } from './helper.js';
import { helperServerUrl, isNamespaced, registryHost } from './registry-key.js';

export interface DockerConfigOptions {
  /** The directory holding config.json; default `$DOCKER_CONFIG`, then `~/.docker`. */
  configDir?: string;
  /** Environment for `$DOCKER_CONFIG`, `$HOME` and the helpers' PATH (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The clock a helper's answer is kept by (milliseconds; default Date.now). */
  now?: () => number;
}

/**
 * How long a credential helper's answer is used again: the lookups of one operation (one per
 * repository it touches) share one run, and a process that keeps the source asks again after it,
 * so a helper's token that expires (gcloud's, ECR's) is never presented long after it was issued.
 */
const HELPER_ANSWER_MS = 60_000;

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

interface DockerConfig {
  auths: Record<string, AuthEntry>;
  /** `~/.dockercfg`: the entries are the whole file, each key a registry (URL or host), never a namespace. */
  legacy?: boolean;
  credsStore?: string;
  credHelpers: Record<string, string>;
}

export function dockerConfigPath(options: DockerConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const dir = options.configDir ?? (env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'));
  return join(dir, 'config.json');
}

/** Docker's file before config.json (1.7): `{"https://index.docker.io/v1/": {"auth": …}}`, no `auths` level. */
export function legacyConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), '.dockercfg');
}

/**
 * Where to look, in order: the Docker config, then the auth files podman, skopeo and buildah
 * write with `login` (same `auths` format), as containers/image reads them: `$REGISTRY_AUTH_FILE`,
 * `$XDG_RUNTIME_DIR/containers/auth.json` (without XDG_RUNTIME_DIR, `/run/containers/<uid>/auth.json`,
 * where skopeo login writes as root in a CI container), `$XDG_CONFIG_HOME/containers/auth.json`
 * (else `~/.config/…`), and last the legacy `~/.dockercfg` (docker before 1.7, still read by
 * containers/image). Only the given directory when one was given.
 */
function configCandidates(options: DockerConfigOptions): string[] {
  const env = options.env ?? process.env;
  const paths = [dockerConfigPath(options)];
  if (options.configDir === undefined) {
    if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
    if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
    else if (typeof process.getuid === 'function') paths.push(join('/run/containers', String(process.getuid()), 'auth.json'));
    paths.push(join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'containers', 'auth.json'));
    paths.push(legacyConfigPath(env));
  }
  return [...new Set(paths)];
}

/**
 * The credentials `docker login` (or `podman login`, `skopeo login`) saved: in each file in turn,
 * `credHelpers` for the registry first, then `credsStore`, then the inline `auths` entry (also used
 * when a helper has nothing for the registry): the most specific of `host/ns/repo`, `host/ns`
 * (podman's and skopeo's namespace-scoped logins, as containers/image matches them), then the
 * registry's own key. The first file with something for the repository answers, so a Docker config kept for other registries does not hide a `skopeo login`. Each file
 * is read once, on first use; a missing file has no credentials.
 */
class DockerConfigCredentials implements CredentialSource {
  readonly #candidates: string[];
  readonly #legacy?: string;
  readonly #env: NodeJS.ProcessEnv;
  #path: string;
  readonly #configs = new Map<string, Promise<DockerConfig | undefined>>();
  readonly #helperAnswers = new Map<string, { answer: Promise<Credentials | undefined>; at: number }>();
  readonly #now: () => number;

  constructor(options: DockerConfigOptions) {
    this.#now = options.now ?? Date.now;
    this.#candidates = configCandidates(options);
    this.#legacy = options.configDir === undefined ? legacyConfigPath(options.env ?? process.env) : undefined;
    this.#path = this.#candidates[0];
    this.#env = options.env ?? process.env;
  }

  async get(registry: string, repository?: string): Promise<Credentials | undefined> {
    return (await this.find(registry, repository))?.credentials;
  }

  /**
   * The credentials for `registry` (and `repository`, when namespace-scoped entries are to be
   * matched) and the file that holds them (the first that has any).
   */
  async find(registry: string, repository?: string): Promise<{ credentials: Credentials; path: string } | undefined> {
    let first: string | undefined;
    for (const path of this.#candidates) {
      let config = this.#configs.get(path);
      if (!config) this.#configs.set(path, config = readDockerConfig(path, this.#legacy === path));
      const loaded = await config;
      if (!loaded) continue;
      first ??= path;
      const credentials = await this.#lookup(loaded, path, registry, repository);
      if (credentials) {
        this.#path = path;
        return { credentials, path };
      }
    }
    if (first !== undefined) this.#path = first;
    return undefined;
  }

  async #lookup(config: DockerConfig, path: string, registry: string, repository: string | undefined): Promise<Credentials | undefined> {
    const host = registryHost(registry);
    const helper = Object.entries(config.credHelpers).find(([key]) => registryHost(key) === host);
    const origin = helper ? `credHelpers["${helper[0]}"] in ${path}` : `credsStore in ${path}`;
    // `"credHelpers": {"HOST": ""}` keeps HOST's login in the file even beside a credsStore, as docker reads it.
    const helperName = helper ? helper[1] : config.credsStore;
    if (helperName) {
      // Helpers hold one secret per registry: the lookups for its repositories share one run,
      // for HELPER_ANSWER_MS.
      const serverUrl = helperServerUrl(registry);
      const asked = `${helperName} ${serverUrl}`;
      const kept = this.#helperAnswers.get(asked);
      let answer = kept && this.#now() - kept.at < HELPER_ANSWER_MS ? kept.answer : undefined;
      if (!answer) {
        const run = runCredentialHelper(helperName, serverUrl, { origin, env: this.#env });
        answer = run;
        this.#helperAnswers.set(asked, { answer: run, at: this.#now() });
        // A helper that failed is asked again by the next lookup.
        run.catch(() => { if (this.#helperAnswers.get(asked)?.answer === run) this.#helperAnswers.delete(asked); });
      }
      const found = await answer;
      if (found) return found;
    }
    return inlineCredentials(config, host, repository, path);
  }

  toJSON(): Record<string, unknown> {
    return { dockerConfig: this.#path };
  }

  toString(): string {
    return `dockerConfigCredentials(${this.#path})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialSource {
  return new DockerConfigCredentials(options);
}

/** The file (Docker config or a containers auth.json) whose login for `registry` would be used; none when no file has one. */
export async function loginFileFor(registry: string, options: DockerConfigOptions = {}, repository?: string): Promise<string | undefined> {
  return (await new DockerConfigCredentials(options).find(registry, repository))?.path;
}

/** The parsed file, or undefined when there is none. */
async function readDockerConfig(path: string, legacy: boolean): Promise<DockerConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw fromSystemError(err, path, 'cannot read Docker config');
  }
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the error, which may be a password.
    throw new OcipushError('EINVALID', `invalid Docker config ${path}: not valid JSON`, { path });
  }
  if (!isObject(parsed)) throw new OcipushError('EINVALID', `invalid Docker config ${path}: not a JSON object`, { path });
  if (legacy) return { auths: parsed as Record<string, AuthEntry>, credHelpers: {}, legacy: true };
  const auths = isObject(parsed.auths) ? (parsed.auths as Record<string, AuthEntry>) : {};
  const credHelpers: Record<string, string> = {};
  if (isObject(parsed.credHelpers)) {
    // An empty name is kept: it takes the registry out of credsStore's hands (docker's getConfiguredCredentialStore).
    for (const [key, name] of Object.entries(parsed.credHelpers)) if (typeof name === 'string') credHelpers[key] = name;
  }
  const credsStore = typeof parsed.credsStore === 'string' && parsed.credsStore ? parsed.credsStore : undefined;
  return { auths, credsStore, credHelpers };
}

/**
 * The `auths` entry for a repository of a host, as containers/image picks it: a namespace-scoped
 * key (`host/ns/repo`, `host/ns`, written by `podman login host/ns`) that holds the repository,
 * the longest first; then the host's exact key; then any key naming the host as a URL
 * (`https://index.docker.io/v1/`, `http://host:5000`, docker's lookup). A namespace-scoped key
 * never answers for the rest of its registry.
 */
function inlineCredentials(config: DockerConfig, host: string, repository: string | undefined, path: string): Credentials | undefined {
  const keys = Object.keys(config.auths);
  if (config.legacy) {
    const key = keys.find((k) => registryHost(k) === host);
    return key === undefined ? undefined : entryCredentials(config, key, path);
  }
  const scoped = keys
    .map((k) => ({ k, namespace: namespaceOf(k, host) }))
    .filter((e): e is { k: string; namespace: string } => e.namespace !== undefined)
    .filter((e) => repository !== undefined && (repository === e.namespace || repository.startsWith(`${e.namespace}/`)))
    .sort((a, b) => b.namespace.length - a.namespace.length);
  for (const { k } of scoped) {
    const found = entryCredentials(config, k, path);
    if (found) return found;
  }
  const key = keys.find((k) => k === host) ?? keys.find((k) => !isNamespaced(k) && registryHost(k) === host);
  return key === undefined ? undefined : entryCredentials(config, key, path);
}

/** The namespace (`team-a/app`) a namespace-scoped key names in `host`; undefined for any other key. */
function namespaceOf(key: string, host: string): string | undefined {
  if (!isNamespaced(key)) return undefined;
  const trimmed = key.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  if (registryHost(trimmed.slice(0, slash)) !== host) return undefined;
  return trimmed.slice(slash + 1);
}

function entryCredentials(config: DockerConfig, key: string, path: string): Credentials | undefined {
  const entry = config.auths[key];
  if (!isObject(entry)) return undefined;
  let username = typeof entry.username === 'string' && entry.username ? entry.username : undefined;
  let password = typeof entry.password === 'string' && entry.password ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new OcipushError('EINVALID', `invalid Docker config ${path}: the "auth" of "${key}" is not base64 of user:password`, { path });
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = typeof entry.identitytoken === 'string' && entry.identitytoken ? entry.identitytoken : undefined;
  const registryToken = typeof entry.registrytoken === 'string' && entry.registrytoken ? entry.registrytoken : undefined;
  if (!username && !password && !identityToken && !registryToken) return undefined;
  const credentials: { username?: string; password?: string; identityToken?: string; registryToken?: string } = {};
  if (username) credentials.username = username;
  if (password) credentials.password = password;
  if (identityToken) credentials.identityToken = identityToken;
  if (registryToken) credentials.registryToken = registryToken;
  return secretCredentials(credentials);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
