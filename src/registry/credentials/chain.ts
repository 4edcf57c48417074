import { inspect } from 'node:util';
import type { Credentials, CredentialSource } from '../auth/types.js';

/** Asks each source in turn; the first that has credentials for the registry wins. */
export function chainCredentials(...sources: CredentialSource[]): CredentialSource {
  return {
    async get(registry: string, repository?: string): Promise<Credentials | undefined> {
      for (const source of sources) {
        const found = await source.get(registry, repository);
        if (found) return found;
      }
      return undefined;
    },
    toString: () => `chainCredentials(${sources.length} sources)`,
    [inspect.custom]: () => `chainCredentials(${sources.length} sources)`,
  } as CredentialSource;
}
