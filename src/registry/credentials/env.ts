import { OcipushError } from '../../errors.js';
import type { Credentials, CredentialSource } from '../auth/types.js';
import { staticCredentials } from './static.js';

export const ENV_USERNAME = 'OCIPUSH_USERNAME';
export const ENV_PASSWORD = 'OCIPUSH_PASSWORD';
/** A bearer token sent to the registry as is (a CI job token, for example). */
export const ENV_REGISTRY_TOKEN = 'OCIPUSH_REGISTRY_TOKEN';

/**
 * Credentials from the environment, for the registry being pushed to only: a variable set for
 * one registry must not be handed to another (a mount source, a base image's registry).
 * The variables are read when the source is made, so later changes to `env` do not matter.
 */
export function envCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const username = env[ENV_USERNAME] || undefined;
  const password = env[ENV_PASSWORD];
  const registryToken = env[ENV_REGISTRY_TOKEN] || undefined;
  if (username !== undefined && password === undefined) {
    const fail = new OcipushError('EUSAGE', `${ENV_USERNAME} is set but ${ENV_PASSWORD} is not`);
    return { get: async () => { throw fail; } };
  }
  if (username === undefined && password !== undefined && !registryToken) {
    const fail = new OcipushError('EUSAGE', `${ENV_PASSWORD} is set but ${ENV_USERNAME} is not`);
    return { get: async () => { throw fail; } };
  }
  const credentials: Credentials = {};
  if (username !== undefined) Object.assign(credentials, { username, password });
  if (registryToken) Object.assign(credentials, { registryToken });
  if (Object.keys(credentials).length === 0) return { get: async () => undefined };
  return staticCredentials(registry, credentials);
}

/**
 * `env` without the variables above: for a client of another registry than the one they are for
 * (the registry a base layer is read from, a copy's source), whose own login is in the Docker config.
 */
export function withoutEnvCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [ENV_USERNAME]: _u, [ENV_PASSWORD]: _p, [ENV_REGISTRY_TOKEN]: _t, ...rest } = env;
  return rest;
}
