import { inspect } from 'node:util';
import { REDACTED, registerBasic, registerSecret } from '../../redact.js';
import type { Credentials } from './types.js';

/**
 * Credentials whose secrets live in private fields: JSON.stringify, util.inspect, String() and
 * object spread see the username and which secrets are set, never their values.
 */
class SecretCredentials implements Credentials {
  readonly #username?: string;
  readonly #password?: string;
  readonly #identityToken?: string;
  readonly #registryToken?: string;

  constructor(c: Credentials) {
    // Known from now on to everything that shows text (errors, the CLI's output).
    registerBasic(c.username, c.password);
    registerSecret(c.identityToken, c.registryToken);
    this.#username = c.username;
    this.#password = c.password;
    this.#identityToken = c.identityToken;
    this.#registryToken = c.registryToken;
  }

  get username(): string | undefined { return this.#username; }
  get password(): string | undefined { return this.#password; }
  get identityToken(): string | undefined { return this.#identityToken; }
  get registryToken(): string | undefined { return this.#registryToken; }

  toJSON(): Record<string, string> {
    const view: Record<string, string> = {};
    if (this.#username !== undefined) view.username = this.#username;
    if (this.#password !== undefined) view.password = REDACTED;
    if (this.#identityToken !== undefined) view.identityToken = REDACTED;
    if (this.#registryToken !== undefined) view.registryToken = REDACTED;
    return view;
  }

  toString(): string {
    return `Credentials ${JSON.stringify(this.toJSON())}`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export { REDACTED };

/** Wraps credentials so that they can be logged or serialised without leaking a secret. */
export function secretCredentials(c: Credentials): Credentials {
  return c instanceof SecretCredentials ? c : new SecretCredentials(c);
}

export function hasBasic(c: Credentials | undefined): c is Credentials & { username: string; password: string } {
  return c?.username !== undefined && c.username !== '' && c.password !== undefined;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Every string that would give a secret away, including the Basic header form. */
export function secretsOf(c: Credentials | undefined): string[] {
  if (!c) return [];
  const secrets = [c.password, c.identityToken, c.registryToken].filter((s): s is string => !!s);
  if (hasBasic(c) && c.password) secrets.push(basicAuthorization(c.username, c.password).slice(6));
  return secrets;
}

/** Replaces any secret a server might echo back in a message. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets.filter(Boolean).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return out;
}
