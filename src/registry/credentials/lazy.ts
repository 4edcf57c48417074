import type { CredentialSource } from '../auth/types.js';
import type { DefaultCredentialOptions } from './default.js';

/**
 * `defaultCredentials`, loaded when a registry first asks for credentials (a 401): a push to a
 * registry that never asks does not load the chain, the Docker config reader and its helpers'
 * process spawning. The environment is taken as it is now, as the chain itself would take it.
 * Callers check the flags (`--username` without `--password-stdin`) before making one.
 */
export function lazyDefaultCredentials(options: DefaultCredentialOptions): CredentialSource {
  const settled: DefaultCredentialOptions = { ...options, env: options.env ?? { ...process.env } };
  let source: Promise<CredentialSource> | undefined;
  return {
    async get(registry: string, repository?: string) {
      source ??= import('./default.js').then((m) => m.defaultCredentials(settled));
      return (await source).get(registry, repository);
    },
    toString: () => 'lazyDefaultCredentials()',
  } as CredentialSource;
}
