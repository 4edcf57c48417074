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

export function noCredentialsError(registry: string): OcipushError {
  return new OcipushError(
    'EAUTH',
    `authentication required by ${registry}: no credentials (use --username/--password-stdin, OCIPUSH_USERNAME/OCIPUSH_PASSWORD, or docker login)`,
    { registry },
  );
}
