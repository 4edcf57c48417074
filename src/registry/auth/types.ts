import type { Dispatcher } from 'undici';
import type { RetryPolicy } from '../retry.js';

/**
 * What a user gave to authenticate to one registry. Objects made by `secretCredentials()` keep
 * the secrets out of JSON, inspect and toString; spreading them (`{...creds}`) drops the secrets.
 */
export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), traded at the token realm for access tokens. */
  readonly identityToken?: string;
  /** A bearer token sent to the registry as is (docker's `registrytoken`). */
  readonly registryToken?: string;
}

export interface CredentialSource {
  /**
   * `registry` is the host[:port] of a reference (`docker.io` for Docker Hub); `repository` the
   * repository a request is for (`team-a/app`), when it is for one, so that a source may answer
   * with credentials scoped to a namespace (podman's `auths["quay.io/team-a"]`). Undefined when
   * this source has nothing for it.
   */
  get(registry: string, repository?: string): Promise<Credentials | undefined>;
}

export interface AuthOptions {
  /** host[:port] as in the reference; `docker.io` for Docker Hub. */
  registry: string;
  credentials: CredentialSource;
  /** Used for token requests (connection pool, TLS options such as a CA file). */
  dispatcher?: Dispatcher;
  /** The registry is spoken to over plain HTTP. */
  plainHttp: boolean;
  /** Allows Basic credentials over plain HTTP to a host that is not loopback (a forced, insecure choice). */
  allowInsecureBasic?: boolean;
  userAgent?: string;
  /** Milliseconds clock; tests move it to expire tokens. */
  now?: () => number;
  /** How a token request that failed for a while (429, 5xx, a dropped connection) is tried again: the registry client's policy. */
  retry?: RetryPolicy;
  /** Told before each retry of a token request. */
  onRetry?: (notice: { op: string; attempt: number; delayMs: number; reason: string }) => void;
  /** Waits before a retry (tests count the waits instead of sleeping). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops token requests and the waits between their retries (the client closed, the caller's call cancelled): EABORTED. */
  signal?: AbortSignal;
}
