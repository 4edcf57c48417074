import { inspect } from 'node:util';
import { secretCredentials } from '../auth/secret.js';
import type { Credentials, CredentialSource } from '../auth/types.js';
import { sameRegistry } from './registry-key.js';

/** Credentials the user gave on the command line (`--username` + `--password-stdin`), for one registry. */
class StaticCredentials implements CredentialSource {
  readonly #registry: string;
  readonly #credentials: Credentials;

  constructor(registry: string, credentials: Credentials) {
    this.#registry = registry;
    this.#credentials = secretCredentials(credentials);
  }

  async get(registry: string): Promise<Credentials | undefined> {
    return sameRegistry(registry, this.#registry) ? this.#credentials : undefined;
  }

  toJSON(): Record<string, unknown> {
    return { registry: this.#registry, credentials: this.#credentials };
  }

  toString(): string {
    return `staticCredentials(${this.#registry}, ${String(this.#credentials)})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export function staticCredentials(registry: string, credentials: Credentials): CredentialSource {
  return new StaticCredentials(registry, credentials);
}
