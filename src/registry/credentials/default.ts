import { OcipushError } from '../../errors.js';
import type { CredentialSource } from '../auth/types.js';
import { chainCredentials } from './chain.js';
import { dockerConfigCredentials } from './docker-config.js';
import { dockerEnvCredentials } from './docker-env.js';
import { envCredentials } from './env.js';
import { staticCredentials } from './static.js';

export interface DefaultCredentialOptions {
  /** The registry being pushed to or pulled from; flags and environment apply to it only. */
  registry: string;
  /** `--username` */
  username?: string;
  /** From `--password-stdin` (see readPasswordStdin). */
  password?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides `$DOCKER_CONFIG` / `~/.docker`. */
  dockerConfigDir?: string;
}

/** Flags first, then OCIPUSH_USERNAME/OCIPUSH_PASSWORD/OCIPUSH_REGISTRY_TOKEN, then DOCKER_AUTH_CONFIG, then the Docker config. */
export function defaultCredentials(options: DefaultCredentialOptions): CredentialSource {
  const env = options.env ?? process.env;
  const sources: CredentialSource[] = [];
  if (options.username !== undefined || options.password !== undefined) {
    if (!options.username) throw new OcipushError('EUSAGE', '--password-stdin needs --username');
    if (options.password === undefined) throw new OcipushError('EUSAGE', '--username needs a password (--password-stdin)');
    sources.push(staticCredentials(options.registry, { username: options.username, password: options.password }));
  }
  sources.push(envCredentials(options.registry, env));
  sources.push(dockerEnvCredentials(env));
  sources.push(dockerConfigCredentials({ configDir: options.dockerConfigDir, env }));
  return chainCredentials(...sources);
}
