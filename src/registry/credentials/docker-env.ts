import { inspect } from 'node:util';
import { OcipushError } from '../../errors.js';
import { secretCredentials } from '../auth/secret.js';
import type { Credentials, CredentialSource } from '../auth/types.js';
import { isRegistryKey } from './registry-key.js';

export const ENV_DOCKER_AUTH_CONFIG = 'DOCKER_AUTH_CONFIG';

/**
 * `DOCKER_AUTH_CONFIG`: a Docker config's `{"auths": {"host": {"auth": "<base64 user:password>"}}}`
 * in one variable (GitLab CI's variable of that name; the docker CLI reads it too since 28, in
 * front of config.json and its helpers). Keys name a registry (a host, or docker's Hub URL), never
 * a namespace. The variable is read when the source is made; it is parsed, and one that is not
 * JSON reported, only when a registry asks for credentials.
 */
export function dockerEnvCredentials(env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const text = env[ENV_DOCKER_AUTH_CONFIG];
  if (!text || text.trim() === '') return { get: async () => undefined };
  let auths: Map<string, Credentials> | undefined;
  const source = {
    async get(registry: string): Promise<Credentials | undefined> {
      auths ??= parse(text);
      for (const [key, credentials] of auths) if (isRegistryKey(key, registry)) return credentials;
      return undefined;
    },
    toString: () => `dockerEnvCredentials(${ENV_DOCKER_AUTH_CONFIG})`,
    [inspect.custom]: () => `dockerEnvCredentials(${ENV_DOCKER_AUTH_CONFIG})`,
  };
  return source as CredentialSource;
}

function parse(text: string): Map<string, Credentials> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never the parser's message: it quotes the text, which holds passwords.
    throw new OcipushError('EINVALID', `invalid ${ENV_DOCKER_AUTH_CONFIG}: not valid JSON (expected {"auths": {"HOST": {"auth": "BASE64"}}})`);
  }
  const auths = isObject(parsed) && isObject(parsed.auths) ? parsed.auths : {};
  const found = new Map<string, Credentials>();
  // What docker cannot use (GitLab's credHelpers form, an entry without "auth") is left to the
  // Docker config, as docker falls back to its store.
  for (const [key, entry] of Object.entries(auths)) {
    const auth = isObject(entry) && typeof entry.auth === 'string' ? entry.auth : '';
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) found.set(key, secretCredentials({ username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }));
  }
  return found;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
