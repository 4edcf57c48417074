import { readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { OcipushError, fromSystemError, fromWriteError } from '../../errors.js';
import { makeDirectory, readTextIfPresent, writeFileAtomic } from '../../content/atomic.js';
import { dockerConfigPath } from './docker-config.js';
import { helperTimeout, runHelperProcess } from './helper.js';
import { HUB_SERVER_URL, helperServerUrl, isRegistryKey, registryHost } from './registry-key.js';

/**
 * `docker login` / `docker logout` on the file docker, podman, crane and skopeo read:
 * `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`). A registry named in `credHelpers`,
 * else a `credsStore`, keeps its secret in that helper (`docker-credential-NAME store|erase`, the
 * secret on the helper's stdin, never in its arguments), with an empty `auths` entry beside it as
 * docker writes; otherwise the `auths` entry holds base64 `user:password`. Every other field of
 * the file is kept as it was.
 */
export interface StoreOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides `$DOCKER_CONFIG` / `~/.docker`. */
  configDir?: string;
  /**
   * A namespace of the registry (`team-a`, `team-a/app`): the login is for the repositories under
   * it only, kept under `auths["host/namespace"]` as `podman login host/namespace` keeps it.
   */
  namespace?: string;
}

export interface StoreResult {
  /** Where the secret went: the config file, or `docker-credential-NAME`. */
  where: string;
  path: string;
}

type ConfigFile = Record<string, unknown> & { auths?: Record<string, unknown>; credsStore?: unknown; credHelpers?: Record<string, unknown> };

export async function storeCredentials(registry: string, username: string, password: string, options: StoreOptions = {}): Promise<StoreResult> {
  const path = dockerConfigPath({ configDir: options.configDir, env: options.env });
  const helper = helperFor(await readConfig(path), registry);
  const auth = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  if (options.namespace !== undefined) {
    const scoped = namespaceKey(registry, options.namespace);
    if (helper) {
      // A helper keeps one secret per registry (containers/image refuses the same way); the file is not where the user keeps secrets.
      throw new OcipushError('EUNSUPPORTED', `cannot store a login for ${scoped}: ${path} keeps ${registryHost(registry)}'s logins in docker-credential-${helper}, which holds one per registry (log in to ${registryHost(registry)} instead)`, { path, helper: `docker-credential-${helper}` });
    }
    await editConfig(path, (auths) => {
      for (const k of Object.keys(auths)) if (sameKey(k, scoped)) delete auths[k];
      auths[scoped] = auth;
      return true;
    });
    return { where: path, path };
  }
  const key = helperServerUrl(registry);
  // The helper first, outside the file's lock: it may wait on a keyring for as long as its timeout.
  if (helper) await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: password }), options.env);
  await editConfig(path, (auths) => {
    // The registry's own keys only: a namespace-scoped login (podman login host/ns) is another login.
    for (const k of Object.keys(auths)) if (isRegistryKey(k, registry)) delete auths[k];
    auths[key] = helper ? {} : auth;
    return true;
  });
  return { where: helper ? `docker-credential-${helper}` : path, path };
}

/** Forgets the registry's credentials; false when there were none. */
export async function eraseCredentials(registry: string, options: StoreOptions = {}): Promise<boolean> {
  const path = dockerConfigPath({ configDir: options.configDir, env: options.env });
  const config = await readConfig(path);
  const namespace = options.namespace;
  const matches = (k: string) => (namespace === undefined ? isRegistryKey(k, registry) : sameKey(k, namespaceKey(registry, namespace)));
  const inFile = Object.keys(isObject(config.auths) ? config.auths : {}).some(matches);
  let found = inFile;
  // A namespace's login is only ever in the file.
  const helper = namespace === undefined ? helperFor(config, registry) : undefined;
  if (helper) {
    const [key, ...older] = helperKeys(registry);
    found = (await runHelper(helper, 'erase', key, options.env, true)) || found;
    // The older forms are a courtesy: a helper that refuses a URL it never stores (ecr-login, one that wants https) fails no logout.
    for (const serverUrl of older) found = (await runHelper(helper, 'erase', serverUrl, options.env, true).catch(() => false)) || found;
  }
  // Without an entry to remove the file is not written, nor locked: a read-only config can still log out of its helper.
  if (inFile) {
    await editConfig(path, (auths) => {
      const keys = Object.keys(auths).filter(matches);
      for (const k of keys) delete auths[k];
      return keys.length > 0;
    });
  }
  return found;
}

/**
 * What a helper may hold the registry's login under: the key login stores, and for a registry
 * other than Hub the `https://HOST` and `http://HOST` that older docker and other tools stored
 * (docker login https://HOST), which helpers such as osxkeychain and wincred still answer HOST's
 * lookups with; docker logout erases the same three.
 */
function helperKeys(registry: string): string[] {
  const key = helperServerUrl(registry);
  return key === HUB_SERVER_URL ? [key] : [key, `https://${key}`, `http://${key}`];
}

/**
 * Reads the file, lets `edit` change its `auths` (a copy) and writes it back when `edit` says it
 * changed, under a lock beside the file: two logins at once (parallel CI jobs sharing a home, a
 * script logging in to several registries in the background) would otherwise each write back the
 * file as it was before the other's entry, and one login would be lost.
 */
