import { OcipushError } from '../../errors.js';
import { isLoopbackRegistry } from '../../oci/reference.js';

/**
 * Secrets (a password, a refresh token, a registry token) only travel over HTTPS, or over plain
 * HTTP to this machine, unless the user forced it: a plain-HTTP hop to another host exposes
 * them to everyone on the path.
 */
export function maySendSecrets(url: URL, allowInsecure: boolean): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (allowInsecure || isLoopbackRegistry(url.host));
}

export function assertMaySendSecrets(url: URL, allowInsecure: boolean, what: string): void {
  if (maySendSecrets(url, allowInsecure)) return;
  throw new OcipushError(
    'EAUTH',
    `refusing to send credentials to ${what} over plain HTTP (${url.host} is not loopback); use HTTPS, or --insecure to allow it`,
    { host: url.host },
  );
}

const LOGIN_HINT = 'use --username/--password-stdin, OCIPUSH_USERNAME/OCIPUSH_PASSWORD, or docker login';

/**
 * No credentials for a registry that asked for them. Where the anonymous token refused only reads
 * (Docker Hub, ghcr: anonymous users pull public repositories), a mistyped name and a private
 * repository look the same: both are named, as docker names them ("does not exist or may require
 * 'docker login'"). A request that writes needs credentials whatever the repository: that alone is said.
 */
export function noCredentialsError(registry: string, scopes: string[] = []): OcipushError {
  const read = readOnlyRepository(scopes);
  if (read !== undefined) {
    return new OcipushError(
      'EAUTH',
      `${registry}/${read}: no such repository, or it is private and needs credentials (none given: ${LOGIN_HINT})`,
      { registry, repository: read },
    );
  }
  return new OcipushError('EAUTH', `authentication required by ${registry}: no credentials (${LOGIN_HINT})`, { registry });
}

/** The repository scopes that ask only to pull name (`repository:team/app:pull`); undefined when any asks more, or none is given. */
export function readOnlyRepository(scopes: string[]): string | undefined {
  const all = scopes.flatMap((s) => s.split(' ')).filter(Boolean);
  const parsed = all.map((s) => /^repository(?:\([^)]*\))?:([^:]+):([^:]*)$/.exec(s));
  if (parsed.length === 0 || parsed.some((m) => m === null || m[2].split(',').some((a) => a !== 'pull'))) return undefined;
  return parsed[0]![1];
}