async function editConfig(path: string, edit: (auths: Record<string, unknown>) => boolean): Promise<void> {
  await makeDirectory(dirname(path), 'cannot create', 0o700);
  const target = await linkTarget(path);
  if (target !== path) await makeDirectory(dirname(target), 'cannot create', 0o700);
  const { withLock } = await import('../../content/lock.js');
  const lockPath = join(dirname(target), `.${basename(target)}.lock`);
  await withLock(lockPath, async () => {
    const config = await readConfig(target);
    const auths = { ...(isObject(config.auths) ? config.auths : {}) };
    if (!edit(auths)) return;
    await writeFileAtomic(target, `${JSON.stringify({ ...config, auths }, null, '\t')}\n`, undefined, 0o600, await ownerToKeep(target));
  }).catch((err: unknown) => {
    // A directory that cannot take the lock (read-only, not the user's) cannot take the file either: name the file.
    if (err instanceof OcipushError && err.code === 'EIO' && err.details.path === lockPath) throw fromWriteError(err.details.cause, target);
    throw err;
  });
}

/**
 * The owner of the file being replaced, when this process is root and it is someone else's
 * (`sudo ocipush login` with the user's HOME or DOCKER_CONFIG): the new file is given to them, as
 * docker's Save does, or their own docker, crane and skopeo could no longer read their logins.
 */
async function ownerToKeep(path: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const st = await stat(path).catch(() => undefined);
  return st && (st.uid !== 0 || st.gid !== 0) ? { uid: st.uid, gid: st.gid } : undefined;
}

/** `host/namespace`, the key podman writes (`docker.io/library` for Docker Hub). */
function namespaceKey(registry: string, namespace: string): string {
  return `${registryHost(registry)}/${namespace}`;
}

/** The same key but for case of the host and trailing slashes. */
function sameKey(key: string, wanted: string): boolean {
  const norm = (k: string) => {
    const trimmed = k.trim().replace(/\/+$/, '');
    const slash = trimmed.indexOf('/');
    return slash < 0 ? registryHost(trimmed) : `${registryHost(trimmed.slice(0, slash))}${trimmed.slice(slash)}`;
  };
  return norm(key) === norm(wanted);
}

function helperFor(config: ConfigFile, registry: string): string | undefined {
  const host = registryHost(registry);
  if (isObject(config.credHelpers)) {
    // An empty name keeps the registry in the file, whatever credsStore says (as docker login stores it).
    for (const [k, name] of Object.entries(config.credHelpers)) if (registryHost(k) === host && typeof name === 'string') return name || undefined;
  }
  return typeof config.credsStore === 'string' && config.credsStore ? config.credsStore : undefined;
}

async function readConfig(path: string): Promise<ConfigFile> {
  const text = await readTextIfPresent(path, 'cannot read Docker config');
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OcipushError('EINVALID', `invalid Docker config ${path}: not valid JSON`, { path });
  }
  if (!isObject(parsed)) throw new OcipushError('EINVALID', `invalid Docker config ${path}: not a JSON object`, { path });
  return parsed as ConfigFile;
}

/**
 * The file a config path stands for: a symlink (dotfiles kept elsewhere, a shared config) is
 * followed, dangling or not, as docker's Save does, so the new file replaces its target and the
 * link stays.
 */
async function linkTarget(path: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = await readlink(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return current; // not a link, or nothing there yet
      throw fromSystemError(err, current, 'cannot read Docker config');
    }
    current = resolve(dirname(current), link);
  }
  throw new OcipushError('EINVALID', `invalid Docker config ${path}: too many levels of symbolic links`, { path });
}

/**
 * Runs `docker-credential-NAME action` with `input` on stdin, bounded as a lookup is (a helper
 * waiting on a locked keyring must not hang login); `notFoundOk` turns "credentials not found" into false.
 */
async function runHelper(name: string, action: 'store' | 'erase', input: string, env: NodeJS.ProcessEnv | undefined, notFoundOk = false): Promise<boolean> {
  const program = `docker-credential-${name}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new OcipushError('EAUTH', `invalid credential helper name "${name}"`);
  const timeoutMs = helperTimeout({ env });
  const result = await runHelperProcess(program, action, input, env ?? process.env, timeoutMs);
  if (result.spawnError) {
    const err = result.spawnError as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'is not installed (not found on PATH)' : `cannot be run: ${err.code ?? err.message}`;
    throw new OcipushError('EAUTH', `docker credential helper ${program} ${why}`, { helper: program });
  }
  if (result.timedOut) {
    throw new OcipushError('EAUTH', `docker credential helper ${program} ${action} did not answer within ${timeoutMs / 1000}s`, { helper: program });
  }
  if (result.code === 0) return true;
  const line = `${result.stdout}\n${result.stderr}`.split('\n').map((l) => l.trim()).find(Boolean) ?? `exit code ${result.code}`;
  if (notFoundOk && /not found/i.test(line)) return false;
  // The helper's own words, never its input (which held the secret).
  throw new OcipushError('EAUTH', `docker credential helper ${program} ${action} failed: ${line.slice(0, 200)}`, { helper: program });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
